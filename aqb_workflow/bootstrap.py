"""Wiring in one place: settings, workflow, registry, database, anchor and clock.

Tests pass their own clock or settings; the CLI takes the real ones.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from aqb_workflow.clock import Clock, SystemClock
from aqb_workflow.config import Settings, load_settings, read_toml
from aqb_workflow.domain.model import Actor
from aqb_workflow.domain.registry import Registry, registry_from_data
from aqb_workflow.domain.workflow import Workflow, workflow_from_data
from aqb_workflow.errors import Forbidden
from aqb_workflow.mail.templates import check_templates
from aqb_workflow.store.anchor import Anchor
from aqb_workflow.store.engine import Database

if TYPE_CHECKING:
    from aqb_workflow.domain.calendar import WorkCalendar


@dataclass
class App:
    settings: Settings
    workflow: Workflow
    registry: Registry
    db: Database
    anchor: Anchor
    clock: Clock

    @cached_property
    def calendar(self) -> WorkCalendar:
        # imported on first use: the holiday tables cost a fifth of a second at start-up
        from aqb_workflow.domain.calendar import WorkCalendar

        return WorkCalendar(self.settings.subdivision, self.settings.closure_days)


def load_workflow(path: Path) -> Workflow:
    return workflow_from_data(read_toml(path, "workflow file"), str(path))


def load_registry(path: Path) -> Registry:
    return registry_from_data(read_toml(path, "registry file"), str(path))


def bootstrap(settings: Settings | None = None, clock: Clock | None = None) -> App:
    settings = settings or load_settings()
    workflow = load_workflow(settings.workflow_file)
    check_templates(settings.templates, [r.kind for r in workflow.rules], settings.workflow_file)
    return App(
        settings=settings,
        workflow=workflow,
        registry=load_registry(settings.registry_file),
        db=Database(settings.database_url, settings.busy_timeout_ms),
        anchor=Anchor(settings.anchor),
        clock=clock or SystemClock(),
    )


def os_login() -> str:
    """The operating-system login of this process (not $USER, which anyone can set)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def login_name(app: App) -> str:
    """Who is really acting: the database login on PostgreSQL, the OS login on SQLite."""
    if app.db.is_sqlite:
        return os_login()
    from sqlalchemy import text

    with app.db.read() as conn:
        return str(conn.execute(text("SELECT session_user")).scalar())


def resolve_actor(settings: Settings, login: str, requested: str | None = None) -> Actor:
    """The login acts with its own roles; ``--actor``/``AQB_ACTOR`` only for an admin login,
    and then with the roles of the person acted for (audited as "X on behalf of Y")."""
    requested = (requested or os.environ.get("AQB_ACTOR") or "").strip() or None
    if requested is None or requested == login:
        return Actor(name=login, roles=settings.users.get(login, ()))
    if "admin" not in settings.users.get(login, ()):
        raise Forbidden(
            f"--actor/AQB_ACTOR: {login} is not an admin and may not act as {requested}"
        )
    return Actor(name=requested, roles=settings.users.get(requested, ()), by=login)
