"""Prompt stores of a strategy's state between checkpoints, when the strategy asks for one.

A checkpoint stores every strategy's `state()` every `node.checkpoint_interval_s` (5 s); a
SIGKILL loses what changed since. Some changes must not wait that long: a trailing stop's new
high lost comes back as the older one, and the stop then sits lower (a bigger loss). A
strategy asks with `Strategy.save_soon()`; at the end of the live step (a quote, candle, book or
trade handled, or a pass of the duties, which follow fills) the asking strategies' run states
are written in one commit. Coalesced: at most one write per `node.state_save_interval_s`; an ask
inside the interval is written when it ends (a timer), so a fast market writes a few times a
second at most, and a lone new high is stored at the end of its own step.

```python
saves = StateSaves(node, interval_s=0.2)   # the live loop's; replays store with their commits
saves.step_done()                          # at the end of every live step
```

A store the database refuses (a locked file, a full disk, a lost connection) ends nothing: the
asked states stay due in memory and are tried again (at most once per `RETRY_S`), new orders
halt with a critical alert as for a refused checkpoint (`node.duties.halt_for_write`), so the
step's orders are denied, never sent with their state unstored, and the next checkpoint
written, which stores every strategy's state, lifts that halt.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from tradeguard.execution.held_halts import refusal
from tradeguard.model.enums import TradingState
from tradeguard.node.checkpoint import changing_run_state, stored_state

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode

log = logging.getLogger(__name__)
RETRY_S = 1.0  # the least wait before a refused store is tried again


class StateSaves:
    """Writes the run state of each strategy that asked (`save_due`), coalesced in time."""

    def __init__(self, node: TradingNode, interval_s: float) -> None:
        self.node = node
        self.interval_s = interval_s
        self.next_ok = 0.0  # time.monotonic() before which no write starts
        self.timer: asyncio.TimerHandle | None = None
        self.writes = 0  # commits made (for the run's figures and the benchmark)
        self.failed: Exception | None = None  # what a timed write raised, for the next step
        # strategies whose orders were dropped unsent for a failed write: their state says
        # they went out, so they keep their last stored one (node.checkpoint.state_to_store)
        self.unsent: set[str] = set()
        self.refused = ""  # why the database refused the last store ("" once one is written)

    def step_done(self) -> None:
        """Write now when a strategy asked and the interval allows, else once it ends.

        Never raises: what a write raised (a `state()` JSON cannot hold) is kept in `failed`,
        which the live loop raises (the run stops, as a checkpoint would stop it). A quote's or
        trade's step runs in the hub's stream task, which takes an error for a broken stream and
        reconnects: raised there, it would be logged as one and the run would go on."""
        if self.failed is not None:
            return
        if self.timer is not None or not any(s.save_due for s in self.node.strategies):
            return
        now = time.monotonic()
        if now >= self.next_ok:
            self._write_held(now)
        else:
            loop = asyncio.get_running_loop()
            self.timer = loop.call_at(loop.time() + (self.next_ok - now), self._on_timer)

    def before_orders(self) -> Exception | None:
        """Write the asked states now, whatever the interval, before the step's orders are sent:
        a SIGKILL while an order is with the venue must not bring back a strategy that forgot
        it sent it (a cooldown, a window traded). Stored first, the worst a SIGKILL before the
        order is journaled leaves is a state that says an order went out when none did, which
        the strategies read from their positions and open orders again. Returns what a write
        raised (now or before, `failed`): then no order may go out. A store the database refused
        returns None: trading is halted by then (`_refused`), and the risk check denies them."""
        now = time.monotonic()
        # a store refused lately is not tried again before its wait while its halt denies the
        # orders; that halt lifted (the checkpoint written, a resume), it is tried first
        halted = self.node.risk.state is TradingState.HALTED
        retry = not self.refused or now >= self.next_ok or not halted
        if self.failed is None and retry and any(s.save_due for s in self.node.strategies):
            self._write_held(now)
        return self.failed

    def _on_timer(self) -> None:
        self.timer = None
        self._write_held(time.monotonic())

    def _write_held(self, now: float) -> None:
        try:
            self.write(now)
        except SQLAlchemyError as exc:  # the database's: halt, keep them due, try again
            self._refused(now, exc)
        except Exception as exc:  # the live loop raises it (node.live)
            self.failed = exc

    def _refused(self, now: float, exc: SQLAlchemyError) -> None:
        from tradeguard.node.duties import halt_for_write  # the live loop's, loaded by then

        first = not self.refused
        self.refused = refusal(exc)
        self.next_ok = now + max(self.interval_s, RETRY_S)
        reason = (
            f"a strategy state's store failed ({self.refused}); the states stay in memory and "
            "are stored again, the next checkpoint written lifts this halt"
        )
        if first:
            log.critical("%s", reason)
        halt_for_write(self.node, reason)

    def write(self, now: float) -> None:
        """Store the state of every strategy that asked, in one commit."""
        # a strategy a Ctrl-C abandoned keeps its last stored state (node.checkpoint)
        abandoned = self.node.interrupts.abandoned
        due = [s for s in self.node.strategies if s.save_due and s.id not in abandoned]
        if not due:
            return
        storage = self.node.storage
        try:
            with storage.transaction():
                for strat in due:
                    strat.save_due = False  # an ask made while storing waits for the next step
                    state = changing_run_state(self.node, strat.id)
                    state.state = stored_state(strat)
                    storage.save_run_state(state)
        except BaseException:
            # nothing of it was stored (a commit a locked database refused): still due
            for strat in due:
                strat.save_due = True
            raise
        self.writes += 1
        self.refused = ""
        self.next_ok = now + self.interval_s

    def begin(self) -> list[str]:
        """Start a run (of the node, again in this process): what an earlier run's store raised
        does not end this one. Return the strategies whose orders it dropped unsent: what they
        hold says those went out, the caller gives them their last stored state back."""
        self.failed = None
        dropped, self.unsent = sorted(self.unsent), set()
        return dropped

    def close(self) -> None:
        """Cancel a pending timed write (the stop's last checkpoint stores everything)."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
