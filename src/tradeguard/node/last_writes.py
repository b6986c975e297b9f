"""The stop's last writes, when the database refuses them.

The live loop's last checkpoint and stopped heartbeat, and the node's close (the order journal's
queued rows, the risk state's counters, the audit log), are the writes a stop makes. A locked
SQLite file, a full disk or a lost PostgreSQL connection refusing them ended the stop with the
database's error: the live loop's clean-up cut short, and the message said nothing of what was
lost or what the next start does. Now the stop finishes (strategies stopped, connections
closed, the database disposed) and ends with `DataNotSaved`: one line saying what was not
saved, why, and that the next start reconciles with the venues before any trade (fills are
caught up from the venues, each booked once).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from tradeguard.config import RUNNING_STRATEGIES_KEY
from tradeguard.execution.held_halts import refusal
from tradeguard.model.errors import ConfigError, DataNotSaved, TradeguardError
from tradeguard.node.checkpoint import checkpoint
from tradeguard.node.stats import HEARTBEAT_KEY, wall_ms

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode

log = logging.getLogger(__name__)


def not_saved(what: str, why: str) -> DataNotSaved:
    """The stop's error for `what` the database refused (`why`, the driver's words)."""
    return DataNotSaved(
        f"the node stopped, but {what} was not saved: the database refused it ({why}); what "
        "changed since the last checkpoint written (strategy states, run figures) is lost, "
        "and the next start reconciles with the venues before any trade"
    )


def refused(write: Callable[[], object]) -> str:
    """Run `write`; return the database's refusal of it ("" when written)."""
    try:
        write()
    except SQLAlchemyError as exc:
        return refusal(exc)
    return ""


def last_checkpoint(node: TradingNode) -> TradeguardError | None:
    """Write the live loop's last checkpoint and the heartbeat saying it stopped (so `status`
    does not read the loop as alive); the error to end the run with when they were refused, or
    when a strategy's state could not be stored (its last stored one was, with the rest)."""
    unstorable: dict[str, str] = {}

    def write() -> None:
        unstorable.clear()  # what a rolled-back attempt found is found again
        checkpoint(node, node.clock.now_ms(), unstorable=unstorable)
        beat = {"pid": os.getpid(), "ts": node.clock.now_ms(), "wall_ms": wall_ms()}
        node.storage.kv_set(HEARTBEAT_KEY, {**beat, "stopped": True})

    why = refused(write)
    if why:
        failed: TradeguardError = not_saved("the last checkpoint", why)
        log.critical("%s", failed)
        return failed
    lines = list(unstorable.values())
    for line in lines[1:]:  # the first ends the run, and says so there
        log.error("%s", line)
    return ConfigError(lines[0]) if lines else None


def close_writes(node: TradingNode) -> None:
    """The close's writes: the order journal's queued rows, the risk state's counters and a
    save queued for a commit no one makes now, the audit log, and the running strategies'
    ids let go (`bot add` may take them now). The first the database refuses ends the close
    with `DataNotSaved` (the next would wait out the same lock; the caller disposes of the
    database all the same)."""
    writes = (node.orders.flush, node.risk.flush, node._risk_store.flush, node.flush_audit,
              lambda: node.storage.kv_delete(RUNNING_STRATEGIES_KEY))  # fmt: skip
    for write in writes:
        why = refused(write)
        if why:
            raise not_saved("what the stop writes last (the order journal, the risk state)", why)


@contextmanager
def start_writes(what: str) -> Iterator[None]:
    """A start-up step (`what`: its settlement, its count of the cash flows booked while down)
    whose write the database refuses ends the start with `DataNotSaved` in one line: its
    commit kept nothing, no order was sent, and the next start does it again, once."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise DataNotSaved(
            f"the node did not start: {what} failed, the database refused a write "
            f"({refusal(exc)}); nothing of it was kept and no order was sent: start again once "
            "the database takes writes (it settles and reconciles again)"
        ) from None
