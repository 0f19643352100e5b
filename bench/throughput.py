"""In-process transitions through ``services.fire``, at the shipped durability."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from workspace import MINISTRY, NOW, Workspace

from aqb_workflow import services
from aqb_workflow.bootstrap import App
from aqb_workflow.domain.formats import format_utc
from aqb_workflow.domain.model import Agreement, agreement_key
from aqb_workflow.domain.reminders import plan
from aqb_workflow.store.unit_of_work import UnitOfWork, load_agreement

TRIGGER = "sign_ministry"
FIELDS = {"on": "2024-07-01", "by": "Heike Hofmann"}
SIGNED = {
    "ministry_signed_on": "2024-07-01",
    "ministry_signed_by": "Heike Hofmann",
    "ministry_signed_place": "Wiesbaden",
}
FIRST_YEAR = 2024


def seed_agreements(workspace: Workspace, count: int) -> list[str]:
    """``count`` drafted agreements, written as ``services.create`` writes them, in one go.

    Each gets its row, its reminders (the outbox rows the rules plan for a new draft) and its
    ``created`` event naming them; one transaction instead of ``count`` keeps the set-up short
    (it is not measured). The registry allows one agreement per Gebietskörperschaft and year,
    so the years run on past 2024 as far as needed.
    """
    app = workspace.app()
    try:
        slugs = [e.slug for e in app.registry if e.valid_in(FIRST_YEAR)]
        agreements = [
            _drafted(app, FIRST_YEAR + i // len(slugs), slugs[i % len(slugs)]) for i in range(count)
        ]
        with UnitOfWork(app.db, app.anchor) as uow:
            for a in agreements:
                payload = {"year": a.year, "district": a.district, "budget_cents": a.budget_cents}
                services.write_new(app, uow, a, MINISTRY.display, "ministry", NOW, payload)
            uow.commit()
    finally:
        app.db.dispose()
    return [a.key for a in agreements]


def _drafted(app: App, year: int, slug: str) -> Agreement:
    key = agreement_key(year, slug)
    return Agreement(key, year, slug, 126_680_000, app.workflow.initial, 1)


def reminders_after_fire(workspace: Workspace, keys: Sequence[str]) -> dict[str, list[dict]]:
    """What the rules want in the outbox once each agreement is signed by the ministry.

    Computed with aqb's planner before the clock starts and handed to the floor, which then
    only writes: planning is aqb's own work and counts on aqb's side alone.
    """
    app = workspace.app()
    wanted: dict[str, list[dict]] = {}
    try:
        with app.db.read() as conn:
            for key in keys:
                agreement = load_agreement(conn, key, measures=False)
                planned = plan(
                    app.workflow.rules,
                    key=key,
                    state="signed_by_ministry",
                    year=agreement.year,
                    fields={**agreement.fields, **SIGNED},
                    entered_at=NOW,
                    calendar=app.calendar,
                    zone=app.settings.zone,
                    send_at=app.settings.send_at,
                    now=NOW,
                )
                wanted[key] = [
                    {
                        "identity": p.identity,
                        "kind": p.kind,
                        "recipients": json.dumps(list(p.to)),
                        "due_at": format_utc(p.due_at),
                        "occurrence": p.occurrence,
                        "max_occurrences": p.max_occurrences,
                        "invite": p.invite,
                    }
                    for p in planned
                ]
    finally:
        app.db.dispose()
    return wanted


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
