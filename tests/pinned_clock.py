"""The strategies' clock moved to a fixed date for tests trading the example market map.

examples/pm_map.toml's pairs resolve in December 2026 and a pair past its resolution time is
refused, so a test trading it on today's date would start failing once that date passes. The
fixture in conftest.py moves what a strategy reads as now (its context's and its execution
gateways' `now_ms`) to START_MS plus the time elapsed since the test session began (it still
advances, so timeouts and cooldowns behave), and exports the shift in SHIFT_ENV so child
processes (crash tests) do the same after `install_from_env()`. Venues and the node keep the
wall clock: request signatures carry the real time the servers check.
"""

from __future__ import annotations

import os
import time
from typing import Any

START_MS = 1_780_272_000_000  # 2026-06-01T00:00:00Z: every example pair is open and reviewed
SHIFT_ENV = "TG_TEST_CLOCK_SHIFT_MS"
SESSION_SHIFT_MS = START_MS - int(time.time() * 1000)


def shifted_now(shift_ms: int) -> Any:
    """Return a `now_ms` method reading wall time moved by `shift_ms`."""
    return lambda self: int(time.time() * 1000) + shift_ms


def targets() -> list[tuple[type, str]]:
    """The methods a strategy reads the time through."""
    from tradeguard.execution.gateway import OrderPathGateway
    from tradeguard.node.context import NodeContext

    return [(NodeContext, "now_ms"), (OrderPathGateway, "now_ms")]


def install_from_env() -> None:
    """In a child process: take the parent test's moved clock, when it exported one."""
    shift = os.environ.get(SHIFT_ENV)
    if shift:
        for owner, name in targets():
            setattr(owner, name, shifted_now(int(shift)))
