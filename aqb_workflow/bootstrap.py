"""Wiring in one place: settings, workflow, registry, database, anchor and clock.

Tests pass their own clock or settings; the CLI takes the real ones.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from aqb_workflow.clock import Clock, SystemClock
from aqb_workflow.config import Settings, load_settings, read_toml
from aqb_workflow.domain.calendar import WorkCalendar
from aqb_workflow.domain.model import Actor
from aqb_workflow.domain.registry import Registry, registry_from_data
from aqb_workflow.domain.workflow import Workflow, workflow_from_data
from aqb_workflow.errors import BadInput
from aqb_workflow.store.anchor import Anchor
from aqb_workflow.store.engine import Database


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
        return WorkCalendar(self.settings.subdivision, self.settings.closure_days)


def load_workflow(path: Path) -> Workflow:
    return workflow_from_data(read_toml(path, "workflow file"), str(path))


def load_registry(path: Path) -> Registry:
    return registry_from_data(read_toml(path, "registry file"), str(path))


def bootstrap(settings: Settings | None = None, clock: Clock | None = None) -> App:
    settings = settings or load_settings()
    return App(
        settings=settings,
        workflow=load_workflow(settings.workflow_file),
        registry=load_registry(settings.registry_file),
        db=Database(settings.database_url, settings.busy_timeout_ms),
        anchor=Anchor(settings.anchor),
        clock=clock or SystemClock(),
    )


def resolve_actor(settings: Settings, requested: str | None = None) -> Actor:
    """``--actor``, else ``AQB_ACTOR``, else the login name; roles from ``[users]``."""
    name = requested or os.environ.get("AQB_ACTOR") or getpass.getuser()
    name = name.strip()
    if not name:
        raise BadInput("actor: empty name")
    return Actor(name=name, roles=settings.users.get(name, ()))
