"""In-process transitions through ``services.fire``, at the shipped durability."""

from __future__ import annotations

import time
from collections.abc import Sequence

from workspace import MINISTRY, NOW, Workspace

from aqb_workflow import services
from aqb_workflow.bootstrap import App
from aqb_workflow.domain.formats import format_utc
from aqb_workflow.domain.model import Agreement, Event, agreement_key
from aqb_workflow.store.unit_of_work import UnitOfWork

TRIGGER = "sign_ministry"
FIELDS = {"on": "2024-07-01", "by": "Heike Hofmann"}
FIRST_YEAR = 2024


def seed_agreements(workspace: Workspace, count: int) -> list[str]:
    """``count`` drafted agreements with their ``created`` events, in one transaction.

    The rows and audit events are the ones services.create writes; one transaction instead of
    ``count`` keeps the set-up short (it is not measured). The registry allows one agreement per
    Gebietskörperschaft and year, so the years run on past 2024 as far as needed.
    """
    app = workspace.app()
    try:
        slugs = [e.slug for e in app.registry if e.valid_in(FIRST_YEAR)]
        agreements = [
            _drafted(app, FIRST_YEAR + i // len(slugs), slugs[i % len(slugs)]) for i in range(count)
        ]
        with UnitOfWork(app.db, app.anchor) as uow:
            for agreement in agreements:
                uow.add(agreement, format_utc(NOW))
                uow.append(_created(agreement))
            uow.commit()
    finally:
        app.db.dispose()
    return [a.key for a in agreements]


def _drafted(app: App, year: int, slug: str) -> Agreement:
    key = agreement_key(year, slug)
    return Agreement(key, year, slug, 126_680_000, app.workflow.initial, 1)


def _created(agreement: Agreement) -> Event:
    payload = {"year": agreement.year, "district": agreement.district, "budget_cents": 126_680_000}
    return Event(
        agreement.key,
        "created",
        MINISTRY.display,
        "ministry",
        NOW,
        None,
        agreement.state,
        None,
        payload,
    )


class AqbRunner:
    """Fires through the service layer; one App (and connection pool) for the whole run."""

    def __init__(self, workspace: Workspace) -> None:
        self.app = workspace.app()
        self.seconds = 0.0
        self.done = 0

    def fire(self, keys: Sequence[str]) -> None:
        start = time.perf_counter()
        for key in keys:
            services.fire(self.app, MINISTRY, key, TRIGGER, FIELDS)
        self.seconds += time.perf_counter() - start
        self.done += len(keys)

    def close(self) -> None:
        self.app.db.dispose()
