"""The workflow file (``states/agreement.toml``) validated into one shared ``transitions`` Machine.

``transitions`` accepts unknown states, unreachable states and misspelt callbacks silently, so
this loader does the checking and names the file and key. The Machine is built once and shared
by every agreement: firing moves a throw-away token, never a table row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from transitions import Machine

from aqb_workflow.domain.formats import (
    check_plausible,
    format_utc,
    parse_amount_cents,
    parse_date,
    parse_local_datetime,
    parse_utc,
)
from aqb_workflow.domain.guards import GUARDS, GuardContext
from aqb_workflow.domain.model import ROLE_KINDS, Actor, Agreement, Event
from aqb_workflow.domain.reminders import Rule, rules_from_data
from aqb_workflow.errors import BadInput, ConfigError, Forbidden, Refused

FIELD_TYPES = ("date", "datetime", "amount", "text")
_TOP_KEYS = {"workflow", "options", "states", "triggers", "fields", "reminders"}
_WORKFLOW_KEYS = {"name", "initial"}
_OPTION_KEYS = {"notice_may_predate_signatures": bool}
_STATE_KEYS = {"label": str, "final": bool, "description": str}
_TRIGGER_KEYS = {
    "label": str,
    "from": (str, list),
    "to": str,
    "roles": list,
    "guards": list,
    "fields": dict,
    "description": str,
}
_FIELD_KEYS = {
    "type": str,
    "store": str,
    "label": str,
    "required": bool,
    "default": str,
    "default_from": str,
    "future": bool,
    "amendment": bool,
}
_TRIGGER_ROLES = tuple(r for r in ROLE_KINDS if r not in ("admin", "viewer"))
MAX_TEXT = 2000


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    store: str
    label: str
    required: bool = True
    default: str | None = None
    default_from: str | None = None
    future: bool = False
    amendment: bool = True  # changing it after signing is an amendment (§ 6) needing a reason

    @property
    def optional(self) -> bool:
        """May be left out: not required, or filled from a default."""
        return not self.required or self.default is not None or self.default_from is not None

    def parse(self, raw: str, zone: ZoneInfo, today: date) -> Any:
        """Typed value from what a person typed; raises BadInput naming the field.

        A date or time before 2000 or more than two years after today is refused as a typing
        error (formats.plausible_window).
        """
        what = self.name
        if self.type == "date":
            day = parse_date(raw, what)
            if not self.future and day > today:
                raise BadInput(f"{what}: {day.isoformat()} is in the future")
            check_plausible(day, today, what)
            return day
        if self.type == "datetime":
            instant = parse_local_datetime(raw, zone, what)
            check_plausible(instant.astimezone(zone).date(), today, what)
            return instant
        if self.type == "amount":
            cents = parse_amount_cents(raw, what)
            if cents <= 0:
                raise BadInput(f"{what}: the amount must be positive")
            return cents
        text = raw.strip()
        if not text:
            raise BadInput(f"{what}: must not be empty")
        if len(text) > MAX_TEXT or any(ord(c) < 32 and c not in "\n\t" for c in text):
            raise BadInput(f"{what}: text too long or with control characters")
        return text


def stored(value: Any) -> Any:
    """A parsed value in the form it is stored and audited (JSON-ready)."""
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _typed(spec: FieldSpec, value: Any) -> Any:
    """A stored value back in the type its field parses to (what a guard compares)."""
    if spec.type == "date":
        return date.fromisoformat(str(value))
    if spec.type == "datetime":
        return parse_utc(str(value))
    return value


@dataclass(frozen=True)
class TriggerSpec:
    name: str
    label: str
    sources: tuple[str, ...]
    dest: str
    roles: tuple[str, ...]
    guards: tuple[str, ...]
    fields: dict[str, FieldSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class StateSpec:
    name: str
    label: str
    final: bool = False


class _Token:
    """What the shared Machine moves: a state and nothing else."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


class Workflow:
    def __init__(
        self,
        name: str,
        initial: str,
        states: dict[str, StateSpec],
        triggers: dict[str, TriggerSpec],
        options: dict[str, Any],
        source: str,
        extra_fields: dict[str, FieldSpec] | None = None,
        rules: tuple[Rule, ...] = (),
    ) -> None:
        self.name = name
        self.initial = initial
        self.states = states
        self.triggers = triggers
        self.options = options
        self.source = source
        self.machine = Machine(
            model=None,
            states=list(states),
            initial=initial,
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )
        for trig in triggers.values():
            self.machine.add_transition(trig.name, list(trig.sources), trig.dest)
        self.field_types: dict[str, FieldSpec] = {}
        for trig in triggers.values():
            for spec in trig.fields.values():
                self.field_types.setdefault(spec.store, spec)
        for spec in (extra_fields or {}).values():
            self.field_types.setdefault(spec.store, spec)
        self.rules = rules

    # -- reading ------------------------------------------------------------------------
    def label(self, state: str) -> str:
        spec = self.states.get(state)
        return spec.label if spec else state

    def allowed(self, state: str) -> list[str]:
        """Triggers that may fire from ``state``, in file order."""
        possible = set(self.machine.get_triggers(state)) if state in self.states else set()
        return [t for t in self.triggers if t in possible]

    def is_final(self, state: str) -> bool:
        return self.states[state].final if state in self.states else False

    def refusal(self, agreement: Agreement, trigger: str) -> str:
        allowed = ", ".join(self.allowed(agreement.state)) or "nothing (final state)"
        return (
            f"{agreement.key} is {agreement.state} ({self.label(agreement.state)}); "
            f"{trigger} is not allowed now; allowed now: {allowed}"
        )

    # -- deciding -----------------------------------------------------------------------
    def fire(
        self,
        agreement: Agreement,
        trigger: str,
        raw: Mapping[str, str],
        actor: Actor,
        *,
        today: date,
        now: datetime,
        zone: ZoneInfo,
        comment: str | None = None,
    ) -> tuple[dict[str, Any], Event]:
        """Decide a transition: the field values to store and the event to audit.

        Raises Refused (not allowed now, wrong role, a guard) or BadInput (fields). Changes
        nothing: the caller writes the result in one transaction.
        """
        spec = self.triggers.get(trigger)
        if spec is None:
            raise BadInput(f"unknown trigger {trigger!r}; triggers: {', '.join(self.triggers)}")
        if trigger not in self.allowed(agreement.state):
            raise Refused(self.refusal(agreement, trigger))
        role = actor.role_for(spec.roles, agreement.district)
        if role is None:
            raise Forbidden(
                f"{actor.name} (roles: {', '.join(actor.roles) or 'none'}) may not fire "
                f"{trigger} on {agreement.key}; allowed: {', '.join(spec.roles)}"
                + (" (own district only)" if "district" in spec.roles else "")
            )
        values = self.parse_fields(spec, agreement, raw, today=today, zone=zone)
        context = GuardContext(agreement, values, self.options, zone)
        for name in spec.guards:
            reason = GUARDS[name](context)
            if reason:
                raise Refused(f"{agreement.key}: {reason}")
        token = _Token(agreement.state)
        self.machine.events[trigger].trigger(token)
        changes = {spec.fields[n].store: stored(v) for n, v in values.items()}
        payload: dict[str, Any] = {n: stored(v) for n, v in values.items()}
        for name, fspec in spec.fields.items():
            if fspec.default_from == "budget" and name in raw:
                deviation = values[name] - agreement.budget_cents
                if deviation:
                    payload["deviation_cents"] = deviation
        event = Event(
            agreement=agreement.key,
            event=trigger,
            actor=actor.display,
            role=role,
            at=now,
            from_state=agreement.state,
            to_state=token.state,
            comment=comment,
            payload=payload,
        )
        return changes, event

    # -- editing what was recorded ------------------------------------------------------------
    def recorded(self, agreement: Agreement) -> list[TriggerSpec]:
        """The triggers the agreement has been through: it holds every value they require."""
        return [
            spec
            for spec in self.triggers.values()
            if spec.fields
            and all(f.store in agreement.fields for f in spec.fields.values() if not f.optional)
        ]

    def check_editable(self, agreement: Agreement, store: str) -> None:
        """A value a trigger records is edited only once that trigger has recorded it."""
        owners = [
            spec
            for spec in self.triggers.values()
            if any(f.store == store for f in spec.fields.values())
        ]
        done = self.recorded(agreement)
        if owners and not any(spec in done for spec in owners):
            raise Refused(
                f"{agreement.key}: {store} is recorded by {owners[0].name}, which has not "
                f"happened yet; record it with: aqb transition {agreement.key} {owners[0].name}"
            )

    def check_edit(self, before: Agreement, after: Agreement, zone: ZoneInfo) -> None:
        """Refuse an edit that breaks a guard of a step already taken, with the guard's own
        message (a district signature moved before the ministry's, a close before the review)."""
        broken = self._broken_guards(after, zone)
        for failure in sorted(set(broken) - set(self._broken_guards(before, zone))):
            raise Refused(f"{after.key}: {broken[failure]}")

    def _broken_guards(self, agreement: Agreement, zone: ZoneInfo) -> dict[tuple[str, str], str]:
        """(trigger, guard) -> reason, for each guard of a recorded step the values now break."""
        broken: dict[tuple[str, str], str] = {}
        for spec in self.recorded(agreement):
            values = {
                name: _typed(fspec, agreement.fields[fspec.store])
                for name, fspec in spec.fields.items()
                if agreement.fields.get(fspec.store) is not None
            }
            context = GuardContext(agreement, values, self.options, zone)
            for name in spec.guards:
                reason = GUARDS[name](context)
                if reason:
                    broken[(spec.name, name)] = reason
        return broken

    def parse_fields(
        self,
        spec: TriggerSpec,
        agreement: Agreement,
        raw: Mapping[str, str],
        *,
        today: date,
        zone: ZoneInfo,
    ) -> dict[str, Any]:
        unknown = sorted(set(raw) - set(spec.fields))
        if unknown:
            raise BadInput(
                f"{spec.name}: unknown field {unknown[0]!r}; fields: "
                + ", ".join(self.describe_fields(spec))
            )
        values: dict[str, Any] = {}
        for name, fspec in spec.fields.items():
            if name in raw:
                values[name] = fspec.parse(raw[name], zone, today)
            elif fspec.default is not None:
                values[name] = fspec.parse(fspec.default, zone, today)
            elif fspec.default_from == "budget":
                values[name] = agreement.budget_cents
            elif fspec.required:
                raise BadInput(
                    f"{spec.name} needs {name}=…; fields: " + ", ".join(self.describe_fields(spec))
                )
        return values

    def describe_fields(self, spec: TriggerSpec) -> list[str]:
        return [
            f"{f.name} ({f.type}{', optional' if f.optional else ''})" for f in spec.fields.values()
        ]

    def check_in_use(self, in_use: Mapping[str, list[str]]) -> None:
        """Refuse a definition that would orphan agreements in states it no longer has."""
        gone = {s: keys for s, keys in in_use.items() if s not in self.states}
        if gone:
            listing = "; ".join(
                f"{state}: {', '.join(keys[:5])}{' …' if len(keys) > 5 else ''}"
                for state, keys in sorted(gone.items())
            )
            raise ConfigError(
                f"{self.source}: states still in use by agreements are missing: {listing}"
            )


def _check_keys(where: str, table: Any, allowed: Mapping[str, Any]) -> None:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    for key, value in table.items():
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r}")
        expected = allowed[key]
        if expected is not None and not isinstance(value, expected):
            names = (
                " or ".join(t.__name__ for t in expected)
                if isinstance(expected, tuple)
                else expected.__name__
            )
            raise ConfigError(f"{where}.{key}: must be a {names}")


def workflow_from_data(data: Mapping[str, Any], source: str) -> Workflow:
    """Validate the parsed workflow file and build the Workflow; errors name file and key."""
    for key in data:
        if key not in _TOP_KEYS:
            raise ConfigError(f"{source}: unknown key {key!r}")
    head = data.get("workflow", {})
    _check_keys(f"{source}: workflow", head, dict.fromkeys(_WORKFLOW_KEYS, str))
    options = data.get("options", {})
    _check_keys(f"{source}: options", options, _OPTION_KEYS)
    raw_states = data.get("states")
    if not isinstance(raw_states, dict) or not raw_states:
        raise ConfigError(f"{source}: needs [states.NAME] tables")
    states: dict[str, StateSpec] = {}
    for name, body in raw_states.items():
        where = f"{source}: states.{name}"
        _check_keys(where, body, _STATE_KEYS)
        if "label" not in body:
            raise ConfigError(f"{where}: missing label")
        states[name] = StateSpec(name, body["label"], body.get("final", False))
    initial = head.get("initial")
    if initial not in states:
        raise ConfigError(f"{source}: workflow.initial: unknown state {initial!r}")

    raw_triggers = data.get("triggers")
    if not isinstance(raw_triggers, dict) or not raw_triggers:
        raise ConfigError(f"{source}: needs [triggers.NAME] tables")
    triggers: dict[str, TriggerSpec] = {}
    stores: dict[str, tuple[str, str]] = {}
    for name, body in raw_triggers.items():
        where = f"{source}: triggers.{name}"
        _check_keys(where, body, _TRIGGER_KEYS)
        if name in states:
            raise ConfigError(f"{where}: a trigger cannot share its name with a state")
        for key in ("from", "to", "roles"):
            if key not in body:
                raise ConfigError(f"{where}: missing {key!r}")
        sources_raw = body["from"]
        if sources_raw == "*":
            sources = tuple(s for s, spec in states.items() if not spec.final)
        else:
            sources = (sources_raw,) if isinstance(sources_raw, str) else tuple(sources_raw)
        for state in (*sources, body["to"]):
            if state not in states:
                raise ConfigError(f"{where}: unknown state {state!r}")
        for state in sources:
            if states[state].final:
                raise ConfigError(f"{where}.from: {state!r} is final; nothing leaves it")
        roles = tuple(body["roles"])
        for role in roles:
            if role not in _TRIGGER_ROLES:
                raise ConfigError(
                    f"{where}.roles: unknown role {role!r} (use {', '.join(_TRIGGER_ROLES)})"
                )
        guards = tuple(body.get("guards", ()))
        for guard in guards:
            if guard not in GUARDS:
                raise ConfigError(
                    f"{where}.guards: unknown guard {guard!r} (known: {', '.join(GUARDS)})"
                )
        fields = {
            fname: _field_spec(f"{where}.fields.{fname}", fname, fbody, f"{name}_{fname}", stores)
            for fname, fbody in body.get("fields", {}).items()
        }
        triggers[name] = TriggerSpec(
            name, body.get("label", name), sources, body["to"], roles, guards, fields
        )

    reachable = {initial}
    frontier = [initial]
    while frontier:
        state = frontier.pop()
        for trig in triggers.values():
            if state in trig.sources and trig.dest not in reachable:
                reachable.add(trig.dest)
                frontier.append(trig.dest)
    for state in states:
        if state not in reachable:
            raise ConfigError(f"{source}: states.{state}: unreachable from {initial!r}")
    # every open state needs a way to a final one, or agreements get stuck in it
    finishing = {s for s, spec in states.items() if spec.final}
    grew = True
    while grew:
        grew = False
        for trig in triggers.values():
            for state in trig.sources:
                if trig.dest in finishing and state not in finishing:
                    finishing.add(state)
                    grew = True
    for state in states:
        if state not in finishing:
            raise ConfigError(
                f"{source}: states.{state}: no trigger leads from it to a final state; "
                "add one or mark it final = true"
            )
    raw_fields = data.get("fields", {})
    if not isinstance(raw_fields, dict):
        raise ConfigError(f"{source}: fields must be [fields.NAME] tables")
    extra = {
        fname: _field_spec(f"{source}: fields.{fname}", fname, fbody, fname, stores)
        for fname, fbody in raw_fields.items()
    }
    rules = rules_from_data(
        data.get("reminders"),
        list(states),
        [s for s, spec in states.items() if spec.final],
        {store: ftype for store, (_where, ftype) in stores.items()},
        source,
    )
    return Workflow(
        head.get("name", "agreement"),
        initial,
        states,
        triggers,
        dict(options),
        source,
        extra,
        rules,
    )


def _field_spec(
    fwhere: str, fname: str, fbody: Any, default_store: str, stores: dict[str, tuple[str, str]]
) -> FieldSpec:
    _check_keys(fwhere, fbody, _FIELD_KEYS)
    ftype = fbody.get("type")
    if ftype not in FIELD_TYPES:
        raise ConfigError(
            f"{fwhere}.type: {ftype!r} is not a field type ({', '.join(FIELD_TYPES)})"
        )
    if fbody.get("default_from") not in (None, "budget") or (
        fbody.get("default_from") and ftype != "amount"
    ):
        raise ConfigError(f"{fwhere}.default_from: only 'budget', on an amount")
    store = fbody.get("store", default_store)
    if store in ("budget", "state", "key", "year", "district", "version"):
        raise ConfigError(f"{fwhere}.store: {store!r} is reserved")
    if store in stores and stores[store][1] != ftype:
        raise ConfigError(f"{fwhere}.store: {store!r} is also {stores[store][0]} with another type")
    stores.setdefault(store, (fwhere, ftype))
    spec = FieldSpec(
        name=fname,
        type=ftype,
        store=store,
        label=fbody.get("label", fname),
        required=fbody.get("required", True),
        default=fbody.get("default"),
        default_from=fbody.get("default_from"),
        future=fbody.get("future", False),
        amendment=fbody.get("amendment", True),
    )
    if spec.default is not None:
        try:
            spec.parse(spec.default, ZoneInfo("UTC"), date.max)
        except BadInput as exc:
            raise ConfigError(f"{fwhere}.default: {exc}") from None
    return spec
