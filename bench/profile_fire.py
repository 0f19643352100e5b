"""Where a transition's time goes: cProfile over N ``services.fire`` calls (default 300).

Run: ``.venv/bin/python bench/profile_fire.py [N] [--sort cumulative|tottime] [--top 40]``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import AqbRunner, seed_agreements
from workspace import migrated_workspace


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=300)
    parser.add_argument("--sort", default="cumulative", choices=("cumulative", "tottime"))
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=20, help="Fires before profiling.")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aqb-profile-") as tmp:
        workspace = migrated_workspace(Path(tmp) / "aqb")
        keys = seed_agreements(workspace, args.warmup + args.count)
        runner = AqbRunner(workspace)
        try:
            runner.fire(keys[: args.warmup])
            profile = cProfile.Profile()
            profile.enable()
            runner.fire(keys[args.warmup :])
            profile.disable()
        finally:
            runner.close()
    stats = pstats.Stats(profile)
    stats.strip_dirs().sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
