"""Fixtures shared by all rings: a throw-away installation and the CLI run as a person would."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aqb_workflow.bootstrap import App, bootstrap
from aqb_workflow.config import load_settings
from aqb_workflow.domain.model import Actor
from aqb_workflow.store.migrate import upgrade
from aqb_workflow.testing import FixedClock

REPO = Path(__file__).resolve().parent.parent
SEED = REPO.parent / "shared" / "seeds" / "zielvereinbarung-2024-landkreis-giessen.txt"

USERS = """
[users]
hmsi-aqb = "ministry"
rp-kassel = "rp_kassel"
giessen = "district:giessen"
wetterau = "district:wetterau"
root-admin = "admin"
pruefer = "viewer"
"""


@dataclass
class Workspace:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def database(self) -> Path:
        return self.root / "aqb.db"

    @property
    def anchor(self) -> Path:
        return self.root / "aqb-audit.anchor"

    @property
    def workflow(self) -> Path:
        return self.root / "states" / "agreement.toml"

    def env(self, actor: str | None = "hmsi-aqb", **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AQB_")}
        env["AQB_CONFIG"] = str(self.config)
        if actor:
            env["AQB_ACTOR"] = actor
        env.update(extra)
        return env

    def snapshot(self) -> dict[str, bytes]:
        """Every byte of the database (after a checkpoint) and the anchor: 'nothing changed'."""
        import sqlite3

        with sqlite3.connect(self.database) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            dump = "\n".join(conn.iterdump()).encode()
        anchor = self.anchor.read_bytes() if self.anchor.exists() else b""
        return {"dump": dump, "anchor": anchor}


BASE_CONFIG = """
[database]
url = "sqlite:///aqb.db"
busy_timeout_ms = 30000

[audit]
anchor = "aqb-audit.anchor"

[workflow]
file = "states/agreement.toml"

[templates]
folder = "{templates}"

[daemon]
interval_seconds = 1
"""
FILE_MAIL = """
[mail]
backend = "file"
sender = "AQB-Referat HMSI <aqb@hmsi.example>"
"""


def make_workspace(root: Path, extra_config: str = "", mail: str = FILE_MAIL) -> Workspace:
    """A throw-away installation: its own config, workflow copy, database and anchor."""
    (root / "states").mkdir(parents=True)
    shutil.copy(REPO / "states" / "agreement.toml", root / "states" / "agreement.toml")
    text = BASE_CONFIG.format(templates=REPO / "notifications") + mail + USERS + extra_config
    (root / "config.toml").write_text(text, encoding="utf-8")
    return Workspace(root)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = make_workspace(tmp_path / "site")
    app = bootstrap(load_settings(ws.config))
    upgrade(app.db)
    app.db.dispose()
    return ws


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


CLI = Callable[..., Result]


def run_cli(
    ws: Workspace,
    args: str | Sequence[str],
    expect: int | None = 0,
    actor: str | None = "hmsi-aqb",
    env: dict[str, str] | None = None,
) -> Result:
    argv = shlex.split(args) if isinstance(args, str) else list(args)
    proc = subprocess.run(
        [sys.executable, "-m", "aqb_workflow", *argv],
        capture_output=True,
        text=True,
        env={**ws.env(actor), **(env or {})},
        cwd=ws.root,
        timeout=120,
        check=False,
    )
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    if expect is not None:
        assert proc.returncode == expect, (args, proc.returncode, proc.stdout, proc.stderr)
    return result


@pytest.fixture
def cli(workspace: Workspace) -> CLI:
    """``cli("create --district giessen --year 2024 --budget 1266800")`` as a subprocess."""

    def call(args: str | Sequence[str], expect: int | None = 0, **kw: object) -> Result:
        return run_cli(workspace, args, expect, **kw)  # type: ignore[arg-type]

    return call


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2024, 11, 20, 9, 0, tzinfo=UTC))


@pytest.fixture
def app(workspace: Workspace, clock: FixedClock) -> App:
    application = bootstrap(load_settings(workspace.config), clock=clock)
    yield application
    application.db.dispose()


MINISTRY = Actor("hmsi-aqb", ("ministry",))
ADMIN = Actor("root-admin", ("admin",))
RP = Actor("rp-kassel", ("rp_kassel",))
GIESSEN = Actor("giessen", ("district:giessen",))

GIESSEN_MEASURES = [
    ("ausbildungsvorbereitung", "BOM Hungen"),
    ("ausbildungsvorbereitung", "FIT Fachkräftegewinnung im Teilzeitmodell"),
    ("ausbildungsvorbereitung", "Dreisprung in Ausbildung"),
    ("ausbildung", "BAE - Berufsausbildung in außerbetrieblichen Einrichtungen"),
    ("qualifizierung", "Plan B"),
    ("qualifizierung", "Aufbruch im Alltag"),
    ("qualifizierung", "Wegbereiter in den Alltag"),
    ("qualifizierung", "Power-UP"),
    ("qualifizierung", "Frauen und Beruf: Digitalisierung"),
    ("weiterbildung", "verschiedene Weiterbildungsmaßnahmen oder Workshops in versch. Jahren"),
]
