"""Every action is attributed to the person who really did it; districts see only their own."""

from __future__ import annotations

import json

import pytest

from tests.conftest import make_workspace, run_cli
from tests.paths import bring_to


def test_admin_acts_on_behalf_with_the_roles_of_the_person_acted_for(app, cli, workspace):
    bring_to(app, "signed_by_ministry")
    bring_to(app, "signed_by_ministry", district="wetterau")
    # AQB_ACTOR=giessen: the admin login acts for the Gießen district staff
    cli(
        "transition 2024-wetterau sign_district on=2024-07-10 by=S place=Friedberg",
        actor="giessen",
        expect=1,
    )
    cli("transition 2024-giessen sign_district on=2024-07-10 by=S place=Gießen", actor="giessen")
    events = json.loads(cli("history 2024-giessen --json", actor="giessen").stdout)
    assert events[-1]["actor"] == f"{workspace.login} on behalf of giessen"
    assert events[-1]["role"] == "district:giessen"
    refused = json.loads(cli("audit refusals --json").stdout)
    assert refused[0]["actor"] == f"{workspace.login} on behalf of giessen"
    assert "2024-wetterau" in refused[0]["action"]


def test_district_staff_see_only_their_own_agreements(app, cli):
    bring_to(app, "drafted")
    bring_to(app, "drafted", district="wetterau")
    listed = json.loads(cli("list --json", actor="giessen").stdout)
    assert [r["key"] for r in listed] == ["2024-giessen"]
    for command in ("show 2024-wetterau", "history 2024-wetterau", "triggers 2024-wetterau"):
        result = cli(command, actor="giessen", expect=1)
        assert "may not see 2024-wetterau" in result.stderr
    assert len(json.loads(cli("list --json", actor="pruefer").stdout)) == 2
    assert len(json.loads(cli("audit refusals --json").stdout)) == 3
    cli("audit refusals", actor="giessen", expect=1)


@pytest.mark.sqlite_only
def test_a_login_that_is_not_admin_cannot_act_as_someone_else(tmp_path):
    ws = make_workspace(tmp_path / "site", extra_config="")
    text = ws.config.read_text(encoding="utf-8").replace(
        f'{ws.login} = "admin"', f'{ws.login} = "ministry"'
    )
    ws.config.write_text(text, encoding="utf-8")
    run_cli(ws, "init", actor=None)
    run_cli(ws, "create --district giessen --year 2024 --budget 1", actor=None)
    result = run_cli(ws, "transition 2024-giessen withdraw reason=x", actor="root-admin", expect=1)
    assert f"{ws.login} is not an admin and may not act as root-admin" in result.stderr
    history = json.loads(run_cli(ws, "history 2024-giessen --json", actor=None).stdout)
    assert [e["actor"] for e in history] == [ws.login]
