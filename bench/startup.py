"""Whole-process start times: ``aqb --help``, ``aqb list --json`` and their floors."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from workspace import MINISTRY, Workspace

from aqb_workflow import services

PYTHON = sys.executable
AQB = str(Path(PYTHON).with_name("aqb"))

Command = tuple[list[str], dict[str, str]]  # argv and environment


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Without AQB_* and PYTHON* variables: an installed aqb, bytecode cache in use."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AQB_", "PYTHON"))}
    env.update(extra or {})
    return env


def run_once(argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> float:
    """Wall time of one process in milliseconds; a failing command is an error, not a time."""
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
    elapsed = (time.perf_counter() - start) * 1000
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {proc.stderr.decode(errors='replace')}")
    return elapsed


def time_commands(commands: Mapping[str, Command], runs: int, cwd: Path) -> dict[str, list[float]]:
    """``runs`` rounds, each running every command once: a load spike hits all of them alike.

    One round first warms the page cache and the bytecode cache; it is not counted.
    """
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(runs + 1):
        for name, (argv, env) in commands.items():
            elapsed = run_once(argv, env, cwd)
            if round_:
                times[name].append(elapsed)
    return times


def create_registry_agreements(workspace: Workspace, year: int = 2024) -> int:
    """One agreement per registry entry valid in ``year``, through services.create."""
    app = workspace.app()
    try:
        entries = [e for e in app.registry if e.valid_in(year)]
        for entry in entries:
            services.create(app, MINISTRY, entry.slug, year, "1266800")
    finally:
        app.db.dispose()
    return len(entries)


def help_imports_sqlalchemy(cwd: Path) -> bool:
    """Whether ``python -X importtime -m aqb_workflow --help`` imports sqlalchemy at all."""
    argv = [PYTHON, "-X", "importtime", "-m", "aqb_workflow", "--help"]
    proc = subprocess.run(argv, env=clean_env(), cwd=cwd, capture_output=True, check=True)
    modules = (line.rsplit("|", 1)[-1].strip() for line in proc.stderr.decode().splitlines())
    return any(m == "sqlalchemy" or m.startswith("sqlalchemy.") for m in modules)


def startup_commands(workspace: Workspace) -> dict[str, Command]:
    env = clean_env()
    list_env = clean_env({"AQB_CONFIG": str(workspace.config)})
    return {
        "python_floor": ([PYTHON, "-c", "pass"], env),
        "import_floor": ([PYTHON, "-c", "import sqlmodel, transitions"], env),
        "help": ([AQB, "--help"], env),
        "help_module": ([PYTHON, "-m", "aqb_workflow", "--help"], env),
        "list": ([AQB, "list", "--json"], list_env),
    }


def measure_startup(workspace: Workspace, runs: int) -> dict[str, float | int | bool]:
    """Median (and best) wall time per command, in ms, over ``runs`` processes each."""
    agreements = create_registry_agreements(workspace)
    times = time_commands(startup_commands(workspace), runs, workspace.root)
    results: dict[str, float | int | bool] = {}
    for name, samples in times.items():
        results[f"{name}_ms"] = statistics.median(samples)
        results[f"{name}_best_ms"] = min(samples)
    results |= {
        "list_agreements": agreements,
        "startup_runs": runs,
        "help_imports_sqlalchemy": help_imports_sqlalchemy(workspace.root),
    }
    return results
