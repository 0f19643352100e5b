"""An experiment, not part of ``make bench``: aqb and the floor with the disk taken out.

``os.fsync`` becomes a no-op and both connections run ``synchronous=OFF``, so what is left per
transition is CPU work. Run: ``.venv/bin/python bench/cpu_only.py [N]`` (default 1000).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import event
from sqlite_floor import FloorRunner
from throughput import AqbRunner, reminders_after_fire, seed_agreements
from workspace import clone_workspace, migrated_workspace


def no_fsync(_fd: object) -> None:
    return None


def synchronous_off(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA synchronous=OFF")


def main(count: int) -> None:
    with mock.patch.object(os, "fsync", no_fsync), tempfile.TemporaryDirectory() as tmp:
        aqb_ws = migrated_workspace(Path(tmp) / "aqb")
        keys = seed_agreements(aqb_ws, count)
        floor_ws = clone_workspace(aqb_ws, Path(tmp) / "floor")
        aqb = AqbRunner(aqb_ws)
        event.listen(aqb.app.db.writer, "connect", synchronous_off)
        floor = FloorRunner(floor_ws.database, floor_ws.anchor, reminders_after_fire(aqb_ws, keys))
        floor.conn.execute("PRAGMA synchronous=OFF")
        try:
            for start in range(0, count, 100):
                aqb.fire(keys[start : start + 100])
                floor.fire(keys[start : start + 100])
        finally:
            aqb.close()
            floor.close()
    aqb_ms, floor_ms = aqb.seconds / count * 1000, floor.seconds / count * 1000
    print(f"services.fire {aqb_ms:.3f} ms, floor {floor_ms:.3f} ms per transition (no disk)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
