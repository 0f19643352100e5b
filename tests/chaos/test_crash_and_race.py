"""G1 and G2: a killed transition leaves all or nothing; racing processes leave one winner."""

from __future__ import annotations

import io
import multiprocessing
import os
import signal
import sys
from contextlib import redirect_stderr, redirect_stdout

import pytest

from aqb_workflow.verify import verify
from tests.paths import bring_to

SIGN_DISTRICT = "transition 2024-giessen sign_district on=2024-07-10 by=Schneider place=Gießen"


@pytest.mark.parametrize("point", ["after_update", "after_audit", "before_commit"])
def test_kill_inside_the_transaction_leaves_the_state_before(point, app, workspace, cli):
    bring_to(app, "signed_by_ministry")
    before = workspace.snapshot()
    result = cli(SIGN_DISTRICT, expect=None, env={"AQB_FAULT": point})
    assert result.returncode == -signal.SIGKILL
    assert workspace.snapshot() == before
    assert "signed_by_ministry" in cli("show 2024-giessen").stdout
    cli("audit verify")
    cli(SIGN_DISTRICT)  # and the transition still works afterwards
    cli("audit verify")


def test_kill_after_commit_keeps_the_transition_and_warns_once(app, workspace, cli):
    bring_to(app, "signed_by_ministry")
    result = cli(SIGN_DISTRICT, expect=None, env={"AQB_FAULT": "after_commit"})
    assert result.returncode == -signal.SIGKILL
    assert '"state": "signed_by_district"' in cli("show 2024-giessen --json").stdout
    assert "one event behind" in cli("audit verify").stderr
    cli("transition 2024-giessen issue_notice on=2024-08-05 ref=AZ")
    assert "warning" not in cli("audit verify").stderr


def _racer(config: str, barrier, queue, args: list[str]) -> None:  # runs in a forked process
    os.environ["AQB_CONFIG"] = config
    os.environ["AQB_ACTOR"] = "hmsi-aqb"
    from aqb_workflow.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    sys.argv = ["aqb", *args]
    code = 0
    barrier.wait()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    queue.put((code, err.getvalue()))


@pytest.mark.parametrize("racers", [2, 4, 8])
def test_racing_processes_one_winner_every_round(racers, app, workspace):
    ctx = multiprocessing.get_context("fork")
    rounds = 25
    for n in range(rounds):
        key = bring_to(app, "drafted", year=2001 + n)
        args = ["transition", key, "sign_ministry", "on=2024-07-01", "by=Hofmann"]
        barrier, queue = ctx.Barrier(racers), ctx.Queue()
        procs = [
            ctx.Process(target=_racer, args=(str(workspace.config), barrier, queue, args))
            for _ in range(racers)
        ]
        for proc in procs:
            proc.start()
        results = [queue.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join(timeout=60)
        codes = sorted(code for code, _ in results)
        assert codes == [0] + [1] * (racers - 1), (n, results)
        for code, err in results:
            if code == 1:
                assert "now in state signed_by_ministry" in err or (
                    "is signed_by_ministry" in err
                ), err
                assert "locked" not in err
    report = verify(app)
    assert report.agreements == rounds
    with app.db.read() as conn:
        versions = conn.exec_driver_sql("select distinct version from agreement").all()
    assert versions == [(2,)]
