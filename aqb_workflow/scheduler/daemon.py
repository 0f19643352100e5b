"""``aqb daemon``: APScheduler as a metronome over the outbox, with signals and a heartbeat.

APScheduler only ticks: its job store is in memory, never shared, and holds one interval job
that runs a dispatch pass; the database holds the reminders (APScheduler 3 drops late one-off
jobs). The first pass runs at start, so what fell due while the daemon was down goes out at
once. SIGTERM/SIGINT: finish the message in flight, record it, exit 0; a second signal exits
at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from aqb_workflow.bootstrap import App
from aqb_workflow.domain.formats import format_utc
from aqb_workflow.errors import ConfigError, Refused
from aqb_workflow.mail.backends import Backend
from aqb_workflow.scheduler.dispatch import run_pass


def log(line: str) -> None:
    stamp = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
    print(f"{stamp} {line}", file=sys.stderr, flush=True)


def write_heartbeat(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def read_heartbeat(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def single_instance(path: Path) -> Iterator[None]:
    """On SQLite only one daemon may run: hold an exclusive lock for the daemon's lifetime."""
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = read_heartbeat(path) or {}
            raise Refused(
                f"another aqb daemon (pid {other.get('pid', '?')}) holds {lock_path}; "
                "on SQLite only one may run"
            ) from None
        yield
    finally:
        os.close(fd)


def heartbeat_file(app: App) -> Path:
    """``[daemon] heartbeat``, its folder created (the lock file lives beside it)."""
    path = app.settings.heartbeat
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"daemon.heartbeat: {exc.strerror}: {path.parent}") from None
    return path


def worker_name() -> str:
    """Who holds a claim: ``host:pid`` (reminder.claimed_by, the heartbeat row)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def stale_after(app: App) -> timedelta:
    """A PostgreSQL daemon beats every ``beat_seconds``; one silent for this long is gone."""
    return timedelta(seconds=max(3 * beat_seconds(app), 30))


def beat_seconds(app: App) -> int:
    return min(app.settings.daemon_interval_seconds, 10)


def _gone_here(worker: str) -> bool:
    """A claim of a process on this host that no longer exists: provably gone."""
    host, _, pid = worker.rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not pid_alive(int(pid))


def reclaim(app: App, *, holds_lock: bool, me: str | None = None) -> list[int]:
    """Take back at once the claims of senders that are provably gone (G11).

    SQLite: whoever holds the single-daemon lock is the only sender, so every claim left in
    ``sending`` belongs to a dead one. PostgreSQL: claims of a worker on this host whose
    process is gone, or whose heartbeat says it stopped or fell silent. Anything else is
    left to its lease.
    """
    from aqb_workflow.store import heartbeat, outbox
    from aqb_workflow.store.unit_of_work import UnitOfWork

    now = app.clock.now()
    with UnitOfWork(app.db, app.anchor) as uow:
        if holds_lock:
            ids = outbox.release(uow.conn, now)
        else:
            workers = [w for w in outbox.claimants(uow.conn) if w != me]
            silent = heartbeat.gone(uow.conn, workers, datetime.now(UTC) - stale_after(app))
            dead = sorted({*silent, *(w for w in workers if _gone_here(w))})
            ids = outbox.release(uow.conn, now, dead) if dead else []
        uow.commit()
    return ids


class _Beat:
    """PostgreSQL: this daemon's heartbeat row, renewed from its own thread while it runs."""

    def __init__(self, app: App, worker: str) -> None:
        self.app, self.worker = app, worker
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="aqb-heartbeat", daemon=True)

    def write(self, state: str = "running") -> None:
        from aqb_workflow.store import heartbeat
        from aqb_workflow.store.unit_of_work import UnitOfWork

        with UnitOfWork(self.app.db, self.app.anchor) as uow:
            heartbeat.beat(uow.conn, self.worker, datetime.now(UTC), state)
            uow.commit()

    def _run(self) -> None:
        while not self.done.wait(beat_seconds(self.app)):
            try:
                self.write()
            except Exception as exc:  # the database is away: the next beat tries again
                log(f"heartbeat failed: {type(exc).__name__}: {exc}")

    def __enter__(self) -> _Beat:
        from aqb_workflow.store import heartbeat
        from aqb_workflow.store.unit_of_work import UnitOfWork

        with UnitOfWork(self.app.db, self.app.anchor) as uow:  # cron runs leave one row each
            heartbeat.forget(uow.conn, datetime.now(UTC) - timedelta(days=1))
            uow.commit()
        self.write()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(timeout=5)
        self.write("stopped")


def run_daemon(app: App, backend: Backend, *, once: bool = False) -> int:
    """Run until stopped (or one pass with ``once``). Exit code: 0, or 1 when ``once`` and
    anything in the pass failed (``aqb daemon --once`` and ``aqb reminders send-due``)."""
    from apscheduler.schedulers.background import BackgroundScheduler

    settings = app.settings
    heartbeat = heartbeat_file(app)
    worker = worker_name()
    stop = threading.Event()
    state: dict[str, Any] = {
        "pid": os.getpid(),
        "worker": worker,
        "started_at": datetime.now(UTC).isoformat(),
        "interval_seconds": settings.daemon_interval_seconds,
        "state": "running",
        "last_pass_at": None,
        "last_result": None,
        "passes": 0,
        "failed_passes": 0,
    }

    def tick() -> None:
        try:
            taken = reclaim(app, holds_lock=app.db.is_sqlite, me=worker)
            if taken:
                log(f"took back {len(taken)} reminder(s) left in flight by a daemon that is gone")
            result = run_pass(app, backend, worker=worker, log=log, stop=stop)
            state["last_result"] = str(result)
            failed = result.failed > 0
        except Exception as exc:  # one bad pass must not end the daemon; the next one retries
            state["last_result"] = f"error: {type(exc).__name__}: {exc}"
            log(f"pass failed: {type(exc).__name__}: {exc}")
            failed = True
        state["last_pass_at"] = datetime.now(UTC).isoformat()
        state["passes"] += 1
        state["failed_passes"] += int(failed)
        write_heartbeat(heartbeat, state)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            log("second signal: exiting at once")
            os._exit(1)
        log(f"{signal.Signals(signum).name}: finishing the message in flight, then stopping")
        stop.set()

    guard = single_instance(heartbeat) if app.db.is_sqlite else _nothing()
    beat = _nothing() if app.db.is_sqlite else _Beat(app, worker)
    with guard, beat:
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        write_heartbeat(heartbeat, state)
        log(f"aqb daemon {worker} started: every {settings.daemon_interval_seconds}s")
        if once:
            tick()
        else:
            scheduler = BackgroundScheduler(
                timezone=UTC,
                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            )
            scheduler.add_job(
                tick,
                "interval",
                seconds=settings.daemon_interval_seconds,
                next_run_time=datetime.now(UTC),
                id="dispatch",
            )
            scheduler.start()
            while not stop.wait(0.5):
                pass
            scheduler.shutdown(wait=True)
        state["state"] = "stopped"
        state["stopped_at"] = datetime.now(UTC).isoformat()
        write_heartbeat(heartbeat, state)
        log("aqb daemon stopped")
    return 1 if once and state["failed_passes"] else 0


def one_reminder(app: App, backend: Backend, reminder_id: int) -> str | None:
    """Send one reminder now, if no daemon holds SQLite's lock (else the daemon's next pass
    sends it). The outcome ("sent", "retried", "failed"), or None when it was left to the
    running daemon."""
    worker = worker_name()
    try:
        guard = single_instance(heartbeat_file(app)) if app.db.is_sqlite else _nothing()
        with guard:
            result = run_pass(app, backend, worker=worker, log=log, only=reminder_id)
    except Refused:
        return None
    for outcome in ("sent", "retried", "failed", "superseded", "held", "stale"):
        if getattr(result, outcome):
            return outcome
    return None


def sender_gone(app: App, row: dict[str, Any]) -> bool:
    """Is the sender holding this ``sending`` reminder provably gone (or its lease over)?"""
    now = app.clock.now()
    if row["claimed_until"] is None or row["claimed_until"] < format_utc(now):
        return True
    if app.db.is_sqlite:
        return not lock_held(heartbeat_file(app))
    from aqb_workflow.store import heartbeat

    worker = str(row["claimed_by"] or "")
    if _gone_here(worker):
        return True
    with app.db.read() as conn:
        return bool(heartbeat.gone(conn, [worker], datetime.now(UTC) - stale_after(app)))


def lock_held(path: Path) -> bool:
    """Does a daemon hold SQLite's single-daemon lock right now?"""
    try:
        with single_instance(path):
            return False
    except Refused:
        return True


@contextmanager
def _nothing() -> Iterator[None]:
    yield
