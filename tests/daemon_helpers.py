"""What the daemon tests share: waiting with a deadline, the daemon as a background process,
and reading the database behind aqb's back on whichever database the workspace uses."""

from __future__ import annotations

import functools
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from aqb_workflow.config import load_settings
from aqb_workflow.domain.formats import format_utc
from tests.conftest import Workspace


def wait_for(what: str, predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll ``predicate`` until it is truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def database_url(ws: Workspace) -> str:
    return load_settings(ws.config).database_url


@functools.cache
def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url, poolclass=sa.NullPool)


def engine_of(ws: Workspace) -> sa.Engine:
    return _engine(database_url(ws))


@contextmanager
def daemon(ws: Workspace, *args: str, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """``aqb daemon`` in the background, output in files beside the site; always killed."""
    n = len(list(ws.root.glob("daemon-*.err")))
    with (
        open(ws.root / f"daemon-{n}.out", "wb") as out,
        open(ws.root / f"daemon-{n}.err", "wb") as err,
    ):
        proc = subprocess.Popen(
            [sys.executable, "-m", "aqb_workflow", "daemon", *args],
            env=ws.env(actor=None, **env),
            cwd=ws.root,
            stdout=out,
            stderr=err,
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


def daemon_log(ws: Workspace) -> str:
    return "\n".join(p.read_text("utf-8") for p in sorted(ws.root.glob("daemon-*.err")))


#: Escalates district_signature_pending (``after`` in states/agreement.toml): it waits its own
#: 21 days after the first reminder of its series was sent, so a daemon pass over an overdue
#: backlog holds it back instead of sending it with the series.
ESCALATION = "district_signature_escalation"


def held_back(row: dict[str, Any]) -> bool:
    """An escalation the dispatcher held back: pending, never tried, due weeks from now."""
    return (
        row["kind"] == ESCALATION
        and row["status"] == "pending"
        and row["attempts"] == 0
        and row["next_attempt_at"] > format_utc(datetime.now(UTC) + timedelta(days=14))
    )
