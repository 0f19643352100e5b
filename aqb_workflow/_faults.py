"""Named crash points for the fault tests (G1): ``AQB_FAULT=after_update`` kills the process
with SIGKILL when it reaches that point, as a power cut would. Unset, it costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

_FAULT = os.environ.get("AQB_FAULT")


def crash_point(name: str) -> None:
    if name == _FAULT:
        os.kill(os.getpid(), signal.SIGKILL)
