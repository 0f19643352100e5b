"""Which template files a workflow needs, checked when the settings are loaded (no Jinja here:
every command runs this, and importing Jinja costs start-up time).

Usage::

    from aqb_workflow.mail.templates import check_templates

    check_templates(settings.templates, [rule.kind for rule in workflow.rules], workflow_file)

A reminder kind needs ``<kind>.subject.txt``, ``<kind>.txt`` and ``<kind>.html``; the
dispatcher itself plans ``delivery_failed``, so that one is always needed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from aqb_workflow.errors import ConfigError

ALWAYS = ("delivery_failed",)
"""Kinds the software plans itself, whatever the workflow says."""
PARTS = (".subject.txt", ".txt", ".html")


def check_templates(templates: Path, kinds: Iterable[str], workflow_file: Path) -> None:
    """Raise :class:`ConfigError` (exit 2) naming the folder, the first missing file, its kind
    and the workflow file that uses it."""
    if not templates.is_dir():
        raise ConfigError(f"templates folder {templates} does not exist")
    for kind in dict.fromkeys([*kinds, *ALWAYS]):
        for part in PARTS:
            if not (templates / f"{kind}{part}").is_file():
                used = "the dispatcher" if kind in ALWAYS else workflow_file
                raise ConfigError(
                    f"templates folder {templates}: no template {kind}{part} for "
                    f"reminder kind {kind!r} (used by {used})"
                )
