"""How to bring an agreement into each state of the shipped workflow, with the seed's dates."""

from __future__ import annotations

from aqb_workflow import services
from aqb_workflow.bootstrap import App
from tests.conftest import GIESSEN, MINISTRY, RP

STEPS = [
    ("sign_ministry", {"on": "2024-07-01", "by": "Heike Hofmann"}, MINISTRY),
    (
        "sign_district",
        {
            "on": "2024-07-10",
            "by": "Anita Schneider",
            "place": "Gießen",
            "received_on": "2024-07-15",
        },
        GIESSEN,
    ),
    ("issue_notice", {"on": "2024-08-05", "ref": "RPKS 57-2024"}, RP),
    ("schedule_review", {"at": "2024-10-15 10:00", "location": "Gießen"}, MINISTRY),
    ("close", {"held_on": "2024-10-15"}, MINISTRY),
]
ORDER = [
    "drafted",
    "signed_by_ministry",
    "signed_by_district",
    "notice_issued",
    "autumn_review",
    "closed",
]


def bring_to(app: App, state: str, district: str = "giessen", year: int = 2024) -> str:
    key = services.create(app, MINISTRY, district, year, "1266800")
    if state == "withdrawn":
        services.fire(app, MINISTRY, key, "withdraw", {"reason": "Test"})
        return key
    for trigger, fields, actor in STEPS[: ORDER.index(state)]:
        if actor is GIESSEN and district != "giessen":
            actor = MINISTRY
        services.fire(app, actor, key, trigger, fields)
    return key
