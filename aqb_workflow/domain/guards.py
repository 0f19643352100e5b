"""Named guards a workflow file may attach to a trigger.

A guard looks at the agreement as it is and the values the trigger would record, and returns
``None`` (fine) or the reason a person reads when it refuses. The workflow file names guards;
a name not in ``GUARDS`` is an error at load.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aqb_workflow.domain.formats import format_date_de, parse_utc
from aqb_workflow.domain.model import Agreement


@dataclass(frozen=True)
class GuardContext:
    agreement: Agreement
    values: Mapping[str, Any]  # the trigger's parsed values by field name
    options: Mapping[str, Any]
    zone: ZoneInfo


Guard = Callable[[GuardContext], str | None]


def _stored_date(agreement: Agreement, store: str) -> date | None:
    value = agreement.fields.get(store)
    return date.fromisoformat(value) if value else None


def not_before_ministry_signature(ctx: GuardContext) -> str | None:
    ministry = _stored_date(ctx.agreement, "ministry_signed_on")
    signed: date = ctx.values["on"]
    if ministry and signed < ministry:
        return (
            f"the district cannot sign ({format_date_de(signed)}) before the ministry "
            f"({format_date_de(ministry)})"
        )
    return None


def received_not_before_district_signature(ctx: GuardContext) -> str | None:
    received: date | None = ctx.values.get("received_on")
    signed: date = ctx.values["on"]
    if received and received < signed:
        return (
            f"the receipt stamp ({format_date_de(received)}) cannot predate the district's "
            f"signature ({format_date_de(signed)})"
        )
    return None


def notice_not_before_signatures(ctx: GuardContext) -> str | None:
    if ctx.options.get("notice_may_predate_signatures"):
        return None
    issued: date = ctx.values["on"]
    for store, who in (("ministry_signed_on", "ministry"), ("district_signed_on", "district")):
        signed = _stored_date(ctx.agreement, store)
        if signed and issued < signed:
            return (
                f"the notice ({format_date_de(issued)}) cannot predate the {who}'s signature "
                f"({format_date_de(signed)}); the workflow option "
                "notice_may_predate_signatures allows it"
            )
    return None


def not_before_review(ctx: GuardContext) -> str | None:
    at = ctx.agreement.fields.get("review_at")
    held: date = ctx.values["held_on"]
    if at:
        review_day = parse_utc(at).astimezone(ctx.zone).date()
        if held < review_day:
            return (
                f"cannot close on a review held {format_date_de(held)}: the review is "
                f"scheduled for {format_date_de(review_day)}"
            )
    return None


def review_not_before_notice(ctx: GuardContext) -> str | None:
    """The review looks at a year's funded work: it comes after the notice that funds it."""
    notice = _stored_date(ctx.agreement, "notice_issued_on")
    at: datetime | None = ctx.values.get("at")
    if notice and at:
        day = at.astimezone(ctx.zone).date()
        if day < notice:
            return (
                f"the review ({format_date_de(day)}) cannot come before the funding notice "
                f"({format_date_de(notice)})"
            )
    return None


GUARDS: dict[str, Guard] = {
    "review_not_before_notice": review_not_before_notice,
    "not_before_ministry_signature": not_before_ministry_signature,
    "received_not_before_district_signature": received_not_before_district_signature,
    "notice_not_before_signatures": notice_not_before_signatures,
    "not_before_review": not_before_review,
}
