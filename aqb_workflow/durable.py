"""Putting a written file in place so that it survives a crash: rename, then sync the folder."""

from __future__ import annotations

import os
from pathlib import Path


def replace_durably(tmp: str | Path, target: Path) -> None:
    """Rename the already fsynced ``tmp`` over ``target`` and fsync the folder, so the rename
    itself is on disk: a reader sees the old file or the new one, and after power loss still
    the new one."""
    os.replace(tmp, target)
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
