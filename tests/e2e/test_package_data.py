"""Settings that travel: the default workflow and templates ship inside the package, so a plain
(non-editable) install runs in an empty folder whose config.toml names neither."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from aqb_workflow.bootstrap import os_login
from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
        env={**os.environ, "TMPDIR": str(build)},
        timeout=300,
    )
    [found] = out.glob("aqb_workflow-*.whl")
    return found


def test_the_wheel_carries_the_top_level_workflow_and_templates_byte_for_byte(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for folder, package in (("states", "states"), ("notifications", "notifications")):
            files = sorted(p for p in (REPO / folder).iterdir() if p.is_file())
            assert files, folder
            for path in files:
                name = f"aqb_workflow/{package}/{path.name}"
                assert name in names, name
                assert archive.read(name) == path.read_bytes(), name


def test_a_plain_install_runs_a_year_in_an_empty_folder_with_a_minimal_config(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-t", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    site = tmp_path / "empty"
    site.mkdir()
    (site / "config.toml").write_text(
        '[database]\nurl = "sqlite:///aqb.db"\n\n[mail]\nbackend = "file"\n\n'
        f'[users]\n{os_login()} = "admin"\nhmsi-aqb = "ministry"\n',
        encoding="utf-8",
    )
    # -S: no site hooks, so the editable install of the dev venv cannot shadow the wheel;
    # its dependencies come from the dev venv's site-packages, after the installed wheel.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AQB_", "PYTHON"))}
    env |= {
        "AQB_CONFIG": str(site / "config.toml"),
        "PYTHONPATH": os.pathsep.join([str(target), sysconfig.get_paths()["purelib"]]),
        "AQB_ACTOR": "hmsi-aqb",
    }

    def aqb(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-S", "-m", "aqb_workflow", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=site,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        return proc.stdout

    where = subprocess.run(
        [sys.executable, "-S", "-c", "import aqb_workflow; print(aqb_workflow.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=site,
        check=True,
    ).stdout
    assert where.startswith(str(target)), where
    aqb("init")
    assert "drafted" in aqb("states")
    aqb("create", "--district", "giessen", "--year", "2024", "--budget", "1.266.800")
    aqb("transition", "2024-giessen", "sign_ministry", "on=01.07.2024", "by=Heike Hofmann")
    listed = aqb("reminders", "list", "--all")
    assert "district_signature_pending" in listed
    assert sorted(p.name for p in site.iterdir() if p.suffix == ".toml") == ["config.toml"]
