"""Two daemons side by side on PostgreSQL: every due reminder is sent by exactly one of them,
and when one dies mid-run the other takes its work over: at once when it can prove the dead
one gone (same host, process gone), else after the lease runs out."""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack

import pytest

from tests.chaos.test_daemon_kills import clean_pass, plan, query, rows_of
from tests.conftest import make_workspace
from tests.daemon_helpers import daemon, held_back, wait_for
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.postgresql_only


@pytest.fixture
def site(tmp_path):
    server = SmtpServer().start()
    try:
        ws = make_workspace(tmp_path / "site", mail=server.config())
        yield ws, server
    finally:
        server.stop()


def all_sent(ws):
    wanted = [r for r in rows_of(ws) if r["status"] != "cancelled" and not held_back(r)]
    return all(r["status"] == "sent" for r in wanted)


def test_two_daemons_send_each_reminder_exactly_once(site):
    ws, server = site
    due = plan(ws, {"giessen": range(2001, 2011), "wetterau": range(2001, 2011)})
    with ExitStack() as stack:
        first = stack.enter_context(daemon(ws))
        second = stack.enter_context(daemon(ws))
        wait_for("every reminder sent", lambda: all_sent(ws), timeout=60)
        assert first.poll() is None and second.poll() is None
    received = Counter(server.inbox.message_ids())
    assert len(received) == len(due)
    assert set(received.values()) == {1}
    workers = {r["claimed_by"] for r in query(ws, "SELECT claimed_by FROM reminder")}
    assert len(workers - {None}) >= 1


def test_when_one_daemon_dies_mid_send_the_other_takes_over(site):
    ws, server = site
    due = plan(ws, {"giessen": range(2001, 2007)})
    with daemon(ws, AQB_FAULT="after_claim") as doomed:
        doomed.wait(timeout=60)  # killed itself holding one claimed reminder
    with daemon(ws) as survivor:
        # the doomed daemon ran on this host and its process is gone: its claim is taken back
        # at once, not after the five-minute lease
        wait_for("every reminder sent", lambda: all_sent(ws), timeout=60)
        assert survivor.poll() is None
    clean_pass(ws)
    received = Counter(server.inbox.message_ids())
    assert len(received) == len(due) and max(received.values()) == 1
    assert all_sent(ws)
