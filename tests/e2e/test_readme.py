"""If the README says it, a test runs it: the walkthrough line by line, and the reference."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def walkthrough() -> list[str]:
    block = README.split("<!-- walkthrough:begin")[1].split("<!-- walkthrough:end -->")[0]
    return [line for line in block.splitlines() if line.startswith("aqb ")]


def test_readme_walkthrough_runs_as_written(tmp_path):
    from tests.conftest import make_workspace, run_cli

    ws = make_workspace(tmp_path / "site")
    lines = walkthrough()
    assert len(lines) > 10
    for line in lines:
        result = run_cli(ws, shlex.split(line)[1:], actor=None)
        assert result.returncode == 0, (line, result.stderr)
    assert "audit chain ok" in result.stdout
    shown = run_cli(ws, "show 2024-giessen", actor=None).stdout
    assert "1.250.000,00 €" in shown and "Abgeschlossen" in shown


def test_readme_quick_start_has_exactly_the_two_commands():
    quick = README.split("## Quick start")[1].split("```sh")[1].split("```")[0]
    assert re.findall(r"^make \w+", quick, re.M) == ["make demo", "make test"]


def test_command_reference_matches_the_real_help():
    check = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "cli_reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
