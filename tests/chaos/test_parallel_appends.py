"""Concurrent transitions on different agreements all land, in one unbroken audit chain."""

from __future__ import annotations

import multiprocessing

import pytest

from aqb_workflow.verify import verify
from tests.chaos.test_crash_and_race import _racer
from tests.paths import bring_to


@pytest.mark.parametrize("racers", [4, 8])
def test_parallel_transitions_on_different_agreements_all_land(racers, app, workspace):
    ctx = multiprocessing.get_context("fork")
    for round_ in range(5):
        keys = [bring_to(app, "drafted", year=2001 + round_ * 10 + n) for n in range(racers)]
        barrier, queue = ctx.Barrier(racers), ctx.Queue()
        procs = [
            ctx.Process(
                target=_racer,
                args=(
                    str(workspace.config),
                    barrier,
                    queue,
                    ["transition", key, "sign_ministry", "on=2024-07-01", "by=Hofmann"],
                ),
            )
            for key in keys
        ]
        for proc in procs:
            proc.start()
        results = [queue.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join(timeout=60)
        assert sorted(code for code, _ in results) == [0] * racers, results
    report = verify(app)
    assert report.agreements == 5 * racers
    with app.db.read() as conn:
        states = conn.exec_driver_sql("select distinct state from agreement").all()
        seqs = [r[0] for r in conn.exec_driver_sql("select seq from audit_event order by seq")]
    assert states == [("signed_by_ministry",)]
    assert seqs == list(range(1, len(seqs) + 1))
