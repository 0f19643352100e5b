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
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from aqb_workflow.bootstrap import App
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


def run_daemon(app: App, backend: Backend, *, once: bool = False) -> int:
    from apscheduler.schedulers.background import BackgroundScheduler

    settings = app.settings
    heartbeat = settings.heartbeat
    try:
        heartbeat.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"daemon.heartbeat: {exc.strerror}: {heartbeat.parent}") from None
    worker = f"{socket.gethostname()}:{os.getpid()}"
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
    }

    def tick() -> None:
        try:
            result = run_pass(app, backend, worker=worker, log=log, stop=stop)
            state["last_result"] = str(result)
        except Exception as exc:  # one bad pass must not end the daemon; the next one retries
            state["last_result"] = f"error: {type(exc).__name__}: {exc}"
            log(f"pass failed: {type(exc).__name__}: {exc}")
        state["last_pass_at"] = datetime.now(UTC).isoformat()
        state["passes"] += 1
        write_heartbeat(heartbeat, state)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            log("second signal: exiting at once")
            os._exit(1)
        log(f"{signal.Signals(signum).name}: finishing the message in flight, then stopping")
        stop.set()

    guard = single_instance(heartbeat) if app.db.is_sqlite else _nothing()
    with guard:
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
    return 0


@contextmanager
def _nothing() -> Iterator[None]:
    yield
