"""Workflow file and templates folder: the packaged defaults when the config names neither; a
named one that is missing, or lacks a template for a reminder kind the workflow uses, is refused
when the settings are loaded (exit 2, one line naming the file and the kind), not at send time."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.conftest import REPO, run_cli

COMMANDS = ("list", "create --district giessen --year 2024 --budget 1", "daemon --once")


def _point(workspace, section: str, key: str, value: str) -> None:
    text = workspace.config.read_text(encoding="utf-8")
    text, n = re.subn(rf"(\[{section}\]\n){key} = \"[^\"]*\"", rf'\g<1>{key} = "{value}"', text)
    assert n == 1
    workspace.config.write_text(text, encoding="utf-8")


def _own_templates(workspace):
    folder = workspace.root / "templates"
    shutil.copytree(REPO / "notifications", folder)
    _point(workspace, "templates", "folder", "templates")
    return folder


def _refused(workspace, cli, *named: str) -> None:
    before = workspace.snapshot()
    for command in COMMANDS:
        result = cli(command, expect=2)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        for part in named:
            assert part in result.stderr, (part, result.stderr)
    assert workspace.snapshot() == before


def test_a_missing_workflow_file_is_refused_naming_it(workspace, cli):
    _point(workspace, "workflow", "file", "states/nirgends.toml")
    _refused(workspace, cli, "workflow.file", "nirgends.toml")


def test_a_missing_templates_folder_is_refused_naming_it(workspace, cli):
    _point(workspace, "templates", "folder", "vorlagen")
    _refused(workspace, cli, "templates.folder", "vorlagen")


@pytest.mark.parametrize("part", [".txt", ".html", ".subject.txt"])
def test_a_templates_folder_without_a_kind_the_workflow_uses_is_refused(workspace, cli, part):
    folder = _own_templates(workspace)
    (folder / f"notice_pending{part}").unlink()
    _refused(workspace, cli, str(folder), "notice_pending", f"notice_pending{part}")


def test_a_workflow_rule_with_a_kind_no_template_exists_for_is_refused(workspace, cli):
    text = workspace.workflow.read_text(encoding="utf-8")
    text += (
        '\n[[reminders]]\nkind = "verwendungsnachweis_due"\nwhen = "closed"\n'
        'anchor = "entered"\noffsets = ["30d"]\nto = ["district"]\n'
    )
    workspace.workflow.write_text(text, encoding="utf-8")
    _refused(workspace, cli, "verwendungsnachweis_due", str(workspace.workflow))


def test_the_delivery_failure_report_needs_its_template_too(workspace, cli):
    folder = _own_templates(workspace)
    (folder / "delivery_failed.txt").unlink()
    _refused(workspace, cli, "delivery_failed")


def test_a_config_naming_neither_uses_the_packaged_workflow_and_templates(tmp_path):
    from tests.conftest import Workspace

    site = tmp_path / "leer"
    site.mkdir()
    ws = Workspace(site)
    ws.config.write_text('[mail]\nbackend = "file"\n\n[users]\nhmsi-aqb = "ministry"\n')
    text = ws.config.read_text()
    ws.config.write_text(text + f'{ws.login} = "admin"\n', encoding="utf-8")
    run_cli(ws, "init")
    run_cli(ws, "create --district giessen --year 2024 --budget 1.266.800")
    run_cli(ws, "transition 2024-giessen sign_ministry on=01.07.2024 by=Hofmann")
    assert "Entwurf" in run_cli(ws, "states").stdout
    run_cli(ws, "contact add --district giessen --role district --name P --email p@x.example")
    run_cli(ws, "reminders list --all")
    assert not (site / "states").exists() and not (site / "notifications").exists()
