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
from typing import Any

import pytest

from aqb_workflow.bootstrap import App, bootstrap, os_login
from aqb_workflow.config import load_settings
from aqb_workflow.domain.model import Actor
from aqb_workflow.store.migrate import upgrade
from aqb_workflow.testing import FixedClock

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "tests" / "data" / "zielvereinbarung-2024-landkreis-giessen.txt"

USERS = """
[users]
{admin} = "admin"
hmsi-aqb = "ministry"
rp-kassel = "rp_kassel"
giessen = "district:giessen"
wetterau = "district:wetterau"
root-admin = "admin"
pruefer = "viewer"
"""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="Run the database tests on SQLite (default) or a throw-away PostgreSQL cluster.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: about SQLite itself (file, locks)")
    config.addinivalue_line("markers", "postgresql_only: about PostgreSQL (logins, grants)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    other = "sqlite_only" if config.getoption("--db") == "postgresql" else "postgresql_only"
    skip = pytest.mark.skip(reason=f"{other.split('_')[0]} only; run with --db to choose")
    for item in items:
        if other in item.keywords:
            item.add_marker(skip)


class _Databases:
    """Where a new workspace's database lives: a file beside it, or a fresh PostgreSQL DB."""

    cluster: Any = None
    counter = 0

    def url_for(self, root: Path) -> str:
        if self.cluster is None:
            return "sqlite:///aqb.db"
        self.counter += 1
        return self.cluster.create_database(f"aqb_{os.getpid()}_{self.counter}")


DATABASES = _Databases()


@pytest.fixture(scope="session", autouse=True)
def _database_server(request: pytest.FixtureRequest) -> Any:
    if request.config.getoption("--db") != "postgresql":
        yield None
        return
    from tests.pg import Cluster

    cluster = Cluster().start()
    DATABASES.cluster = cluster
    try:
        yield cluster
    finally:
        DATABASES.cluster = None
        cluster.stop()


@dataclass
class Workspace:
    root: Path
    url: str = "sqlite:///aqb.db"

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def login(self) -> str:
        """Who the CLI runs as: the OS login on SQLite, the database login on PostgreSQL.
        The test config makes it an admin, so AQB_ACTOR acts on behalf of the staff."""
        if self.is_sqlite:
            return os_login()
        return self.url.split("://", 1)[1].split("@", 1)[0]

    def sql(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run SQL behind aqb's back (autocommit); ``?`` placeholders on both databases."""
        import sqlalchemy as sa

        parts = statement.split("?")
        text = parts[0] + "".join(f":p{i}{part}" for i, part in enumerate(parts[1:]))
        url = f"sqlite:///{self.database}" if self.is_sqlite else self.url
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                result = conn.execute(sa.text(text), {f"p{i}": v for i, v in enumerate(params)})
                rows = [tuple(r) for r in result] if result.returns_rows else []
                conn.commit()
                return rows
        finally:
            engine.dispose()

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
        """All data (every row of every table) and the anchor's bytes: 'nothing changed'."""
        anchor = self.anchor.read_bytes() if self.anchor.exists() else b""
        if self.is_sqlite:
            import sqlite3

            with sqlite3.connect(self.database) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                dump = "\n".join(conn.iterdump()).encode()
            return {"dump": dump, "anchor": anchor}
        from aqb_workflow.store.tables import metadata

        tables = {}
        for table in metadata.sorted_tables:
            tables[table.name] = sorted(map(repr, self.sql(f"SELECT * FROM {table.name}")))
        return {"dump": repr(tables).encode(), "anchor": anchor}


BASE_CONFIG = """
[database]
url = "{url}"
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
    url = DATABASES.url_for(root)
    ws = Workspace(root, url)
    text = BASE_CONFIG.format(templates=REPO / "notifications", url=url)
    text += mail + USERS.format(admin=ws.login) + extra_config
    (root / "config.toml").write_text(text, encoding="utf-8")
    return ws


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
def server() -> Any:
    """A real SMTP server (aiosmtpd) on a free loopback port, for the tests that send mail."""
    from tests.smtp_server import SmtpServer

    smtp = SmtpServer().start()
    try:
        yield smtp
    finally:
        smtp.stop()


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
