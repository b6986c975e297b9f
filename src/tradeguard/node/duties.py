"""The live loop's background duties: what runs beside the streams on a schedule of its own.

```python
await duties(node)   # one task of the live loop, cancelled when the loop ends
```

Every pass (`node.kill_poll_interval_s`, at most 0.2 s apart) beats the heartbeat, reads the
kill file, writes a checkpoint and the stored heartbeat when due, sweeps order timeouts and asks
again about unresolved orders. What waits on a venue runs as a task of its own, one at a time of
each kind, so that a venue whose REST hangs (up to `reconcile.call_attempts` x
`reconcile.call_timeout_s` per call) holds neither the heartbeat nor the kill file:

- the kill's cancels (and flatten): the kill file halts trading at once, on the pass that finds
  it; cancelling runs in a task. A kill asked for while one still runs waits for it to end
  (kills queue, each runs whole); a kill cut short by a stop is finished at the next start
  (node.kill_restart);
- periodic settlement and reconciliation, every `node.reconcile_interval_s` from the start of the
  last one; none starts while a kill runs, and the next waits for the last to end. Its report
  is applied the moment it is complete (in the same step of the event loop as the venue's last
  answer: nothing else moves between them), however late that is: a failure halts trading
  unless a halt stands already; a success lifts only a halt the reconciler set itself, never a
  kill's, a loss limit's or an operator's that came meanwhile (`execution.reconcile.gate`).
  Trading blocked by a failed reconciliation thus stays blocked until one succeeds. While a
  reconciliation runs, the order checks leave unresolved orders to it (it asks about them
  itself);
- the order timeouts' cancels and the queries of unresolved orders, one task at a time; a
  reconciliation starts only between two of them;
- the kill's follow-up passes (node.kill_follow).

A checkpoint or heartbeat the database refuses halts new orders instead (`checkpoint_or_halt`),
as a reconciliation's refused write fails it; any other error of a task ends the duties with
it, as an error awaited in the pass did; a stop cancels what still runs and waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable, Coroutine
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from tradeguard.execution.held_halts import halt_held, refusal
from tradeguard.execution.reconcile import ReconcileReport, gate, reconcile_all
from tradeguard.execution.settlement import settle_resolved
from tradeguard.model.enums import TradingState
from tradeguard.model.events import Event, EventKind
from tradeguard.node.cash_flows import apply_cash_flows
from tradeguard.node.kill_follow import FollowUpPasses
from tradeguard.node.kill_restart import finish_interrupted_kill, reconciled
from tradeguard.node.kill_run import execute_kill
from tradeguard.node.loop_errors import stop_task
from tradeguard.node.stats import HEARTBEAT_KEY, wall_ms
from tradeguard.risk.state import CHECKPOINT_BY, ResumeRefused

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode

log = logging.getLogger(__name__)
_HOST = socket.gethostname()  # in the heartbeat: `status` asks this host whether its pid lives
T = TypeVar("T")
Job = Callable[[], Coroutine[Any, Any, Any]]
STOPPED = (
    "the node stopped before this kill's cancels ended: trading stays HALTED and the next "
    "start finishes the kill before any trading"
)


class KillNotFinished(RuntimeError):
    """A queued kill the node stopped before its cancels ended (it was stored: trading stays
    HALTED and the next start finishes it)."""


class OneAtATime(Generic[T]):
    """At most one task of a kind: start one when none runs, take its end, cancel it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.task: asyncio.Task[T] | None = None

    @property
    def busy(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(self, job: Callable[[], Coroutine[Any, Any, T]]) -> bool:
        """Start `job` unless a task still runs; say whether it started."""
        if self.task is not None:
            return False
        self.task = asyncio.create_task(job(), name=self.name)
        return True

    def take(self) -> tuple[bool, T | None]:
        """(True, result) once the task has ended (raising what it raised), else (False, None)."""
        task = self.task
        if task is None or not task.done():
            return False, None
        self.task = None
        if task.cancelled():
            return False, None
        return True, task.result()

    async def stop(self) -> None:
        """Cancel the task if it runs and wait for it; log what one that had ended raised."""
        task, self.task = self.task, None
        await stop_task(task, self.name, log)


class KillRunner:
    """The kills the live loop runs: each asked-for kill's cancels in a task, one at a time."""

    def __init__(self, node: TradingNode) -> None:
        self.node = node
        self.pending: deque[Job] = deque()
        self.running: OneAtATime[Any] = OneAtATime("kill")
        self.waiting: set[asyncio.Future[Any]] = set()  # the reports callers of `run` await

    @property
    def busy(self) -> bool:
        return bool(self.pending) or self.running.busy

    def poll(self) -> None:
        """Read the kill file: when it has appeared, trading halts now; its cancels queue."""
        self.take_loss_flatten()
        request = self.node.kill_switch.poll()
        if request is not None:
            self.add(partial(execute_kill, self.node, request))

    def take_loss_flatten(self) -> None:
        """Queue a loss limit's flatten the moment it is asked for (risk.on_loss_halt), never
        at the next kill-file poll; one a failed reconciliation holds runs after a good one."""
        if self.node.risk.flatten_asked is None:
            return
        request = self.node.kill_switch.take_loss_flatten(reconciled=reconciled(self.node))
        if request is not None:
            self.add(partial(execute_kill, self.node, request))

    def inside(self) -> bool:
        """Whether the running kill task is the caller (a kill it finishes runs in it)."""
        return self.running.task is not None and asyncio.current_task() is self.running.task

    async def run(self, job: Job) -> Any:
        """Queue `job` as a kill (the API's) and return its report once it
        ran; its error goes to the caller, never ends the duties. A caller that stops waiting
        leaves the kill to run."""
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting.add(done)

        async def reported() -> Any:
            try:
                result = await job()
            except asyncio.CancelledError:  # a stop: the caller hears it, never hangs
                if not done.done():
                    done.set_exception(KillNotFinished(STOPPED))
                raise
            except Exception as exc:
                if not done.done():
                    done.set_exception(exc)
                return None
            finally:
                self.waiting.discard(done)
            if not done.done():
                done.set_result(result)
            return result

        self.add(reported)
        return await asyncio.shield(done)

    def add(self, job: Job) -> None:
        self.pending.append(job)
        self.step()

    def step(self) -> None:
        """Take a kill that ended (raising what it raised); start the next one waiting."""
        self.running.take()
        if self.pending and self.running.start(self.pending[0]):
            self.pending.popleft()

    async def stop(self) -> None:
        self.pending.clear()  # triggered (stored) already: the next start finishes the last
        await self.running.stop()
        for done in self.waiting:  # asked for and not run: the caller hears it, never hangs
            if not done.done():
                done.set_exception(KillNotFinished(STOPPED))
        self.waiting.clear()


class OrderChecks:
    """Each pass's order timeouts and queries of unresolved orders, in a task of its own: a
    cancel or a query held by a hung venue holds neither the heartbeat nor the kill file."""

    def __init__(self, node: TradingNode) -> None:
        self.node = node
        self.running: OneAtATime[None] = OneAtATime("orders")

    @property
    def busy(self) -> bool:
        return self.running.busy

    def step(self, reconciling: bool) -> None:
        """Take the checks that ended (raising what they raised); start the next unless they
        still run. Unresolved orders are left to a running reconciliation (it asks itself)."""
        self.running.take()
        self.running.start(partial(self._run, reconciling))

    async def _run(self, reconciling: bool) -> None:
        node = self.node
        await node.timeouts.sweep()
        if node.orders.unknown and not reconciling:
            await node.orders.retry_unknown()

    async def stop(self) -> None:
        await self.running.stop()


class PeriodicReconcile:
    """Settlement and reconciliation every `node.reconcile_interval_s`, in a task of its own."""

    def __init__(self, node: TradingNode, kills: KillRunner, checks: OrderChecks) -> None:
        self.node = node
        self.kills = kills
        self.checks = checks
        self.running: OneAtATime[ReconcileReport] = OneAtATime("reconcile")
        self.next_due = time.monotonic() + node.config.node.reconcile_interval_s

    @property
    def busy(self) -> bool:
        return self.running.busy

    def step(self, now: float) -> None:
        """Take a reconciliation that ended; start one when due and no kill runs."""
        ended, report = self.running.take()
        if ended and report is not None and report.ok:
            # a kill a failed start left unfinished ends now (it cancels: a task of its own)
            self.kills.add(partial(finish_interrupted_kill, self.node))
        if (now >= self.next_due and not self.kills.busy and not self.checks.busy
                and self.running.start(self._run)):  # fmt: skip
            self.next_due = now + self.node.config.node.reconcile_interval_s

    async def _run(self) -> ReconcileReport:
        return await reconcile_periodic(self.node)

    async def stop(self) -> None:
        await self.running.stop()


async def reconcile_periodic(node: TradingNode) -> ReconcileReport:
    """One periodic pass: settlement, reconciliation, its report applied to the trading state
    (`node.reconcile_report` too); the live loop and `tradeguard serve` run it on
    `node.reconcile_interval_s`."""
    # a deposit it found is no profit, as the balance sync's; a database refusal of either
    # fails the reconciliation (the halt) instead of ending the live run
    report = await reconcile_all(node, "periodic", settle=partial(settle_resolved, node),
                                 after=partial(apply_cash_flows, node))  # fmt: skip
    gate(node, report)  # no await since the last answer: applied as it was found
    node.reconcile_report = report
    return report


def checkpoint_or_halt(node: TradingNode) -> None:
    """Write the checkpoint and the stored heartbeat. One the database refuses (a locked
    file, a full disk, a lost connection) halts new orders with a critical alert naming the
    cause instead of ending the run: nothing of it was stored and all of it is due again (the
    strategies' states, the run's figures), written by the next pass's checkpoint, whose
    success lifts that halt (never one set by anyone else). Refused under another's halt, it
    is owed beneath it (`RiskState.halts_beneath`): lifting that one halts by the checkpoint."""
    risk = node.risk
    try:
        node._checkpoint(node.clock.now_ms())
        beat = {"pid": os.getpid(), "host": _HOST, "ts": node.clock.now_ms(),
                "wall_ms": wall_ms()}  # fmt: skip
        node.storage.kv_set(HEARTBEAT_KEY, beat)
    except SQLAlchemyError as exc:
        reason = (f"the checkpoint's write failed ({refusal(exc)}); nothing of it was stored, "
                  "the next checkpoint writes it all")  # fmt: skip
        log.critical("%s", reason)
        halt_for_write(node, reason)
        return
    risk.halts_beneath.pop(CHECKPOINT_BY, None)
    if risk.state is TradingState.HALTED and risk.state_by == CHECKPOINT_BY:
        _lift_held(node)


def halt_for_write(node: TradingNode, reason: str) -> None:
    """Halt by the checkpoint for a write the database refused (lifted by the next checkpoint
    written); under a halt someone else set, the checkpoint's is owed beneath it."""
    risk = node.risk
    if risk.state is not TradingState.HALTED:
        halt_held(risk, reason, CHECKPOINT_BY, node.clock.now_ms())
    elif risk.state_by != CHECKPOINT_BY:
        risk.halts_beneath[CHECKPOINT_BY] = reason


def _lift_held(node: TradingNode) -> None:
    """Lift the checkpoint's own halt; a lift the database cannot store holds in memory as a
    halt does (stored with the next commit, said all the same) instead of ending the run."""
    risk = node.risk
    try:
        risk.lift_own_halt(CHECKPOINT_BY, "the checkpoint was written")
    except ResumeRefused as exc:  # a loss limit's day-long halt came on meanwhile
        log.warning("checkpoint written; trading stays HALTED: %s", exc)
    except SQLAlchemyError as exc:  # the state was set before its store failed
        log.error("checkpoint written; trading is %s, storing it failed (%s): it is stored "
                  "with the next commit", risk.state.value, refusal(exc))  # fmt: skip
        data = {"from": TradingState.HALTED.value, "to": risk.state.value,
                "reason": "the checkpoint was written", "by": CHECKPOINT_BY,
                "stored": False}  # fmt: skip
        risk.emit(Event(EventKind.STATE_CHANGED, node.clock.now_ms(), data,
                        severity="warning"))  # fmt: skip


async def duties(node: TradingNode) -> None:
    """Run the live loop's duties until cancelled; stop what they started on the way out."""
    follow = FollowUpPasses(node)
    kills = KillRunner(node)
    checks = OrderChecks(node)
    reconcile = PeriodicReconcile(node, kills, checks)
    node.kill_runner = kills  # the API's kills queue with the kill file's
    try:
        await _passes(node, follow, kills, reconcile, checks)
    finally:
        node.kill_runner = None
        await reconcile.stop()
        await checks.stop()
        await kills.stop()
        await follow.stop()


async def _passes(
    node: TradingNode,
    follow: FollowUpPasses,
    kills: KillRunner,
    reconcile: PeriodicReconcile,
    checks: OrderChecks,
) -> None:
    cfg = node.config.node
    next_ckpt = next_kill = time.monotonic()
    nap = min(cfg.kill_poll_interval_s, 0.2)
    woke_due: float | None = None
    while True:
        now = time.monotonic()
        # How late the loop woke this task: the event-loop lag the health check reads.
        node.liveness.beat(None if woke_due is None else max(0.0, now - woke_due))
        kills.take_loss_flatten()  # each pass: a loss limit's flatten waits for no poll
        if now >= next_kill:
            kills.poll()
            if not kills.busy:  # a pass reads what the running kill's flatten stores
                # the kill's flatten of what working closes left: not awaited, a hung venue's
                # balance read would hold the beat, the kill file and the timeouts
                follow.start()
            next_kill = now + cfg.kill_poll_interval_s
        kills.step()
        if now >= next_ckpt:
            checkpoint_or_halt(node)
            next_ckpt = now + cfg.checkpoint_interval_s
        reconcile.step(now)
        checks.step(reconciling=reconcile.busy)
        if node.state_saves is not None:  # an ask from on_fill, outside a market-data step
            node.state_saves.step_done()
        woke_due = time.monotonic() + nap
        await asyncio.sleep(nap)
