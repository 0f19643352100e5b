"""aqb benchmark: CLI start and transition throughput, each beside its floor.

Run: ``make bench`` (full) or ``make bench QUICK=1``. Writes bench/results.json and prints a
table. A benchmark, not a test: it never fails because something is slow.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import measure_scale, scale_table
from sqlite_floor import FloorRunner
from startup import measure_startup
from throughput import AqbRunner, reminders_after_fire, seed_agreements
from workspace import Workspace, clone_workspace, content_digest, migrated_workspace

from aqb_workflow.errors import AqbError
from aqb_workflow.verify import verify

RESULTS = Path(__file__).resolve().parent / "results.json"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Fewer runs and transitions.")
    parser.add_argument("--runs", type=int, help="Processes per start-time median (15; quick 5).")
    parser.add_argument("--transitions", type=int, help="Agreements fired (5000; quick 500).")
    parser.add_argument("--rounds", type=int, default=10, help="Alternations aqb/floor (10).")
    parser.add_argument("--output", type=Path, default=RESULTS, help="Where results go.")
    parser.add_argument(
        "--skip-scale", action="store_true", help="Leave out the scale points (1k/10k/100k)."
    )
    return parser.parse_args(argv)


def chunks(keys: Sequence[str], count: int) -> list[Sequence[str]]:
    size = -(-len(keys) // max(count, 1))
    return [keys[i : i + size] for i in range(0, len(keys), size)]


def measure_transitions(root: Path, count: int, rounds: int) -> dict[str, Any]:
    """Fire sign_ministry on ``count`` agreements via aqb and via the floor, alternating."""
    aqb_ws = migrated_workspace(root / "aqb")
    keys = seed_agreements(aqb_ws, count)
    floor_ws = clone_workspace(aqb_ws, root / "floor")
    aqb = AqbRunner(aqb_ws)
    floor = FloorRunner(floor_ws.database, floor_ws.anchor, reminders_after_fire(aqb_ws, keys))
    try:
        for index, chunk in enumerate(chunks(keys, rounds)):
            runners = (aqb, floor) if index % 2 == 0 else (floor, aqb)
            for runner in runners:
                runner.fire(chunk)
    finally:
        aqb.close()
        floor.close()
    aqb_rate = aqb.done / aqb.seconds
    floor_rate = floor.done / floor.seconds
    return {
        "transitions": count,
        "rounds": rounds,
        "transition_per_s": aqb_rate,
        "sqlite_floor_per_s": floor_rate,
        "transition_ratio": aqb_rate / floor_rate,
        "transition_ms": 1000 / aqb_rate,
        "sqlite_floor_ms": 1000 / floor_rate,
        "floor_anchor_ms": 1000 * floor.anchor_seconds / floor.done,
        "floor_without_anchor_per_s": floor.done / (floor.seconds - floor.anchor_seconds),
        "floor_matches_aqb": same_contents(aqb_ws, floor_ws),
        "audit_verified": audit_ok(aqb_ws) and audit_ok(floor_ws),
    }


def same_contents(one: Workspace, other: Workspace) -> bool:
    """Both sides did the same writes: equal database contents and equal anchors."""
    same_anchor = one.anchor.read_bytes() == other.anchor.read_bytes()
    return same_anchor and content_digest(one.database) == content_digest(other.database)


def audit_ok(workspace: Workspace) -> bool:
    """``aqb audit verify`` on the result: both databases hold a valid, anchored chain."""
    app = workspace.app()
    try:
        return not verify(app).warnings
    except AqbError:
        return False
    finally:
        app.db.dispose()


def environment(quick: bool) -> dict[str, Any]:
    return {
        "quick": quick,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "date": datetime.now(UTC).date().isoformat(),
        "tempdir": tempfile.gettempdir(),
        "loadavg_1m": os.getloadavg()[0],
    }


def ratios(results: dict[str, Any]) -> dict[str, float]:
    floor = results["import_floor_ms"]
    return {
        "help_vs_import": results["help_ms"] / floor,
        "help_module_vs_import": results["help_module_ms"] / floor,
        "list_vs_import": results["list_ms"] / floor,
    }


def ms(results: dict[str, Any], name: str) -> str:
    """Median and, in brackets, the best run."""
    return f"{results[name + '_ms']:.0f} ms (best {results[name + '_best_ms']:.0f})"


def verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


Row = tuple[str, str, str, str]


def startup_rows(r: dict[str, Any]) -> list[Row]:
    help_ok = r["help_vs_import"] <= 0.5
    return [
        ("python -c pass", ms(r, "python_floor"), "", ""),
        ("import sqlmodel, transitions", ms(r, "import_floor"), "floor", ""),
        (
            "aqb --help",
            ms(r, "help"),
            f"{r['help_vs_import']:.2f}x; <= 0.5x",
            verdict(help_ok),
        ),
        (
            "python -m aqb_workflow --help",
            ms(r, "help_module"),
            f"{r['help_module_vs_import']:.2f}x",
            "",
        ),
        (
            f"aqb list --json ({r['list_agreements']})",
            ms(r, "list"),
            f"{r['list_vs_import']:.2f}x; <= 1.3x",
            verdict(r["list_vs_import"] <= 1.3),
        ),
        (
            "--help imports sqlalchemy",
            str(r["help_imports_sqlalchemy"]),
            "must be False",
            verdict(not r["help_imports_sqlalchemy"]),
        ),
    ]


def transition_rows(r: dict[str, Any]) -> list[Row]:
    n = r["transitions"]
    return [
        (
            f"plain sqlite3 floor ({n})",
            f"{r['sqlite_floor_per_s']:.0f} /s",
            f"{r['sqlite_floor_ms']:.2f} ms each",
            "",
        ),
        (
            "  of which the anchor write",
            f"{r['floor_anchor_ms']:.2f} ms each",
            f"without it: {r['floor_without_anchor_per_s']:.0f} /s",
            "",
        ),
        (
            f"services.fire ({n})",
            f"{r['transition_per_s']:.0f} /s",
            f"{r['transition_ratio']:.2f}x; >= 0.5x ({r['transition_ms']:.2f} ms each)",
            verdict(r["transition_ratio"] >= 0.5),
        ),
    ]


def table(r: dict[str, Any]) -> str:
    header: Row = ("measure", "result", "beside the floor; target", "met")
    rows = [header, *startup_rows(r), *transition_rows(r)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    rows.insert(1, tuple("-" * w for w in widths))  # type: ignore[arg-type]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    checks = (
        f"same writes as the floor: {r['floor_matches_aqb']}; audit verify: {r['audit_verified']}"
    )
    load = f"load average at start: {r['loadavg_1m']:.2f} on {r['cpus']} CPUs"
    return "\n".join([*lines, "", checks, load])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    runs = args.runs or (5 if args.quick else 15)
    count = args.transitions or (500 if args.quick else 5000)
    results: dict[str, Any] = environment(args.quick)
    with tempfile.TemporaryDirectory(prefix="aqb-bench-") as tmp:
        root = Path(tmp)
        print(f"start times: median of {runs} processes each …", flush=True)
        results |= measure_startup(migrated_workspace(root / "list"), runs)
        print(f"transitions: {count} through services.fire and the sqlite3 floor …", flush=True)
        results |= measure_transitions(root, count, args.rounds)
        if not args.skip_scale:
            print("scale: generated databases, each size in turn …", flush=True)
            results |= measure_scale(root, args.quick, runs=3 if args.quick else 5)
    results |= ratios(results)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(table(results))
    if "scale" in results:
        print()
        print(scale_table(results["scale"]))
    print(f"\nwritten: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
