"""Deliver alerts off the trading loop: bounded queues, one worker per channel, retries.

```python
manager = AlertManager(config, build_channels(config))
bus.subscribe(manager.on_event)   # synchronous, never blocks, never raises
await manager.start()
...
await manager.stop()              # drains for up to config.drain_timeout_s
```

Alerts are part of the unit of work: with `hold` set (true while the caller's transaction is
open), an alert is held until that transaction commits (`seal` in the commit, `release` after
it). Work lost to a crash before its commit never sends its alerts, and a resumed run that
redoes it sends them once. With an `outbox` (`AlertOutbox`) an alert is also written in
that commit and deleted once delivered: a crash before delivery leaves it for the next start
(`resume`), which sends it with the same id.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from tradeguard.alerts.config import AlertsConfig
from tradeguard.alerts.durable import AlertOutbox, with_id
from tradeguard.alerts.performance import PerformanceWatch
from tradeguard.alerts.rules import Alert, alert_for, daily_summary_event
from tradeguard.model.events import Event
from tradeguard.model.market import Candle
from tradeguard.secrets.redact import redact

if TYPE_CHECKING:
    from tradeguard.alerts.channels import Channel

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
_DEDUPE_KEYS_MAX = 4096
COUNTERS = ("enqueued", "sent", "failed", "retried", "dropped", "suppressed", "errors")
# Every title says whether real money is involved; a backtest's alerts carry no mark.
MODE_MARKS = {"live": "[LIVE]", "sandbox": "[SANDBOX]", "paper": "[PAPER]"}


def _truncate(items: list[Any], size: int) -> None:
    """Drop what was appended to `items` since it held `size` (a rolled-back block's)."""
    del items[size:]


class _Pending(threading.local):
    """One thread's alerts held for its open transaction (storage hooks run on the thread that
    commits or rolls back): another thread's commit neither sends nor drops them."""

    def __init__(self) -> None:
        self.held: list[Alert] = []
        self.sealed: list[Alert] = []  # taken into the commit being made
        self.watch_held: list[Event] = []  # events for `performance`, held as alerts are


class AlertManager:
    """Filter events into alerts and deliver them to every channel with retries."""

    def __init__(
        self,
        config: AlertsConfig,
        channels: Sequence[Channel],
        *,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        mode: str = "",
    ) -> None:
        self.config = config
        self.mode = mode
        self._mark = MODE_MARKS.get(mode, "")
        self.channels = list(channels)
        self._sleep = sleep
        self._monotonic = monotonic
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.channel_counters: dict[str, dict[str, int]] = {
            ch.name: dict.fromkeys(("sent", "failed", "retried", "dropped"), 0)
            for ch in self.channels
        }
        self._queues: list[asyncio.Queue[Alert]] = [
            asyncio.Queue(config.queue_size) for _ in self.channels
        ]
        self._last_sent: dict[str, float] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self.performance = PerformanceWatch(config.performance)
        self.hold: Callable[[], bool] | None = None
        # what to undo if the held alerts' transaction rolls back (`StorageCore.on_rollback`)
        self.on_rollback: Callable[[Callable[[], None]], None] | None = None
        # held for the open transaction's commit, per thread as transactions are
        self._pending = _Pending()
        self.outbox: AlertOutbox | None = None

    # producer side: synchronous, O(1), never blocks ----------------------------------------
    def on_event(self, event: Event) -> None:
        """Turn an event into an alert and queue it; never blocks and never raises."""
        try:
            if not self.config.enabled or not self.channels:
                return
            alert = alert_for(event)
            if alert is not None and self.config.rules.enabled(alert.rule):
                self.enqueue(alert)
            if self.hold is not None and self.hold():
                # the trade it reports is not committed yet: a commit that fails takes it
                # back, and the venue's next report of it would count it twice in the windows
                held = self._pending.watch_held
                if self.on_rollback is not None:  # a nested block's rollback takes it back
                    self.on_rollback(partial(_truncate, held, len(held)))
                held.append(event)
            else:
                self._watch(event)
        except Exception:
            self.counters["errors"] += 1
            log.exception("alert rule failed for event %s", event.kind)

    def _watch(self, event: Event) -> None:
        for perf in self.performance.on_event(event):
            if self.config.rules.enabled(perf.rule):
                self.enqueue(perf)

    def on_candle(self, candle: Candle) -> None:
        """Feed a closed candle to the volume watch; never blocks and never raises."""
        try:
            if not self.config.enabled or not self.channels:
                return
            alert = self.performance.on_candle(candle)
            if alert is not None and self.config.rules.enabled(alert.rule):
                self.enqueue(alert)
        except Exception:
            self.counters["errors"] += 1
            log.exception("volume alert failed for candle %s", candle.symbol)

    def marked(self, alert: Alert) -> Alert:
        """Return `alert` with its title prefixed by the node's mode ([LIVE], [PAPER], ...)."""
        mark = self._mark
        if not mark or alert.title.startswith(mark):
            return alert
        return dataclasses.replace(alert, title=f"{mark} {alert.title}")

    def enqueue(self, alert: Alert) -> bool:
        """Queue `alert` for every channel unless rate-limited; return whether it was queued."""
        alert = self.marked(alert)
        interval = self.config.min_interval_s.get(alert.rule, 0.0)
        last = None
        if interval > 0:
            now = self._monotonic()
            last = self._last_sent.get(alert.dedupe_key)
            if last is not None and now - last < interval:
                self.counters["suppressed"] += 1
                return False
            if len(self._last_sent) >= _DEDUPE_KEYS_MAX:
                self._prune(now)
            self._last_sent[alert.dedupe_key] = now
        alert = with_id(alert)
        if self.hold is not None and self.hold():
            held = self._pending.held
            if self.on_rollback is not None:  # a nested block's rollback takes it back
                self.on_rollback(partial(_truncate, held, len(held)))
            held.append(alert)  # the work it reports is not committed yet
            if interval > 0 and self.on_rollback is not None:
                # dropped with a rollback, it was never sent: the work's retry is told then
                self.on_rollback(partial(self._unmark, alert.dedupe_key, last))
            return True
        self._keep([alert])
        self._hand_over(alert)
        return True

    def _unmark(self, key: str, last: float | None) -> None:
        if last is None:
            self._last_sent.pop(key, None)
        else:
            self._last_sent[key] = last

    def seal(self) -> None:
        """Take the held alerts into the commit being made (a storage commit hook)."""
        pending = self._pending
        if pending.held:
            self._keep(pending.held)
            pending.sealed.extend(pending.held)
            pending.held = []

    def _keep(self, alerts: Sequence[Alert]) -> None:
        if self.outbox is None:
            return
        try:
            self.outbox.add(alerts, [ch.name for ch in self.channels])
        except Exception:
            # an alert that cannot be stored is still sent; it must not fail the commit
            self.counters["errors"] += 1
            log.exception("alerts: could not store %d alert(s) for delivery", len(alerts))

    def resume(self, outbox: AlertOutbox) -> int:
        """Keep alerts in `outbox` from now on and queue those a crash left undelivered;
        return how many deliveries were queued."""
        self.outbox = outbox
        queues = {ch.name: q for ch, q in zip(self.channels, self._queues, strict=True)}
        left = outbox.pending(list(queues))
        for channel, alert in left:
            queue = queues[channel]
            if queue.full():
                queue.get_nowait()
                queue.task_done()
            queue.put_nowait(alert)
        return len(left)

    def discard(self) -> None:
        """Drop the alerts held for a commit that rolled back (a storage rollback hook): the
        work they report never became durable."""
        pending = self._pending
        pending.held, pending.sealed, pending.watch_held = [], [], []

    def release(self) -> None:
        """Queue the alerts of the commit just made (a storage after-commit hook), and tell the
        performance watch the trades it committed."""
        pending = self._pending
        sealed, pending.sealed = pending.sealed, []
        for alert in sealed:
            self._hand_over(alert)
        if pending.watch_held:
            held, pending.watch_held = pending.watch_held, []
            try:
                for event in held:
                    self._watch(event)
            except Exception:  # an after-commit hook never raises into the commit's caller
                self.counters["errors"] += 1
                log.exception("performance watch failed after a commit")

    def _hand_over(self, alert: Alert) -> None:
        loop = self._loop
        if loop is not None and self._loop_thread != threading.get_ident() and not loop.is_closed():
            # asyncio queues are not thread-safe: hand over to the loop's thread.
            loop.call_soon_threadsafe(self._put, alert)
        else:
            self._put(alert)

    def _prune(self, now: float) -> None:
        horizon = max(self.config.min_interval_s.values(), default=0.0)
        self._last_sent = {k: t for k, t in self._last_sent.items() if now - t < horizon}

    def _put(self, alert: Alert) -> None:
        self.counters["enqueued"] += 1
        for ch, q in zip(self.channels, self._queues, strict=True):
            if q.full():
                # Drop the oldest: the newest alert is the one the operator needs now.
                q.get_nowait()
                q.task_done()
                self.counters["dropped"] += 1
                self.channel_counters[ch.name]["dropped"] += 1
            q.put_nowait(alert)

    def daily_summary(self, day: str, ts: int, pnl: Decimal, **fields: Any) -> Alert | None:
        """Build the daily P&L summary, queue its alert and return it (None when off).

        `fields` are the optional figures of `daily_summary_event` (equity, fees, trades, ...).
        """
        event = daily_summary_event(day, ts, pnl, **fields)
        alert = alert_for(event)
        if alert is None or not self.config.enabled or not self.config.rules.enabled(alert.rule):
            return None
        alert = self.marked(alert)
        self.enqueue(alert)
        return alert

    # consumer side ----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return bool(self._workers)

    def pending(self) -> int:
        """Return the number of alert deliveries waiting in the queues."""
        return sum(q.qsize() for q in self._queues)

    def stats(self) -> dict[str, int]:
        """Return the counters (sent, failed, retried, dropped, ...) for metrics."""
        return dict(self.counters)

    async def start(self) -> None:
        """Start one delivery worker per channel on the running loop."""
        if self._workers:
            return
        # Queues bind to the event loop that first waits on them: started again on another
        # (a node started by a second `asyncio.run`), fresh ones take what is queued.
        self._queues = [_moved(q) for q in self._queues]
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._workers = [
            asyncio.create_task(self._work(ch, q), name=f"alerts:{ch.name}")
            for ch, q in zip(self.channels, self._queues, strict=True)
        ]

    async def stop(self, timeout_s: float | None = None) -> None:
        """Deliver what is queued for up to `timeout_s`, then stop the workers and channels."""
        timeout = self.config.drain_timeout_s if timeout_s is None else timeout_s
        if self._workers and timeout > 0:
            drained = asyncio.gather(*(q.join() for q in self._queues))
            try:
                await asyncio.wait_for(drained, timeout)
            except TimeoutError:
                log.warning("alerts: %d deliveries left undelivered at stop", self.pending())
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers = []
        for ch, q in zip(self.channels, self._queues, strict=True):
            while not q.empty():
                q.get_nowait()
                q.task_done()
                self.counters["dropped"] += 1
                self.channel_counters[ch.name]["dropped"] += 1
            with contextlib.suppress(Exception):
                await ch.aclose()
        self._loop = None
        self._loop_thread = None

    async def _work(self, channel: Channel, queue: asyncio.Queue[Alert]) -> None:
        while True:
            alert = await queue.get()
            try:
                await self._deliver(channel, alert)
            except Exception:
                # A worker that dies would silence the channel for good.
                self.counters["errors"] += 1
                log.exception("alerts: delivery to %s crashed", channel.name)
            finally:
                queue.task_done()

    async def _deliver(self, channel: Channel, alert: Alert) -> None:
        counters = self.channel_counters[channel.name]
        attempt = 0
        while True:
            try:
                await asyncio.wait_for(channel.send(alert), self.config.timeout_s * 2)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt >= self.config.max_retries:
                    self.counters["failed"] += 1
                    counters["failed"] += 1
                    log.warning(
                        "alerts: gave up on %r via %s after %d attempts: %s",
                        alert.title,
                        channel.name,
                        attempt + 1,
                        redact(str(exc)) or type(exc).__name__,
                    )
                    return
                attempt += 1
                self.counters["retried"] += 1
                counters["retried"] += 1
                await self._sleep(self.config.backoff_s(attempt))
                continue
            self.counters["sent"] += 1
            counters["sent"] += 1
            if self.outbox is not None:
                self._delivered(alert, channel)
            return

    def _delivered(self, alert: Alert, channel: Channel) -> None:
        assert self.outbox is not None
        try:
            self.outbox.delivered(alert.id, channel.name)
        except Exception:
            # sent already: at worst the next start sends it again, with the same id
            self.counters["errors"] += 1
            log.exception("alerts: could not forget delivered alert %s", alert.id)


def build_manager(
    config: AlertsConfig, *, sleep: Sleep = asyncio.sleep, mode: str = ""
) -> AlertManager:
    """Create an AlertManager with a channel for each one configured in `config`.

    `mode` is the node's trading mode; it marks every alert's title ([LIVE], [PAPER], ...).
    """
    from tradeguard.alerts.channels import build_channels

    return AlertManager(config, build_channels(config), sleep=sleep, mode=mode)


def _moved(queue: asyncio.Queue[Alert]) -> asyncio.Queue[Alert]:
    """A new queue (bound to no event loop yet) holding what `queue` holds, in its order."""
    fresh: asyncio.Queue[Alert] = asyncio.Queue(queue.maxsize)
    while not queue.empty():
        fresh.put_nowait(queue.get_nowait())
    return fresh
