"""Reminder rules (from the workflow file) turned into planned reminders. Pure.

A rule says in which states it is active, what it counts from (the anchor), when (offsets in
days ``14d`` or working days ``3wd``, negative = before), how often it repeats, whom it goes to
and which template it uses. ``plan`` computes, for one agreement as it is now, every reminder
that should exist; the outbox then keeps exactly those (and never plans twice what was sent).

Two kinds of date (see ../shared/DOMAIN.md): a deadline (Frist, ``deadline = true``) that ends on
a weekend or holiday ends on the next working day (§ 31 Abs. 3 HVwVfG), so reminders count from
its legal end; a fixed appointment (Termin, the review) never moves. A reminder itself never
goes out on a day off: before its anchor it moves to the working day before, after it to the
working day after.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from aqb_workflow.domain.formats import local_to_utc, parse_utc
from aqb_workflow.errors import ConfigError

RECIPIENT_ROLES = ("district", "ministry_desk", "rp_kassel", "participants")
INVITES = ("none", "request", "cancel")
_OFFSET = re.compile(r"^([+-]?\d{1,3})(d|wd)$")
_RULE_KEYS: dict[str, type | tuple[type, ...]] = {
    "kind": str,
    "label": str,
    "when": (str, list),
    "anchor": str,
    "deadline": bool,
    "offsets": list,
    "repeat_every_days": int,
    "repeat_max": int,
    "to": list,
    "unless": str,
    "if_set": str,
    "invite": str,
    "after": str,
    "on_change": bool,
}


class Calendar(Protocol):
    def deadline_end(self, d: date) -> date: ...
    def on_or_before(self, d: date) -> date: ...
    def on_or_after(self, d: date) -> date: ...
    def add_working_days(self, d: date, n: int) -> date: ...


@dataclass(frozen=True)
class Offset:
    amount: int
    working_days: bool

    @property
    def before(self) -> bool:
        return self.amount < 0

    def text(self) -> str:
        return f"{self.amount:+d}{'wd' if self.working_days else 'd'}"


@dataclass(frozen=True)
class Rule:
    kind: str
    label: str
    states: tuple[str, ...]
    anchor: str  # "entered", "field:<store>", "date:MM-DD"
    deadline: bool
    offsets: tuple[Offset, ...]
    repeat_every_days: int
    repeat_max: int
    to: tuple[str, ...]
    unless: str | None
    if_set: str | None
    invite: str
    #: The kind of the series this rule escalates: it goes out its own interval after the
    #: first reminder of that series was actually sent, never in the same pass.
    after: str | None = None
    on_change: bool = False


@dataclass(frozen=True)
class Planned:
    identity: str  # stable: agreement, rule, anchor value, offset, occurrence
    kind: str
    due_at: datetime  # aware UTC
    to: tuple[str, ...]
    occurrence: int
    max_occurrences: int
    invite: str
    anchor_on: date
    deadline_on: date | None


def parse_offset(text: str, where: str) -> Offset:
    m = _OFFSET.match(text.strip())
    if not m:
        raise ConfigError(f"{where}: offset {text!r} must look like 14d, -3wd or +1wd")
    return Offset(int(m[1]), m[2] == "wd")


def rules_from_data(
    raw: Any, states: Sequence[str], final: Sequence[str], stores: Mapping[str, str], source: str
) -> tuple[Rule, ...]:
    """Validate ``[[reminders]]``; ``stores`` maps field store names to their types."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{source}: reminders must be [[reminders]] tables")
    rules = []
    for index, body in enumerate(raw, start=1):
        where = f"{source}: reminders #{index}"
        if not isinstance(body, dict):
            raise ConfigError(f"{where}: must be a table")
        for key, value in body.items():
            expected = _RULE_KEYS.get(key)
            if expected is None:
                raise ConfigError(f"{where}: unknown key {key!r}")
            if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
                raise ConfigError(f"{where}.{key}: wrong type")
        required = ("kind", "when", "anchor", "to")
        for key in required if body.get("on_change") else (*required, "offsets"):
            if key not in body:
                raise ConfigError(f"{where}: missing {key!r}")
        kind = body["kind"]
        if not re.fullmatch(r"[a-z][a-z0-9_]*", kind):
            raise ConfigError(f"{where}.kind: {kind!r} must be a lower-case template name")
        where = f"{source}: reminders.{kind}"
        when = body["when"]
        active = [s for s in states if s not in final] if when == "*" else when
        if isinstance(active, str):
            active = [active]
        for state in active:
            if state not in states:
                raise ConfigError(f"{where}.when: unknown state {state!r}")
        anchor = body["anchor"]
        if anchor.startswith("field:"):
            field_type = stores.get(anchor[6:])
            if field_type not in ("date", "datetime"):
                raise ConfigError(f"{where}.anchor: {anchor!r} is not a date field")
        elif anchor.startswith("date:"):
            if not re.fullmatch(r"date:(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", anchor):
                raise ConfigError(f"{where}.anchor: {anchor!r} must be date:MM-DD")
        elif anchor != "entered":
            raise ConfigError(
                f"{where}.anchor: {anchor!r} must be entered, field:NAME or date:MM-DD"
            )
        raw_offsets = body.get("offsets", ["0d"])
        offsets = tuple(parse_offset(str(o), f"{where}.offsets") for o in raw_offsets)
        if not offsets:
            raise ConfigError(f"{where}.offsets: give at least one")
        if body.get("on_change") and (
            not anchor.startswith("field:") or offsets != (Offset(0, False),)
        ):
            raise ConfigError(
                f"{where}.on_change: goes out at once when field NAME changes: "
                'needs anchor = "field:NAME" and no offsets other than "0d"'
            )
        for role in body["to"]:
            if role not in RECIPIENT_ROLES:
                raise ConfigError(
                    f"{where}.to: unknown recipient {role!r} ({', '.join(RECIPIENT_ROLES)})"
                )
        for key in ("unless", "if_set"):
            if key in body and body[key] not in stores:
                raise ConfigError(f"{where}.{key}: unknown field {body[key]!r}")
        invite = body.get("invite", "none")
        if invite not in INVITES:
            raise ConfigError(f"{where}.invite: must be one of {', '.join(INVITES)}")
        every, most = body.get("repeat_every_days", 0), body.get("repeat_max", 1)
        if every < 0 or most < 1 or (most > 1 and every < 1):
            raise ConfigError(f"{where}: repeat_every_days must be >= 1 and repeat_max >= 1")
        rules.append(
            Rule(
                kind=kind,
                label=str(body.get("label", kind)),
                states=tuple(active),
                anchor=anchor,
                deadline=body.get("deadline", False),
                offsets=offsets,
                repeat_every_days=every,
                repeat_max=most,
                to=tuple(body["to"]),
                unless=body.get("unless"),
                if_set=body.get("if_set"),
                invite=invite,
                after=body.get("after"),
                on_change=body.get("on_change", False),
            )
        )
    for rule in rules:
        _check_after(rule, rules, f"{source}: reminders.{rule.kind}.after")
    return tuple(rules)


def _check_after(rule: Rule, rules: Sequence[Rule], where: str) -> None:
    """``after`` names a series on the same anchor that starts before the escalation."""
    if rule.after is None:
        return
    series = next((r for r in rules if r.kind == rule.after and r is not rule), None)
    if series is None:
        raise ConfigError(f"{where}: no reminder rule of kind {rule.after!r}")
    if series.after is not None:
        raise ConfigError(f"{where}: {rule.after!r} escalates another series itself")
    if series.anchor != rule.anchor:
        raise ConfigError(
            f"{where}: {rule.after!r} counts from {series.anchor}, this rule from {rule.anchor}; "
            "both must count from the same anchor"
        )
    units = {o.working_days for o in (*rule.offsets, *series.offsets)}
    if len(units) > 1 or any(o.before for o in (*rule.offsets, *series.offsets)):
        raise ConfigError(f"{where}: offsets must all be days (d) or all working days (wd), >= 0")
    if min(o.amount for o in rule.offsets) <= min(o.amount for o in series.offsets):
        raise ConfigError(f"{where}: the escalation must come after the first {rule.after!r}")


def watches_changes(rules: Sequence[Rule], state: str) -> bool:
    """Whether planning in ``state`` needs to know which reminders were sent (``plan(sent=…)``)."""
    return any(rule.on_change and state in rule.states for rule in rules)


def identity_parts(identity: str) -> tuple[str, str]:
    """(kind, anchor value) of a planned reminder's identity."""
    parts = identity.split("|")
    return (parts[1], parts[2]) if len(parts) >= 3 else ("", "")


def invited_values(rules: Sequence[Rule], anchor: str, sent: Sequence[str]) -> list[str]:
    """The values of the field ``anchor`` for which a calendar invitation (``invite =
    "request"``) went out, one per mail sent, in the order of ``sent``."""
    inviting = {r.kind for r in rules if r.invite == "request" and r.anchor == anchor}
    return [value for kind, value in map(identity_parts, sent) if kind in inviting]


def _changes(
    rules: Sequence[Rule],
    active: Sequence[Rule],
    key: str,
    fields: Mapping[str, Any],
    sent: Sequence[str],
    now: datetime,
) -> list[Planned]:
    """The change notices wanted now: an active ``on_change`` rule whose field has a new value
    after an invitation for an earlier value went out. Due at once (staff just made the
    change). The identity counts the invitations sent for other values, so moving a meeting
    back and forth announces every move, and an invitation still in flight during a move is
    corrected by another notice."""
    found = []
    for rule in active:
        if not rule.on_change or (rule.unless and fields.get(rule.unless)):
            continue
        if rule.if_set and not fields.get(rule.if_set):
            continue
        value = str(fields.get(rule.anchor[6:]) or "")
        earlier = [v for v in invited_values(rules, rule.anchor, sent) if v != value]
        if not value or not earlier or ("T" in value and parse_utc(value) < now):
            continue  # nothing invited yet, or the meeting is over
        found.append(
            Planned(
                identity=f"{key}|{rule.kind}|{value}|changed|{len(earlier)}",
                kind=rule.kind,
                due_at=now,
                to=rule.to,
                occurrence=1,
                max_occurrences=1,
                invite=rule.invite,
                anchor_on=now.date(),
                deadline_on=None,
            )
        )
    return found


def anchor_date(
    rule: Rule, fields: Mapping[str, Any], year: int, entered_at: datetime, zone: ZoneInfo
) -> date | None:
    """The local date a rule counts from, or None while the field it needs is not recorded."""
    if rule.anchor == "entered":
        return entered_at.astimezone(zone).date()
    if rule.anchor.startswith("date:"):
        month, day = rule.anchor[5:].split("-")
        return date(year, int(month), int(day))
    value = fields.get(rule.anchor[6:])
    if not value:
        return None
    if "T" in str(value):
        return parse_utc(str(value)).astimezone(zone).date()
    return date.fromisoformat(str(value))


def at_send_time(day: date, send_at: tuple[int, int], zone: ZoneInfo) -> datetime:
    """``send_at`` local time on ``day``, in UTC."""
    naive = datetime.combine(day, time(*send_at))
    try:
        return local_to_utc(naive, zone)
    except Exception:  # 08:00 never falls in a DST gap, but a configured 02:30 might
        return local_to_utc(naive + timedelta(hours=1), zone)


def plan(
    rules: Sequence[Rule],
    *,
    key: str,
    state: str,
    year: int,
    fields: Mapping[str, Any],
    entered_at: datetime,
    calendar: Calendar,
    zone: ZoneInfo,
    send_at: tuple[int, int],
    now: datetime,
    sent: Sequence[str] = (),
) -> list[Planned]:
    """Every reminder the agreement should have now, each due at ``send_at`` local time.

    What is already overdue when planned (a step recorded late) is kept only where it still
    helps: a reminder before an event whose day has passed is dropped, and of a repeated
    reminder only the latest overdue occurrence is kept.

    ``sent`` are the identities of the agreement's reminders already sent (needed only where
    :func:`watches_changes`): an ``on_change`` rule then announces a changed date at once, and
    replaces the invitations that are already overdue for the new date.
    """
    today = now.astimezone(zone).date()
    planned: list[Planned] = []
    changes = _changes(rules, [r for r in rules if state in r.states], key, fields, sent, now)
    for rule in rules:
        if state not in rule.states or rule.on_change:
            continue
        if rule.unless and fields.get(rule.unless):
            continue
        if rule.if_set and not fields.get(rule.if_set):
            continue
        anchor = anchor_date(rule, fields, year, entered_at, zone)
        if anchor is None:
            continue
        deadline = calendar.deadline_end(anchor) if rule.deadline else None
        base = deadline or anchor
        anchor_value = (
            str(fields.get(rule.anchor[6:]))
            if rule.anchor.startswith("field:")
            else (base.isoformat())
        )
        if any(o.before for o in rule.offsets) and base < today:
            continue  # the event itself is over: a reminder before it helps nobody
        for offset in rule.offsets:
            overdue: list[Planned] = []
            for n in range(rule.repeat_max):
                if offset.working_days:
                    day = calendar.add_working_days(base, offset.amount)
                else:
                    day = base + timedelta(days=offset.amount)
                day += timedelta(days=n * rule.repeat_every_days)
                day = calendar.on_or_before(day) if offset.before else calendar.on_or_after(day)
                due = at_send_time(day, send_at, zone)
                item = Planned(
                    identity=f"{key}|{rule.kind}|{anchor_value}|{offset.text()}|{n + 1}",
                    kind=rule.kind,
                    due_at=due,
                    to=rule.to,
                    occurrence=n + 1,
                    max_occurrences=rule.repeat_max,
                    invite=rule.invite,
                    anchor_on=anchor,
                    deadline_on=deadline,
                )
                if due < now:
                    overdue.append(item)
                else:
                    planned.append(item)
            planned += overdue[-1:]
    return _superseded(planned, changes, rules, now) + changes


def _superseded(
    planned: list[Planned], changes: list[Planned], rules: Sequence[Rule], now: datetime
) -> list[Planned]:
    """Without the invitations a change notice replaces: those already due for the new date."""
    anchors = {r.anchor for r in rules for c in changes if r.kind == c.kind}
    replaced = {r.kind for r in rules if r.invite == "request" and r.anchor in anchors}
    return [p for p in planned if not (p.kind in replaced and p.due_at <= now)]


def series_of(identity: str) -> str:
    """The series a planned reminder belongs to: its identity without the occurrence
    (``key|kind|anchor|offset``). Rows added outside the rules have no series of their own."""
    return identity.rsplit("|", 1)[0] + "|"


def rule_prefix(identity: str) -> str:
    """``key|kind|anchor|``: every reminder of one rule for one anchor value, all offsets."""
    return "|".join(identity.split("|")[:3]) + "|"


def superseded(occurrence: int, series: Sequence[tuple[int, datetime]], now: datetime) -> bool:
    """Catch-up: an occurrence not yet sent is superseded once a later occurrence of its
    series (``series``: each row's occurrence and due time) is due too; only the latest due
    one goes out, so a reader never gets three reminders of one thing in one morning."""
    return any(n > occurrence and due <= now for n, due in series)


def escalation_hold(
    rule: Rule,
    series_rule: Rule,
    *,
    first_sent: datetime | None,
    now: datetime,
    calendar: Calendar,
    zone: ZoneInfo,
    send_at: tuple[int, int],
) -> datetime | None:
    """Until when an escalation (``rule.after``) waits, or None when it may go now.

    Its own interval (its offset minus the series' first offset: 35d - 14d = 21 days) counts
    from the first reminder of the series actually sent (or failed for good: the desk was
    told of that failure then, and still hears of the escalation an interval later, so an
    unreachable district is never left out). While none has reached its end, the earliest one
    can is now, so the escalation waits at least its interval from now and is looked at again.
    """
    if first_sent is None:
        first_sent = now
    interval = min(o.amount for o in rule.offsets) - min(o.amount for o in series_rule.offsets)
    start = first_sent.astimezone(zone).date()
    if rule.offsets[0].working_days:
        day = calendar.add_working_days(start, interval)
    else:
        day = calendar.on_or_after(start + timedelta(days=interval))
    gate = at_send_time(day, send_at, zone)
    return gate if gate > now else None


def retry_refusal(row: Mapping[str, Any], now: datetime, *, sender_gone: bool) -> str | None:
    """Why ``aqb reminders retry`` refuses this reminder, or None when it may be sent again:
    failed ones; pending ones that are due (waiting out a backoff after a temporary failure,
    or not yet tried); ones in flight whose sender is gone."""
    status, rid = row["status"], row["id"]
    if status == "failed":
        return None
    if status == "pending":
        if parse_utc(row["due_at"]) <= now or row["attempts"]:
            return None
        return f"reminder {rid} is not due before {row['due_at']}; nothing to retry"
    if status == "sending":
        if sender_gone:
            return None
        return (
            f"reminder {rid} is being sent by {row['claimed_by']} right now "
            f"(its claim runs until {row['claimed_until']}); look again in a moment"
        )
    return f"reminder {rid} is {status}; only failed, waiting or stuck reminders are retried"
