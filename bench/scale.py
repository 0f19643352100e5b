"""Scale: databases of 1k, 10k and 100k agreements (10 audit events each), generated here.

At each size the bench times what staff and the daemon read (``aqb list --year --state``,
``aqb history``, ``aqb reminders list --due`` as whole processes, and the queries behind them
in-process), the daemon's due-reminder query, ``aqb audit verify`` (full, then incremental
after one more day's work), and the daemon's memory (RSS after several passes). Every size has
the same number of rows to return, so a figure that grows with the size grows with the
database, not with the answer.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event
from startup import AQB, clean_env
from workspace import MINISTRY, Workspace, migrated_workspace

from aqb_workflow import services
from aqb_workflow.domain.audit import AuditRecord, Head, canonical_json, compute_hash
from aqb_workflow.domain.formats import format_utc
from aqb_workflow.store import outbox, queries
from aqb_workflow.store.outbox import message_id
from aqb_workflow.testing import FixedClock

EVENTS_PER_AGREEMENT = 10
DUE_NOW = 20  # pending reminders due at every size: the daemon's work is the same
FIRST_YEAR = 2024
QUERY_YEAR = FIRST_YEAR
QUERY_STATE = "notice_issued"
LIFE = (  # trigger, state reached, fields recorded
    ("created", "drafted", {}),
    ("sign_ministry", "signed_by_ministry", {"ministry_signed_on": "{y}-07-01"}),
    ("sign_district", "signed_by_district", {"district_signed_on": "{y}-07-15"}),
    ("issue_notice", "notice_issued", {"notice_issued_on": "{y}-08-01", "notice_ref": "AQB"}),
    ("schedule_review", "autumn_review", {"review_at": "{y}-10-15T10:00:00"}),
    ("close", "closed", {"review_held_on": "{y}-10-15"}),
)
REMINDER_KINDS = ("application_due", "district_signature_pending", "notice_pending")


@dataclass(frozen=True)
class Point:
    name: str
    agreements: int


def points(quick: bool) -> list[Point]:
    sizes = (200, 1_000, 5_000) if quick else (1_000, 10_000, 100_000)
    return [Point(n, s) for n, s in zip(("small", "medium", "large"), sizes, strict=True)]


# -- generating a database ----------------------------------------------------------------------


def steps_for(index: int) -> int:
    """How far agreement ``index`` got: six in ten closed, the rest spread over the way."""
    return len(LIFE) if index % 10 < 6 else 1 + (index // 10 + index) % 5


def generate(workspace: Workspace, count: int, now: datetime) -> dict[str, Any]:
    """``count`` agreements with ``EVENTS_PER_AGREEMENT`` chained audit events each.

    Written with plain sqlite3 in one transaction, the events hashed with aqb's own
    ``compute_hash`` so ``aqb audit verify`` accepts the chain; the anchor is moved to its head.
    Reminders: one sent reminder per ``reminder_sent`` event, one pending reminder per open
    agreement, of which ``DUE_NOW`` are due (the rest are months away).
    """
    app = workspace.app()
    slugs = [e.slug for e in app.registry if e.valid_in(FIRST_YEAR)]
    app.db.dispose()
    conn = sqlite3.connect(workspace.database, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    chain = conn.execute("SELECT value FROM meta WHERE key = 'chain_id'").fetchone()[0]
    stamp = format_utc(now - timedelta(days=1))
    head = Head()
    agreements: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    reminders: list[tuple[Any, ...]] = []
    conn.execute("BEGIN")
    reminder_id = 0
    due_left = DUE_NOW
    keys = []
    for index in range(count):
        year = FIRST_YEAR + index // len(slugs)
        district = slugs[index % len(slugs)]
        key = f"{year}-{district}"
        keys.append(key)
        reached = steps_for(index)
        fields: dict[str, Any] = {}
        state = "drafted"
        version = 0
        seq_events = []
        for step, (trigger, to_state, recorded) in enumerate(LIFE[:reached]):
            changes = {k: v.format(y=year) for k, v in recorded.items()}
            fields.update(changes)
            payload = (
                {"year": year, "district": district, "budget_cents": 126_680_000}
                if step == 0
                else changes
            )
            seq_events.append((trigger, None if step == 0 else state, to_state, payload))
            state = to_state
            version += 1
        for number in range(EVENTS_PER_AGREEMENT - reached):
            reminder_id += 1
            kind = REMINDER_KINDS[number % len(REMINDER_KINDS)]
            identity = f"{key}|{kind}|{number}"
            reminders.append(_reminder(reminder_id, identity, key, kind, stamp, "sent"))
            payload = {"reminder": reminder_id, "kind": kind, "attempt": 1, "to": ["district"]}
            seq_events.append(("reminder_sent", None, None, payload))
        if state != "closed":
            reminder_id += 1
            due = stamp if due_left > 0 else format_utc(now + timedelta(days=120))
            due_left -= 1
            identity = f"{key}|notice_pending|open"
            reminders.append(
                _reminder(reminder_id, identity, key, "notice_pending", due, "pending")
            )
        agreements.append(
            (key, year, district, 126_680_000, state, version, canonical_json(fields), stamp)
        )
        for name, from_state, to_state, payload in seq_events:
            record = AuditRecord(
                seq=head.seq + 1,
                agreement=key,
                at=stamp,
                actor="system" if name == "reminder_sent" else MINISTRY.display,
                role="system" if name == "reminder_sent" else "ministry",
                event=name,
                from_state=from_state,
                to_state=to_state,
                comment=None,
                payload=canonical_json(payload),
                prev_hash=head.hash,
                hash="",
            )
            digest = compute_hash(record.content(), head.hash)
            events.append((*record.content(), head.hash, digest))
            head = Head(record.seq, digest)
        if len(events) >= 100_000:  # written in slices: memory stays flat at any size
            flush(conn, agreements, events, reminders)
    flush(conn, agreements, events, reminders)
    conn.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (head.seq, head.hash))
    conn.executemany(
        "INSERT INTO contact (district, role, name, email) VALUES (?, ?, ?, ?)",
        [(None, "ministry_desk", "AQB-Referat", "aqb@hmsi.example")]
        + [(s, "district", f"AQB {s}", f"aqb@{s}.example") for s in slugs],
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    app = workspace.app()
    try:
        app.anchor.write(chain, head)
    finally:
        app.db.dispose()
    return {
        "agreements": count,
        "events": head.seq,
        "reminders": reminder_id,
        "database_mb": workspace.database.stat().st_size / 1e6,
        "keys": keys,
    }


def flush(
    conn: sqlite3.Connection,
    agreements: list[tuple[Any, ...]],
    events: list[tuple[Any, ...]],
    reminders: list[tuple[Any, ...]],
) -> None:
    """Insert what was generated so far and empty the lists."""
    conn.executemany(
        "INSERT INTO agreement (key, year, district, budget_cents, state, version, data, "
        "created_at, updated_at, state_entered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(*a, a[-1], a[-1]) for a in agreements],
    )
    conn.executemany(
        "INSERT INTO audit_event (seq, agreement, at, actor, role, event, from_state, to_state, "
        "comment, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        events,
    )
    conn.executemany(
        "INSERT INTO reminder (id, identity, agreement, kind, recipients, due_at, "
        "next_attempt_at, status, attempts, message_id, occurrence, max_occurrences, invite, "
        "invite_sequence, late, created_at, finished_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1, 'none', 0, 0, ?, ?)",
        reminders,
    )
    for generated in (agreements, events, reminders):
        generated.clear()


def _reminder(
    rid: int, identity: str, key: str, kind: str, at: str, status: str
) -> tuple[Any, ...]:
    finished = at if status == "sent" else None
    attempts = 1 if status == "sent" else 0
    recipients = json.dumps(["district"])
    mid = message_id(identity, key)
    return (rid, identity, key, kind, recipients, at, at, status, attempts, mid, at, finished)


# -- measuring --------------------------------------------------------------------------------


def time_ms(
    action: Callable[[], Any], runs: int, pick: Callable[[list[float]], float] = statistics.median
) -> tuple[float, Any]:
    """Wall time of ``runs`` calls after one warm-up (the median, or what ``pick`` says), and
    the last result."""
    result = action()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = action()
        times.append((time.perf_counter() - start) * 1000)
    return pick(times), result


def aqb_env(workspace: Workspace) -> dict[str, str]:
    return clean_env({"AQB_CONFIG": str(workspace.config)})


def cli(workspace: Workspace, *args: str) -> Callable[[], Any]:
    env = aqb_env(workspace)

    def run() -> Any:
        done = subprocess.run([AQB, *args], env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"aqb {' '.join(args)}: {done.stderr.strip()}")
        return json.loads(done.stdout)

    return run


class Statements:
    """The SQL an engine runs, captured with its parameters, to ask SQLite for the plan."""

    def __init__(self, *engines: Any) -> None:
        self.seen: list[tuple[str, Any]] = []
        for engine in engines:
            event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        if sql.lstrip().upper().startswith(("SELECT", "WITH")):
            self.seen.append((sql, params))

    def plans(self, database: Path) -> str:
        """EXPLAIN QUERY PLAN of every distinct SELECT seen, joined."""
        conn = sqlite3.connect(database)
        try:
            found = []
            for sql, params in dict(self.seen).items():
                rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
                found.append("; ".join(row[-1] for row in rows))
            return " | ".join(dict.fromkeys(found))
        finally:
            conn.close()


def in_process(workspace: Workspace, now: datetime, key: str, runs: int) -> dict[str, Any]:
    """The queries behind the commands, and the daemon's claim, without process start."""
    app = workspace.app()
    plans: dict[str, str] = {}

    def planned(name: str, action: Callable[[], Any]) -> tuple[float, Any]:
        seen = Statements(app.db.reader, app.db.writer)
        action()
        plans[name] = seen.plans(workspace.database)
        event.remove(app.db.reader, "before_cursor_execute", seen._record)
        if app.db.writer is not app.db.reader:
            event.remove(app.db.writer, "before_cursor_execute", seen._record)
        return time_ms(action, runs, pick=min)  # sub-millisecond: the best run is steadiest

    try:
        with app.db.read() as conn:
            list_ms, rows = planned(
                "list", lambda: queries.list_agreements(conn, QUERY_YEAR, QUERY_STATE)
            )
            history_ms, events = planned("history", lambda: queries.history(conn, key))
            due_ms, due = planned(
                "due", lambda: outbox.listing(conn, status=outbox.OPEN, due_before=now)
            )
            states_ms, _ = planned("states", lambda: queries.distinct_states(conn))

        def claim_and_undo() -> Any:
            with app.db.writer.connect() as conn, conn.begin() as tx:
                found = outbox.claim(
                    conn, now, "bench", now + timedelta(minutes=5), skip_locked=False
                )
                tx.rollback()
                return found

        claim_ms, claimed = planned("daemon_claim", claim_and_undo)
    finally:
        app.db.dispose()
    return {
        "list_query_ms": list_ms,
        "list_rows": len(rows),
        "history_query_ms": history_ms,
        "history_rows": len(events),
        "due_query_ms": due_ms,
        "due_rows": len(due),
        "states_query_ms": states_ms,
        "daemon_claim_ms": claim_ms,
        "daemon_claim_found": claimed is not None,
        "plans": plans,
    }


def audit_verify(workspace: Workspace, keys: Sequence[str], now: datetime) -> dict[str, Any]:
    """Full verify, then a day's work (26 transitions), then the incremental verify."""
    from aqb_workflow.verify import verify

    app = workspace.app()
    try:
        start = time.perf_counter()
        full = verify(app, full=True)
        full_s = time.perf_counter() - start
        drafted = _drafted(workspace, keys)[:26]
        app.clock = FixedClock(now)  # type: ignore[misc]
        for key in drafted:
            services.fire(app, MINISTRY, key, "sign_ministry", {"on": "2024-07-01", "by": "HH"})
        seen = Statements(app.db.reader)
        start = time.perf_counter()
        incremental = verify(app)
        incremental_s = time.perf_counter() - start
        plan = seen.plans(workspace.database)
    finally:
        app.db.dispose()
    return {
        "verify_full_s": full_s,
        "verify_full_checked": full.checked,
        "verify_incremental_s": incremental_s,
        "verify_incremental_checked": incremental.checked,
        "verify_incremental_agreements": incremental.agreements,
        "verify_incremental_plan": plan,
    }


def _drafted(workspace: Workspace, keys: Sequence[str]) -> list[str]:
    conn = sqlite3.connect(workspace.database)
    try:
        found = {k for (k,) in conn.execute("SELECT key FROM agreement WHERE state = 'drafted'")}
    finally:
        conn.close()
    return [k for k in keys if k in found]


def daemon_memory(workspace: Workspace, passes: int = 3) -> dict[str, Any]:
    """Start ``aqb daemon`` (1 s interval), wait for ``passes`` passes, read its memory."""
    text = workspace.config.read_text(encoding="utf-8")
    workspace.config.write_text(
        text.replace("interval_seconds = 60", "interval_seconds = 1"), encoding="utf-8"
    )
    heartbeat = workspace.root / "aqb-daemon.heartbeat"
    process = subprocess.Popen(
        [AQB, "daemon"], env=aqb_env(workspace), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        beat: dict[str, Any] = {}
        while time.monotonic() < deadline and process.poll() is None:
            try:
                beat = json.loads(heartbeat.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                beat = {}
            if beat.get("passes", 0) >= passes:
                break
            time.sleep(0.1)
        status = _proc_status(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    if beat.get("passes", 0) < passes:
        raise RuntimeError(f"aqb daemon did not run {passes} passes: {err.decode()[-500:]}")
    outbox_dir = workspace.root / "outbox"
    sent = len(list(outbox_dir.glob("*.eml"))) if outbox_dir.exists() else 0
    return {
        "daemon_rss_mb": status.get("VmRSS", 0) / 1024,
        "daemon_peak_rss_mb": status.get("VmHWM", 0) / 1024,
        "daemon_passes": beat.get("passes", 0),
        "daemon_sent": sent,
    }


def _proc_status(pid: int) -> dict[str, int]:
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])  # kB
    return found


def _rows(output: Any) -> int:
    """Rows in a command's JSON: a list, or an object holding one (``events``)."""
    if isinstance(output, dict):
        output = output.get("events", [])
    return len(output)


def measure_point(root: Path, point: Point, runs: int) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    workspace = migrated_workspace(root / point.name)
    start = time.perf_counter()
    made = generate(workspace, point.agreements, now)
    keys = made.pop("keys")
    result: dict[str, Any] = {**made, "generate_s": time.perf_counter() - start}
    key = keys[len(keys) // 2 - len(keys) // 2 % 10]  # a closed one: 10 events
    result["list_ms"], listed = time_ms(
        cli(workspace, "list", "--year", str(QUERY_YEAR), "--state", QUERY_STATE, "--json"), runs
    )
    result["history_ms"], history = time_ms(cli(workspace, "history", key, "--json"), runs)
    result["reminders_due_ms"], due = time_ms(
        cli(workspace, "reminders", "list", "--due", "--json"), runs
    )
    result |= {
        "list_cli_rows": len(listed),
        "history_cli_rows": _rows(history),
        "reminders_due_rows": len(due),
    }
    result |= in_process(workspace, now, key, 50)
    result |= audit_verify(workspace, keys, now)
    result["plans"]["verify_incremental"] = result.pop("verify_incremental_plan")
    result |= daemon_memory(workspace)
    return result


def measure_scale(root: Path, quick: bool, runs: int) -> dict[str, Any]:
    found = {}
    for point in points(quick):
        print(f"  scale {point.name}: {point.agreements} agreements …", flush=True)
        found[point.name] = measure_point(root, point, runs)
    return {
        "scale": found,
        "scale_growth": growth(found),
        "scale_table_scans": table_scans(found),
    }


FLAT = "flat"  # must not grow with the database: large/small at most FLAT_LIMIT
GROWS = "grows"  # grows with the database by design (a full check reads everything)
FLAT_LIMIT = 2.0  # the database grows 100x (25x quick); a scan would grow with it
SCALE_ROWS = (  # label, key(s), format, expectation
    ("agreements", "agreements", "{:,}", ""),
    ("audit events", "events", "{:,}", ""),
    ("database", "database_mb", "{:.0f} MB", ""),
    ("aqb list --year --state (process)", "list_ms", "{:.0f} ms", FLAT),
    ("  its query (rows)", ("list_query_ms", "list_rows"), "{:.2f} ms ({})", FLAT),
    ("aqb history KEY (process)", "history_ms", "{:.0f} ms", FLAT),
    ("  its query (rows)", ("history_query_ms", "history_rows"), "{:.2f} ms ({})", FLAT),
    ("aqb reminders list --due (process)", "reminders_due_ms", "{:.0f} ms", FLAT),
    ("  its query (rows)", ("due_query_ms", "due_rows"), "{:.2f} ms ({})", FLAT),
    ("states in use (every command)", "states_query_ms", "{:.2f} ms", FLAT),
    ("daemon: claim the next due reminder", "daemon_claim_ms", "{:.2f} ms", FLAT),
    ("daemon RSS after 3 passes", "daemon_rss_mb", "{:.1f} MB", FLAT),
    (
        "audit verify --full",
        ("verify_full_s", "verify_full_checked"),
        "{:.2f} s ({:,} events)",
        GROWS,
    ),
    (
        "audit verify, 26 events later",
        ("verify_incremental_s", "verify_incremental_checked"),
        "{:.3f} s ({:,} events)",
        FLAT,
    ),
)
_TABLE_SCAN = re.compile(r"\bSCAN (agreement|audit_event|reminder|measure|contact)\b")


def growth(scale: dict[str, dict[str, Any]]) -> dict[str, float]:
    """large / small for every measure that must stay flat."""
    names = list(scale)
    found = {}
    for _label, key, _fmt, expect in SCALE_ROWS:
        name = key[0] if isinstance(key, tuple) else key
        first, last = scale[names[0]][name], scale[names[-1]][name]
        if expect == FLAT and first:
            found[name] = last / first
    return found


def table_scans(scale: dict[str, dict[str, Any]]) -> list[str]:
    """Queries whose plan reads a whole table (or a whole index of it)."""
    return [
        f"{name}/{query}: {plan}"
        for name, point in scale.items()
        for query, plan in point["plans"].items()
        if _TABLE_SCAN.search(plan)
    ]


def scale_table(scale: dict[str, dict[str, Any]]) -> str:
    """One column per size, then large / small and whether it stayed flat."""
    names = list(scale)
    header = [
        "scale",
        *(f"{n} ({scale[n]['agreements']:,})" for n in names),
        "large/small",
        "flat",
    ]
    rows = [header]
    for label, key, fmt, expect in SCALE_ROWS:
        keys = key if isinstance(key, tuple) else (key,)
        cells = [fmt.format(*(scale[n][k] for k in keys)) for n in names]
        first, last = scale[names[0]][keys[0]], scale[names[-1]][keys[0]]
        ratio = last / first if first else 0.0
        verdict = {FLAT: "yes" if ratio <= FLAT_LIMIT else "NO", GROWS: "by design"}.get(expect, "")
        rows.append([label, *cells, f"{ratio:.2f}x" if first else "", verdict])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    rows.insert(1, ["-" * w for w in widths])
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    scans = table_scans(scale)
    lines.append("")
    lines.append(
        f"flat: large/small at most {FLAT_LIMIT:.1f}x while the database grows "
        f"{scale[names[-1]]['events'] / scale[names[0]]['events']:.0f}x"
    )
    lines.append("queries reading a whole table: " + ("; ".join(scans) if scans else "none"))
    return "\n".join(lines)
