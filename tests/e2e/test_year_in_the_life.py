"""A whole budget year for all Gebietskörperschaften, as it really runs (issue 11, "How to prove
it"): the real CLI and the real daemon as processes, a real SMTP server, the clock moved at the
process boundary with libfaketime.

Last year (Y-1) is set up first: its agreements with their measures (one imported from a
document). They are withdrawn at the end of Y-1 only so that last year's reminders stay out of
this year's inbox (one step each instead of five). Then year Y: most agreements opened from Y-1
with ``aqb year open``, three created with ``aqb create``, two imported from documents; contacts
for every district but one, the ministry desk and RP Kassel. The year is then moved through its
dates: staff steps at their dates, ``aqb daemon --once`` passes at chosen instants, one daemon
running for a while (stopped with SIGTERM) and one killed.

Every mail the server receives is matched one to one against what the test expects, per
recipient: the day (Date header, Europe/Berlin), the agreement, the kind (from the reminder row
named in X-AQB-Reminder), the subject, the instructions in it, and for invitations the
iCalendar METHOD/UID/SEQUENCE. The expected days come from the rules in states/agreement.toml
and the Hessian calendar as ``tests.year_helpers.HessianCalendar`` computes them, not from the
planner.

Problems are collected over the whole year and reported together at the end, so one failing
seam does not hide the others. Nothing here is skipped or expected to fail.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aqb_workflow import services
from aqb_workflow.bootstrap import bootstrap
from aqb_workflow.config import load_settings
from aqb_workflow.domain.registry import Gebietskoerperschaft
from aqb_workflow.store.migrate import upgrade
from aqb_workflow.testing import FixedClock
from tests.conftest import MINISTRY, Workspace, make_workspace
from tests.daemon_helpers import daemon, engine_of
from tests.smtp_server import SmtpServer
from tests.year_helpers import (
    AQB_COMMAND,
    BERLIN,
    Expected,
    FakeTime,
    HessianCalendar,
    Mail,
    document_for_year,
    expected,
    german,
    german_dates,
    local,
    match,
    run_aqb,
    split_mail,
)

DATA = Path(__file__).resolve().parents[1] / "data"
DESK = "desk@hmsi.example"
DESK_NAME = "Referat AQB, Frau Beispiel"
RP = "dez57@rpks.example"
CATEGORIES = ("ausbildungsvorbereitung", "ausbildung", "qualifizierung", "weiterbildung")

# Who does what this year (slugs of DOMAIN.md's table).
IMPORTED = {"wetterau": ("zielvereinbarung-2024-wetteraukreis.txt", 2024)}
IMPORTED["main-kinzig"] = ("zielvereinbarung-2020-main-kinzig-scan.txt", 2020)
IMPORTED_LAST_YEAR = {"kassel-stadt": ("zielvereinbarung-2023-stadt-kassel.txt", 2023)}
CREATED = ("darmstadt", "frankfurt", "giessen")
FILED_EARLY = ("bergstrasse", "hochtaunus")  # application_filed_on recorded in January
NO_CONTACT = "odenwald"  # the poisoned reminder: a district without a contact
FULL = ("giessen", "fulda", "kassel-kreis", "marburg-biedenkopf")  # through the autumn review
LATE = ("vogelsberg", "schwalm-eder", "werra-meissner")  # countersign after all reminders
GAP = ("lahn-dill", "limburg-weilburg", "hersfeld-rotenburg")  # signed before the downtime
NOTICE_LATE = ("darmstadt", "frankfurt")  # RP Kassel needs its reminder
WITHDRAWN_DRAFT = "offenbach-stadt"
REVIEW_UPDATE = frozenset(
    {"review_upcoming", "review_rescheduled", "review_changed", "review_moved", "review_updated"}
)
# The rules of states/agreement.toml the expected days are computed from (kind: anchor,
# offsets, repeat, escalates after); test_the_rules_are_the_ones_the_year_assumes checks them.
ASSUMED_RULES = {
    "application_due": ("date:03-31", ["-14d", "-3wd"], None, None),
    "ministry_signature_pending": ("entered", ["14d"], None, None),
    "district_signature_pending": ("field:ministry_signed_on", ["14d"], 7, None),
    "district_signature_escalation": (
        "field:ministry_signed_on",
        ["35d"],
        None,
        "district_signature_pending",
    ),
    "notice_pending": ("field:district_signed_on", ["21d"], None, None),
    "review_planning": ("date:09-01", ["0d"], None, None),
    "review_upcoming": ("field:review_at", ["-14d", "-2wd"], None, None),
    "review_rescheduled": ("field:review_at", None, None, None),  # on_change: sent at once
    "review_overdue": ("field:review_at", ["1wd"], None, None),
    "review_cancelled": ("entered", ["0d"], None, None),
}
ENGLISH = re.compile(r"\b(reminder|failed|contact|error|sent|due|pending|recipient)\b", re.I)
COMMAND_OF = {  # what the ministry desk is told to run, per kind
    "ministry_signature_pending": "sign_ministry",
    "notice_pending": "issue_notice",
    "review_planning": "schedule_review",
    "review_overdue": "close",
    "delivery_failed": "aqb reminders",
}


def login_of(slug: str) -> str:
    return slug if slug in ("giessen", "wetterau") else f"zv-{slug}"


def district_mail(slug: str) -> str:
    return f"aqb@{slug}.example"


@dataclass
class Year:
    """The running year: workspace, fake clock, calendar, inbox and the problems found."""

    ws: Workspace
    server: SmtpServer
    year: int
    cal: HessianCalendar
    districts: dict[str, Gebietskoerperschaft]
    clock: FakeTime = field(init=False)
    problems: list[str] = field(default_factory=list)
    seen: int = 0
    marks: dict[str, Any] = field(default_factory=dict)
    # (kind, reader, what is wrong) -> the mails it is wrong in: one line per finding
    mail_findings: dict[tuple[str, str, str], list[Mail]] = field(default_factory=dict)
    invites: dict[str, list[dict[str, object]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.clock = FakeTime(local(date(self.year - 1, 12, 1), "10:00"))

    def key(self, slug: str, year: int | None = None) -> str:
        return f"{year or self.year}-{slug}"

    def problem(self, text: str) -> None:
        self.problems.append(text)

    # -- staff steps through the CLI -------------------------------------------------------

    def aqb(self, at: datetime, *args: str, actor: str | None = "hmsi-aqb", expect: int = 0) -> str:
        if at < self.clock.now - timedelta(minutes=1):
            self.problem(f"harness: step at {at} after the clock reached {self.clock.now}")
        if at > self.clock.now:
            self.clock.set(at)
        result = run_aqb(self.ws, list(args), self.clock, actor)
        when = self.clock.now.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M")
        if result.returncode != expect or "Traceback" in result.stderr:
            self.problem(
                f"{when} `aqb {' '.join(args)}` as {actor}: exit {result.returncode}, wanted "
                f"{expect}: {result.stderr.strip()[-300:]}"
            )
        return result.stdout

    def fire(self, day: date, slug: str, trigger: str, *fields: str, actor: str = "hmsi-aqb"):
        self.aqb(local(day, "10:00"), "transition", self.key(slug), trigger, *fields, actor=actor)

    # -- daemon passes ---------------------------------------------------------------------

    def new_mail(self) -> list[Mail]:
        messages = list(self.server.inbox.messages)[self.seen :]
        self.seen += len(messages)
        with engine_of(self.ws).connect() as conn:
            import sqlalchemy as sa

            kinds = dict(conn.execute(sa.text("SELECT id, kind FROM reminder")).all())
        return [mail for msg in messages for mail in split_mail(msg, kinds)]

    def once(self, at: datetime, want: list[Expected], exit_code: int = 0, late=()) -> None:
        """``aqb daemon --once`` at ``at``; the mail it sends must be exactly ``want``."""
        self.aqb(at, "daemon", "--once", actor=None, expect=exit_code)
        self.judge(at, want, late)

    def judge(self, at: datetime, want: list[Expected], late=()) -> None:
        got = self.new_mail()
        when = at.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M")
        missing, unexpected = match(want, got)
        for m in missing:
            self.problem(f"pass {when}: missing mail {m}")
        for m in unexpected:
            self.problem(f"pass {when}: unexpected mail {m}")
        for mail in got:
            self.read(mail, late=mail.key in late)

    # -- what every mail must say ----------------------------------------------------------

    def read(self, mail: Mail, late: bool) -> None:
        reader = {DESK: "ministry desk", RP: "RP Kassel"}.get(mail.to, "district")
        for b in self._mail_problems(mail, late):
            self.mail_findings.setdefault((mail.kind or "?", reader, b), []).append(mail)

    def report(self) -> list[str]:
        lines = list(self.problems)
        for (kind, reader, what), mails in self.mail_findings.items():
            days = sorted({str(m.day) for m in mails})
            lines.append(
                f"{len(mails)} {kind} mail(s) to {reader} ({', '.join(days[:4])}"
                f"{', …' if len(days) > 4 else ''}): {what}; e.g. {mails[0]}"
            )
        return lines

    def _mail_problems(self, mail: Mail, late: bool) -> list[str]:
        slug = mail.key.split("-", 1)[1]
        bad = []
        name = self.districts[slug].name
        if f"AQB {self.year}" not in mail.subject or name not in mail.subject:
            bad.append(f"subject does not name AQB {self.year} and {name}")
        if any(w in mail.text for w in ("Traceback", "None", "Error", "Exception", "{'")):
            bad.append("text carries a Python repr or English exception text")
        prose = "\n".join(line for line in mail.text.splitlines() if "aqb " not in line)
        english = ENGLISH.findall(prose)  # the commands themselves are English
        if english:
            bad.append(f"English words in the text: {sorted(set(english))}")
        if late and "verspätet" not in mail.text:
            bad.append("sent after downtime but not marked 'verspätet'")
        if mail.to == DESK:
            bad += self._desk_problems(mail)
        else:
            bad += self._outside_problems(mail)
        bad += self._invite_problems(mail)
        return bad

    def _desk_problems(self, mail: Mail) -> list[str]:
        """Ministry staff get the command that records the outstanding step."""
        bad = []
        if not AQB_COMMAND.search(mail.text):
            bad.append("desk mail without an aqb command")
        wanted = COMMAND_OF.get(mail.kind or "")
        if wanted and wanted not in mail.text:
            bad.append(f"desk mail does not give the command {wanted!r}")
        if wanted and mail.kind != "delivery_failed" and mail.key not in mail.text:
            bad.append("desk mail does not name the agreement's key")
        return bad

    def _outside_problems(self, mail: Mail) -> list[str]:
        """District offices and RP Kassel act in the real world: what to do, by when, whom
        to ask, and never an aqb command they may not run."""
        bad = []
        if AQB_COMMAND.search(mail.text):
            bad.append("carries an aqb command its reader may not run")
        if not any(d >= mail.day for d in german_dates(mail.text)):
            bad.append("no 'by when' (a German date on or after the mail's day) in the text")
        if DESK not in mail.text:
            bad.append(f"does not say whom to ask ({DESK}, the ministry desk's address)")
        if mail.kind == "application_due":
            end = self.cal.frist_end(date(self.year, 3, 31))
            if german(end) not in mail.text:
                bad.append(f"application mail does not give the Frist's end {german(end)}")
            if "Regierungspräsidium Kassel" not in mail.text and "RP Kassel" not in mail.text:
                bad.append("application mail does not say to send it to RP Kassel")
        if mail.kind == "district_signature_pending":
            if not re.search(r"zurück|senden Sie", mail.text) or "AQB-Referat" not in mail.text:
                bad.append("signature mail does not say to send the signed copy to the desk")
            if "Erinnerung)" in mail.subject and not self._earlier(mail):
                bad.append("first signature mail this district gets is titled 'N. Erinnerung'")
        if mail.kind == "notice_pending" and "Bescheid" not in mail.text:
            bad.append("RP mail does not say which Bescheid is outstanding")
        return bad

    def _earlier(self, mail: Mail) -> bool:
        return any(
            str(m["X-AQB-Agreement"]) == mail.key
            and "Gegenzeichnung" in str(m["Subject"])
            and m is not mail.message
            for m in self.server.inbox.messages[: self.server.inbox.messages.index(mail.message)]
        )

    def _invite_problems(self, mail: Mail) -> list[str]:
        review = (mail.kind or "").startswith("review_") and mail.kind not in (
            "review_planning",
            "review_overdue",
        )
        invite = mail.invite()
        if not review:
            return [] if invite is None else ["carries a calendar invite it should not"]
        if invite is None:
            return ["review mail without an iCalendar invite"]
        self.invites.setdefault(f"{mail.key} {mail.to}", []).append(
            {**invite, "subject": mail.subject, "text": mail.text, "day": mail.day}
        )
        return []


# -- the test ---------------------------------------------------------------------------------


# 2024: the Frist of 31 March falls on Easter Sunday and ends on 2 April; 1 September is a
# Sunday. Other years: AQB_TEST_YEARS=2025,2027 pytest tests/e2e/test_year_in_the_life.py
YEARS = [int(y) for y in os.environ.get("AQB_TEST_YEARS", "2024").split(",")]


@pytest.mark.parametrize("year", YEARS)
def test_a_year_in_the_life(tmp_path: Path, server: SmtpServer, year: int) -> None:
    y = setup(tmp_path, server, year)
    spring(y)
    summer(y)
    autumn(y)
    finish(y)
    found = y.report()
    if found:
        pytest.fail(f"{len(found)} problems in the year:\n" + "\n".join(found), False)


def setup(tmp_path: Path, server: SmtpServer, year: int) -> Year:
    """Y-1 with measures, then year Y: opened, created, imported; contacts."""
    users = "".join(f'{login_of(s)} = "district:{s}"\n' for s in _all_slugs() if login_of(s) != s)
    ws = make_workspace(tmp_path / "site", extra_config=users, mail=server.config())
    settings = load_settings(ws.config)
    prev = local(date(year - 1, 12, 1), "10:00")
    app = bootstrap(settings, clock=FixedClock(prev))
    upgrade(app.db)
    districts = {e.slug: e for e in app.registry if e.valid_in(year)}
    cal = HessianCalendar(range(year - 1, year + 2))
    y = Year(ws, server, year, cal, districts)
    last_year(y, app)
    app.db.dispose()
    opening(y)
    return y


def _all_slugs() -> list[str]:
    import aqb_workflow
    from aqb_workflow.bootstrap import load_registry

    data = Path(aqb_workflow.__file__).parent / "data" / "gebietskoerperschaften.toml"
    return [e.slug for e in load_registry(data)]


def last_year(y: Year, app) -> None:
    """Y-1: an agreement with measures for every district that will be opened from it."""
    for i, slug in enumerate(y.districts):
        if slug in IMPORTED or slug in CREATED or slug in IMPORTED_LAST_YEAR:
            continue
        key = services.create(app, MINISTRY, slug, y.year - 1, str(600_000 + 43_700 * i))
        for n in range(1 + i % 3):
            category = CATEGORIES[(i + n) % 4]
            services.add_measure(app, MINISTRY, key, category, f"Projekt {n + 1} {slug}", None)
    for name, source_year in IMPORTED_LAST_YEAR.values():
        doc = document_for_year(DATA / name, source_year, y.year - 1, y.ws.root / name)
        y.aqb(y.clock.now, "import", str(doc))
    for slug in y.districts:
        key = y.key(slug, y.year - 1)
        if slug not in IMPORTED and slug not in CREATED:
            services.fire(app, MINISTRY, key, "withdraw", {"reason": "Haushaltsjahr beendet"})
    for slug in y.districts:
        if slug != NO_CONTACT:
            services.add_contact(
                app, MINISTRY, slug, "district", f"AQB {slug}", district_mail(slug)
            )
    services.add_contact(app, MINISTRY, None, "ministry_desk", DESK_NAME, DESK)
    services.add_contact(app, MINISTRY, None, "rp_kassel", "RP Kassel, Dezernat 57", RP)


def opening(y: Year) -> None:
    """January: the year opened from Y-1, three created, first edits, the first passes."""
    cal = y.cal
    opened_on = cal.working_day_on_or_after(date(y.year, 1, 8))
    at = local(opened_on, "10:00")
    out = y.aqb(at, "year", "open", str(y.year), "--from", str(y.year - 1), "--json")
    created = {c["key"] for c in json.loads(out or '{"created": []}')["created"]}
    opened = {y.key(s) for s in y.districts if s not in IMPORTED and s not in CREATED}
    if created != opened:
        y.problem(f"year open created {sorted(created ^ opened)} unlike expected")
    for slug, budget in zip(CREATED, ("987.600", "2.150.000", "1.266.800,00"), strict=True):
        y.aqb(at, "create", "--district", slug, "--year", str(y.year), "--budget", budget)
    y.aqb(at, "measure", "add", y.key("giessen"), "--category", "ausbildung", "BAE Gießen")
    y.aqb(at, "measure", "add", y.key("frankfurt"), "--category", "qualifizierung", "Plan B")
    for slug in FILED_EARLY:
        y.aqb(at, "edit", y.key(slug), f"application_filed_on={opened_on:%d.%m.%Y}")
    # The first reproduction: an edit of a row that `year open` wrote.
    y.aqb(at, "edit", y.key("limburg-weilburg"), "budget=1.100.000")
    listed = y.aqb(at, "reminders", "list", "--agreement", y.key("limburg-weilburg"), "--json")
    rows = json.loads(listed or "[]")
    if not rows:
        y.problem(f"no reminders planned for {y.key('limburg-weilburg')} opened from Y-1")
    for row in rows[:1]:
        y.aqb(at, "reminders", "preview", str(row["id"]))
    y.once(local(opened_on, "10:30"), [])

    drafted = [y.key(s) for s in y.districts if s not in IMPORTED]
    m1 = cal.send_day(opened_on, "14d")
    y.once(local(m1, "07:59"), [])  # reminders go out at 08:00, not before
    want = [e for k in drafted for e in expected(m1, k, "ministry_signature_pending", DESK)]
    y.once(local(m1, "09:00"), want)


def spring(y: Year) -> None:
    """The Antrag to RP Kassel (Frist 31 March, § 31 HVwVfG): -14d with one poisoned reminder
    beside the healthy ones, then -3wd with the daemon running as a process."""
    cal = y.cal
    end = cal.frist_end(date(y.year, 3, 31))
    a1, a2 = cal.send_day(end, "-14d"), cal.send_day(end, "-3wd")
    asking = [s for s in y.districts if s not in IMPORTED and s not in FILED_EARLY]
    healthy = [s for s in asking if s != NO_CONTACT]
    want = [e for s in healthy for e in expected(a1, y.key(s), "application_due", district_mail(s))]
    want += expected(a1, y.key(NO_CONTACT), "delivery_failed", DESK)
    y.once(local(a1, "09:00"), want, exit_code=1)

    # The desk adds the missing contact and retries the failed reminder: sent the same day.
    at = local(a1, "10:00")
    y.aqb(
        at,
        "contact",
        "add",
        "--district",
        NO_CONTACT,
        "--role",
        "district",
        "--name",
        f"AQB {NO_CONTACT}",
        "--email",
        district_mail(NO_CONTACT),
    )
    failed = json.loads(y.aqb(at, "reminders", "list", "--failed", "--json") or "[]")
    ids = [r["id"] for r in failed if r.get("agreement") == y.key(NO_CONTACT)]
    if len(ids) != 1:
        y.problem(f"reminders list --failed shows {failed!r}, wanted the one of {NO_CONTACT}")
    for rid in ids:
        y.aqb(at, "reminders", "retry", str(rid))
    want = expected(a1, y.key(NO_CONTACT), "application_due", district_mail(NO_CONTACT))
    y.once(local(a1, "10:05"), want)

    # -3wd: the daemon as a long-running process, started before 08:00, stopped by SIGTERM.
    want = [e for s in asking for e in expected(a2, y.key(s), "application_due", district_mail(s))]
    running_daemon(y, local(a2, "07:59"), want)
    killed_daemon(y, local(a2, "12:00"))
    y.once(local(a2, "12:05"), [])


def running_daemon(y: Year, start: datetime, want: list[Expected]) -> None:
    y.clock.set(start)
    with daemon(y.ws, **y.clock.env()) as proc:
        deadline = time.monotonic() + 120
        while len(y.server.inbox.messages) - y.seen < len({(w.key, w.day) for w in want}):
            if time.monotonic() > deadline or proc.poll() is not None:
                break
            time.sleep(0.2)
        time.sleep(2)  # one more tick: nothing else may come
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except Exception:
            code = None
        if code != 0:
            y.problem(f"daemon started {start:%Y-%m-%d %H:%M} UTC: SIGTERM gave exit {code}")
    y.clock.set(start + timedelta(minutes=5))
    y.judge(start, want)


def killed_daemon(y: Year, start: datetime) -> None:
    """A daemon killed with SIGKILL while idle: the next pass must neither fail nor wait."""
    y.clock.set(start)
    beat = y.ws.root / "aqb-daemon.heartbeat"
    with daemon(y.ws, **y.clock.env()) as proc:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if json.loads(beat.read_text("utf-8")).get("pid") == proc.pid:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        proc.kill()
        proc.wait(timeout=10)
    y.clock.set(start + timedelta(minutes=1))


def summer(y: Year) -> None:
    """Signatures, the reminders that chase them, a downtime of weeks, the imports."""
    cal = y.cal
    s1 = cal.working_day_on_or_after(date(y.year, 6, 3))
    for slug in FULL + LATE + NOTICE_LATE:
        y.fire(s1, slug, "sign_ministry", f"on={s1:%d.%m.%Y}", "by=Heike Hofmann")
    sign_full = cal.working_day_on_or_after(s1 + timedelta(days=5))
    sign_notice_late = cal.working_day_on_or_after(s1 + timedelta(days=3))
    for slug in NOTICE_LATE:
        countersign(y, sign_notice_late, slug)
    for slug in FULL:
        countersign(y, sign_full, slug)
    notice_full = cal.working_day_on_or_after(s1 + timedelta(days=10))
    for slug in FULL:
        notice(y, notice_full, slug)

    # LATE: three weekly reminders, then the escalation; the daemon runs on each of those days.
    days = {cal.send_day(s1, f"{14 + 7 * k}d"): k + 1 for k in range(3)}
    notice_due = cal.send_day(sign_notice_late, "21d")
    escalation = cal.send_day(s1, "35d")
    notice_late_on = cal.add_working_days(notice_due, 2)
    days_of_summer = [*days, notice_due, escalation, notice_late_on]
    plan: dict[date, list[Expected]] = {d: [] for d in days_of_summer}
    for d in days:
        for s in LATE:
            plan[d] += expected(d, y.key(s), "district_signature_pending", district_mail(s))
    for s in NOTICE_LATE:
        plan[notice_due] += expected(notice_due, y.key(s), "notice_pending", RP, DESK)
    for s in LATE:
        plan[escalation] += expected(escalation, y.key(s), "district_signature_escalation", DESK)
    for d in sorted(plan):
        y.once(local(d, "09:00"), plan[d])
        if d == notice_late_on:
            for slug in NOTICE_LATE:
                notice(y, d, slug)
    if notice_late_on > escalation:
        y.problem("calendar assumption broken: notice_pending after the escalation")

    # The downtime: no daemon from s2 until restart. GAP signed by the ministry at s2.
    s2 = cal.working_day_on_or_after(escalation + timedelta(days=1))
    restart = cal.working_day_on_or_after(s2 + timedelta(days=42))
    for slug in GAP:
        y.fire(s2, slug, "sign_ministry", f"on={s2:%d.%m.%Y}", "by=Heike Hofmann")
    late_signed = cal.working_day_on_or_after(escalation + timedelta(days=2))
    for slug in LATE:
        countersign(y, late_signed, slug)
    imported_on = cal.working_day_on_or_after(date(y.year, 8, 5))
    for slug, (name, source_year) in IMPORTED.items():
        doc = document_for_year(DATA / name, source_year, y.year, y.ws.root / name)
        at = local(imported_on, "10:00")
        y.aqb(at, "import", str(doc))
        y.aqb(at, "edit", y.key(slug), f"application_filed_on=15.03.{y.year}")
    if not s2 < late_signed < imported_on < restart:
        y.problem("calendar assumption broken: downtime dates out of order")

    # After the downtime: each series once, its latest due reminder, marked late.
    want = []
    for s in GAP:
        want += expected(restart, y.key(s), "district_signature_pending", district_mail(s))
    for s in (*LATE, *IMPORTED):
        want += expected(restart, y.key(s), "notice_pending", RP, DESK)
    y.once(local(restart, "09:00"), want, late={y.key(s) for s in (*GAP, *LATE, *IMPORTED)})
    after = cal.add_working_days(restart, 1)
    y.once(local(after, "09:00"), [])  # the rest of the series is not sent the next day

    for slug in (*LATE, *IMPORTED):
        notice(y, after, slug)
    gap_signed = cal.add_working_days(restart, 3)
    for slug in GAP[:2]:
        countersign(y, gap_signed, slug)
    # The escalation waits its own interval (35d - 14d) after the first reminder sent.
    gap_escalation = cal.send_day(restart, "21d")
    gap_notice = cal.send_day(gap_signed, "21d")
    plan = {gap_escalation: [], gap_notice: []}
    plan[gap_escalation] += expected(
        gap_escalation, y.key(GAP[2]), "district_signature_escalation", DESK
    )
    for s in GAP[:2]:
        plan[gap_notice] += expected(gap_notice, y.key(s), "notice_pending", RP, DESK)
    y.marks.update(restart=restart, gap_signed=gap_signed, plan=plan)


def countersign(y: Year, day: date, slug: str) -> None:
    seat = y.districts[slug].seat
    y.fire(
        day,
        slug,
        "sign_district",
        f"on={day:%d.%m.%Y}",
        "by=Landrätin",
        f"place={seat}",
        f"received_on={day:%d.%m.%Y}",
        actor=login_of(slug),
    )


def notice(y: Year, day: date, slug: str) -> None:
    y.fire(
        day,
        slug,
        "issue_notice",
        f"on={day:%d.%m.%Y}",
        f"ref=RPKS 57 - {y.key(slug)}",
        actor="rp-kassel",
    )


def autumn(y: Year) -> None:
    """Planning, invitations, a reschedule before and one after the invitation, a withdrawal
    after it, a review not closed in time."""
    cal = y.cal
    plan: dict[date, list[Expected]] = y.marks["plan"]
    steps: dict[date, list[Callable[[], None]]] = {}

    def add(day: date, want: list[Expected]) -> None:
        plan.setdefault(day, []).extend(want)

    scheduled = cal.add_working_days(y.marks["gap_signed"], 1)
    review = cal.working_day_on_or_after(date(y.year, 10, 15))
    for slug in FULL:
        y.fire(
            scheduled,
            slug,
            "schedule_review",
            f"at={review:%d.%m.%Y} 10:00",
            f"location=Kreishaus {y.districts[slug].seat}",
        )
    planning = cal.send_day(date(y.year, 9, 1), "0d")
    for s in (*NOTICE_LATE, *LATE, *IMPORTED):
        add(planning, expected(planning, y.key(s), "review_planning", DESK))
    if not scheduled < planning:
        y.problem("calendar assumption broken: reviews scheduled after 1 September")

    # fulda: moved before the invitation went out: only the invitation carries the new date.
    fulda_moved_on = cal.add_working_days(planning, 1)
    fulda_review = cal.working_day_on_or_after(date(y.year, 10, 17))
    steps.setdefault(fulda_moved_on, []).append(
        lambda: y.fire(
            fulda_moved_on, "fulda", "reschedule_review", f"at={fulda_review:%d.%m.%Y} 10:00"
        )
    )
    invite = cal.send_day(review, "-14d")
    participants = {s: (district_mail(s), DESK) for s in FULL}
    for s in ("giessen", "kassel-kreis", "marburg-biedenkopf"):
        add(invite, expected(invite, y.key(s), "review_upcoming", *participants[s]))
    fulda_invite = cal.send_day(fulda_review, "-14d")
    add(
        fulda_invite,
        expected(fulda_invite, y.key("fulda"), "review_upcoming", *participants["fulda"]),
    )
    add(
        cal.send_day(fulda_review, "-2wd"),
        expected(
            cal.send_day(fulda_review, "-2wd"),
            y.key("fulda"),
            "review_upcoming",
            *participants["fulda"],
        ),
    )

    # giessen: moved the working day after its invitation: the next pass sends the change.
    moved_on = cal.add_working_days(invite, 1)
    new_review = cal.working_day_on_or_after(moved_on + timedelta(days=7))
    # kassel-kreis: withdrawn after its invitation: the next pass cancels it.
    withdrawn_on = cal.add_working_days(invite, 3)
    reminder_day = cal.send_day(review, "-2wd")
    add(
        reminder_day,
        expected(
            reminder_day,
            y.key("marburg-biedenkopf"),
            "review_upcoming",
            *participants["marburg-biedenkopf"],
        ),
    )
    g_reminder = cal.send_day(new_review, "-2wd")
    add(
        g_reminder,
        expected(g_reminder, y.key("giessen"), "review_upcoming", *participants["giessen"]),
    )
    overdue = cal.add_working_days(review, 1)
    add(overdue, expected(overdue, y.key("marburg-biedenkopf"), "review_overdue", DESK))
    for d in (
        invite,
        fulda_invite,
        reminder_day,
        g_reminder,
        overdue,
        moved_on,
        withdrawn_on,
        fulda_review,
        new_review,
    ):
        plan.setdefault(d, [])
    if not (invite < moved_on < withdrawn_on < reminder_day and moved_on < g_reminder):
        y.problem("calendar assumption broken: review dates out of order")

    for day in sorted(set(plan) | set(steps)):
        y.once(local(day, "09:00"), plan.get(day, []))
        for step in steps.get(day, []):
            step()
        if day == moved_on:
            y.fire(moved_on, "giessen", "reschedule_review", f"at={new_review:%d.%m.%Y} 10:00")
            change = expected(moved_on, y.key("giessen"), REVIEW_UPDATE, *participants["giessen"])
            y.once(local(moved_on, "10:30"), change)
        if day == withdrawn_on:
            y.fire(withdrawn_on, "kassel-kreis", "withdraw", "reason=Träger entfällt")
            y.fire(withdrawn_on, WITHDRAWN_DRAFT, "withdraw", "reason=Keine Einigung")
            cancel = expected(
                withdrawn_on,
                y.key("kassel-kreis"),
                "review_cancelled",
                *participants["kassel-kreis"],
            )
            y.once(local(withdrawn_on, "10:30"), cancel)
        if day == overdue:
            y.aqb(
                local(overdue, "12:00"),
                "transition",
                y.key("marburg-biedenkopf"),
                "close",
                f"held_on={review:%d.%m.%Y}",
            )
        if day == fulda_review:
            y.aqb(
                local(day, "18:00"),
                "transition",
                y.key("fulda"),
                "close",
                f"held_on={day:%d.%m.%Y}",
            )
        if day == new_review:
            y.aqb(
                local(day, "18:00"),
                "transition",
                y.key("giessen"),
                "close",
                f"held_on={day:%d.%m.%Y}",
            )
    check_invites(y, review, new_review, fulda_review)


def check_invites(y: Year, review: date, new_review: date, fulda_review: date) -> None:
    """One UID per meeting; METHOD:REQUEST with a higher SEQUENCE for the change after the
    invitation, CANCEL after the withdrawal; titled as a change, old and new date in it."""
    for who, sent in y.invites.items():
        key = who.split(" ")[0]
        uids = {s["uid"] for s in sent}
        if len(uids) != 1:
            y.problem(f"{who}: invitations carry {len(uids)} UIDs: {uids}")
        seqs = [int(s["sequence"]) for s in sent]  # type: ignore[call-overload]
        if seqs != sorted(seqs):
            y.problem(f"{who}: SEQUENCE goes down: {seqs}")
        methods = [s["method"] for s in sent]
        if key.endswith("kassel-kreis"):
            if methods != ["REQUEST", "CANCEL"] or seqs[-1] <= seqs[0]:
                y.problem(f"{who}: wanted REQUEST then CANCEL with a higher SEQUENCE: {sent}")
        elif methods != ["REQUEST"] * len(methods):
            y.problem(f"{who}: methods {methods}, wanted REQUEST only")
        if key.endswith("giessen") and len(sent) >= 2:
            change = sent[1]
            if int(change["sequence"]) <= int(sent[0]["sequence"]):  # type: ignore[call-overload]
                y.problem(f"{who}: the change does not raise SEQUENCE: {seqs}")
            subject = str(change["subject"]).lower()
            if not any(w in subject for w in ("verlegt", "geändert", "änderung", "neuer termin")):
                y.problem(f"{who}: the change is not titled as one: {change['subject']!r}")
            for d in (review, new_review):
                if german(d) not in str(change["text"]):
                    y.problem(f"{who}: the change does not name {german(d)}")
        dates = [s["start"] for s in sent if s["method"] == "REQUEST"]
        for earlier, (i, later) in zip(dates, enumerate(sent[1:], 1), strict=False):
            if later["start"] == earlier and str(later["subject"]).count("Einladung"):
                y.problem(
                    f"{who}: mail {i + 1} about the same meeting is titled as an invitation "
                    f"again, not as a reminder: {later['subject']!r}"
                )
        if key.endswith("fulda"):
            first = sent[0]
            if first["start"] is None or first["start"].date() != fulda_review:
                y.problem(f"{who}: fulda's invitation is not for {fulda_review}: {first['start']}")


def finish(y: Year) -> None:
    """December: nothing left to send, nothing stuck, the audit chain intact."""
    end = y.cal.working_day_on_or_after(date(y.year, 12, 2))
    y.once(local(end, "09:00"), [])
    with engine_of(y.ws).connect() as conn:
        import sqlalchemy as sa

        rows = conn.execute(
            sa.text(
                "SELECT id, agreement, kind, status FROM reminder WHERE status IN "
                "('pending', 'sending', 'failed')"
            )
        ).all()
    for row in rows:
        y.problem(f"reminder left {row[3]}: {tuple(row)}")
    y.aqb(local(end, "10:00"), "audit", "verify")
    for slug in y.districts:
        y.aqb(local(end, "10:00"), "show", y.key(slug))


# -- the harness itself -----------------------------------------------------------------------


def test_faketime_moves_the_clock_of_a_child_process_and_sqlite_works_under_it(tmp_path):
    """libfaketime at the process boundary: Python's datetime.now sees the fake instant and
    runs on from it; a timed wait (what the daemon's loop does) waits, not hangs; SQLite in WAL
    mode writes and reads under it."""
    import subprocess
    import sys

    clock = FakeTime(local(date(2024, 3, 31), "07:30"))  # Easter Sunday, summer time from 03:00
    script = (
        "import datetime, sqlite3, sys, threading\n"
        "c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA journal_mode=WAL')\n"
        "c.execute('CREATE TABLE t (at TEXT)')\n"
        "now = datetime.datetime.now(datetime.UTC).isoformat()\n"
        "c.execute('INSERT INTO t VALUES (?)', (now,))\n"
        "c.commit(); threading.Event().wait(1.2)\n"
        "print(c.execute('SELECT at FROM t').fetchone()[0])\n"
        "print(datetime.datetime.now(datetime.UTC).isoformat())\n"
        "print(c.execute('PRAGMA journal_mode').fetchone()[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "t.db")],
        env={"PATH": "/usr/bin:/bin", **clock.env()},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.split()
    first, later = datetime.fromisoformat(out[0]), datetime.fromisoformat(out[1])
    assert first.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M") == "2024-03-31 07:30"
    assert timedelta(seconds=1) < later - first < timedelta(seconds=10)
    assert out[2] == "wal"


@pytest.mark.parametrize(
    ("frist", "end"),
    [
        (date(2024, 3, 31), date(2024, 4, 2)),  # Easter Sunday, then Ostermontag
        (date(2025, 6, 19), date(2025, 6, 20)),  # Fronleichnam (DOMAIN.md)
        (date(2025, 3, 31), date(2025, 3, 31)),  # a Monday: no move
        (date(2026, 12, 24), date(2026, 12, 24)),  # a closure day is no holiday
        (date(2027, 10, 3), date(2027, 10, 4)),  # Tag der Deutschen Einheit on a Sunday
    ],
)
def test_the_harness_calendar_knows_hessen(frist: date, end: date) -> None:
    cal = HessianCalendar(range(2024, 2028))
    assert cal.frist_end(frist) == end


def test_the_harness_send_days() -> None:
    cal = HessianCalendar(range(2024, 2026))
    end = cal.frist_end(date(2024, 3, 31))
    assert cal.send_day(end, "-14d") == date(2024, 3, 19)
    assert cal.send_day(end, "-3wd") == date(2024, 3, 26)  # over Karfreitag and Ostermontag
    assert cal.send_day(date(2024, 10, 17), "-14d") == date(2024, 10, 2)  # 3 Oct: day before
    assert cal.send_day(date(2024, 9, 1), "0d") == date(2024, 9, 2)  # a Sunday: day after
    assert cal.send_day(date(2024, 12, 10), "14d") == date(2024, 12, 27)  # 24-26 Dec off
    assert german(date(2024, 7, 1)) == "1. Juli 2024"
    assert german_dates("bis zum 2. April 2024 beim RP") == [date(2024, 4, 2)]


def test_the_rules_are_the_ones_the_year_assumes() -> None:
    """The expected days above follow these rules of states/agreement.toml; if an operator
    changes them, the year's expectations must change with them."""
    import tomllib

    from tests.conftest import REPO

    rules = tomllib.loads((REPO / "states" / "agreement.toml").read_text("utf-8"))["reminders"]
    got = {
        r["kind"]: (r["anchor"], r.get("offsets"), r.get("repeat_every_days"), r.get("after"))
        for r in rules
    }
    assert got == ASSUMED_RULES
