"""Server-side exits of bot positions: stop-loss, take-profit, trailing stop and time stop.

```python
manager = ExitManager(host)            # host: positions, orders, submit, persistence, clock
manager.add(ExitPlan.parse("alpha", "paper", "BTC/USDT", {"stop_loss_pct": "2"}, entry_order))
await manager.on_price("BTC/USDT", Decimal("41000"))   # may send a reduce-only market order
```

Rules are percentages of the position's average entry, so a market entry needs no price. Each
plan is stored by the host on every change of state and reloaded at start, so exits hold across
restarts. A firing rule sends one reduce-only market order for the whole position through the
host's `submit` (the normal order path: risk, journal, venue). A plan ends as soon as a fill
closes its position. Where the venue is switched to `native_exits`, the stop-loss and take-profit
rest on the venue instead (`bots.native_exits`), and an armed trailing stop moves the resting stop
up behind the price; the trailing and time stops are also enforced here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from tradeguard.bots.native_exits import (
    NativeHost,
    cancel_native,
    place_native,
    resting_stop,
    short_of,
    trailing_level,
)
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.errors import TradeguardError
from tradeguard.model.fill import Fill
from tradeguard.model.order import Order, OrderIntent

log = logging.getLogger(__name__)

_HUNDRED = Decimal(100)
EXIT_FIELDS = (
    "stop_loss_pct",
    "take_profit_pct",
    "trailing_activation_pct",
    "trailing_distance_pct",
)
_SAVE_BEST_EVERY_MS = 1_000
_RETRY_MS = 5_000


class ExitError(TradeguardError):
    """An exit rule is malformed; the message names the field, the value and the range."""


class ExitHost(NativeHost, Protocol):
    """What the exit manager needs from the node around it."""

    def position(self, venue: str, symbol: str, bot: str) -> tuple[Decimal, Decimal, int]:
        """Return (signed quantity an order can close, average entry, opened ms) of the bot's
        position."""

    def order_open(self, client_order_id: str) -> bool:
        """Tell whether the order may still fill (working or unresolved)."""

    def closing(self, venue: str, symbol: str, bot: str) -> Decimal:
        """What the bot's closing orders on the symbol being sent to trade now (market, IOC,
        FOK) have left to fill (not counting orders resting on the book, exits or not)."""

    def resting_closes(self, venue: str, symbol: str, bot: str) -> list[str]:
        """The bot's closing orders on the symbol resting on the book that are not its exits
        (a limit sell at a target): they may never end, and hold the coins an exit sells."""

    async def submit_exit(self, intent: OrderIntent) -> str | None:
        """Send the intent down the order path; return its client order id, or None if denied."""

    def save_plan(self, key: str, bot: str, doc: dict[str, Any]) -> None: ...

    def delete_plan(self, key: str) -> None: ...

    def now_ms(self) -> int: ...

    def on_wall_clock(self) -> bool:
        """Tell whether time is the wall's (live, sandbox), not a replay's."""


def _pct(name: str, value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool | float) or not isinstance(value, str | int | Decimal):
        raise ExitError(f'{name}={value!r} must be a decimal string such as "2.5"')
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise ExitError(f"{name}={value!r} is not a decimal number") from None
    if not d.is_finite() or not 0 < d <= 100:
        raise ExitError(f"{name}={value} must be > 0 and <= 100 (percent of entry)")
    return d


@dataclass(slots=True)
class ExitPlan:
    """The exit rules of one bot position, and how far they have got."""

    bot: str
    venue: str
    symbol: str
    stop_loss_pct: Decimal | None = None
    take_profit_pct: Decimal | None = None
    trailing_activation_pct: Decimal | None = None
    trailing_distance_pct: Decimal | None = None
    time_stop_s: int | None = None
    entry_order: str | None = None
    active: bool = False  # the position has been seen open
    opened_ms: int = 0
    best: Decimal | None = None
    armed: bool = False  # the trailing stop follows the best price
    exiting: str | None = None  # the client order id of the exit order in flight
    reason: str | None = None
    saved_ms: int = 0
    retry_ms: int = 0  # after a refused exit order, the next try waits until then
    native: bool = False  # stop-loss / take-profit rest on the venue (bots.native_exits)
    native_orders: list[str] = field(default_factory=list)  # their client order ids
    native_stop: Decimal | None = None  # where the trailing stop moved the resting stop
    native_moved_ms: int = 0  # when it last did
    native_moving: bool = False  # between cancelling the resting exits and placing them again

    @property
    def key(self) -> str:
        return f"{self.venue}|{self.symbol}|{self.bot}"

    @classmethod
    def parse(
        cls, bot: str, venue: str, symbol: str, doc: dict[str, Any], entry_order: str | None
    ) -> ExitPlan | None:
        """Build a plan from request fields; None when no rule is given."""
        pcts = {k: _pct(k, doc.get(k)) for k in EXIT_FIELDS}
        time_stop = doc.get("time_stop_s")
        if time_stop is not None and (
            isinstance(time_stop, bool) or not isinstance(time_stop, int)
            or not 1 <= time_stop <= 30 * 86_400
        ):  # fmt: skip
            raise ExitError(f"time_stop_s={time_stop!r} must be a whole number from 1 to 2592000")
        if pcts["trailing_activation_pct"] is not None and pcts["trailing_distance_pct"] is None:
            raise ExitError("trailing_activation_pct needs trailing_distance_pct")
        if all(v is None for v in pcts.values()) and time_stop is None:
            return None
        return cls(
            bot, venue, symbol, pcts["stop_loss_pct"], pcts["take_profit_pct"],
            pcts["trailing_activation_pct"], pcts["trailing_distance_pct"], time_stop, entry_order,
        )  # fmt: skip

    def to_doc(self) -> dict[str, Any]:
        """Return the plan as a JSON-ready document (Decimals as strings)."""
        out: dict[str, Any] = {}
        for name in self.__slots__:
            v = getattr(self, name)
            out[name] = str(v) if isinstance(v, Decimal) else v
        return out

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ExitPlan:
        """Rebuild a stored plan."""
        plan = cls(doc["bot"], doc["venue"], doc["symbol"])
        for name, v in doc.items():
            if name in ("bot", "venue", "symbol") or not hasattr(plan, name):
                continue
            if name in (*EXIT_FIELDS, "best", "native_stop") and v is not None:
                v = Decimal(v)
            setattr(plan, name, v)
        return plan

    def rules_json(self) -> dict[str, Any]:
        """The rules alone, for API answers."""
        out: dict[str, Any] = {k: _s(getattr(self, k)) for k in EXIT_FIELDS}
        out["time_stop_s"] = self.time_stop_s
        return out


def _s(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


def evaluate(
    plan: ExitPlan, entry: Decimal, long: bool, price: Decimal, now_ms: int, on_venue: bool = False
) -> str | None:
    """Feed a price; return "stop_loss", "take_profit", "trailing_stop", "time_stop" or None.

    `on_venue`: the stop-loss and take-profit rest on the venue, only the other rules run here.
    """
    if plan.best is None or (price > plan.best if long else price < plan.best):
        plan.best = price
    move_pct = ((price - entry) if long else (entry - price)) / entry * _HUNDRED
    if not on_venue:
        if plan.stop_loss_pct is not None and move_pct <= -plan.stop_loss_pct:
            return "stop_loss"
        if plan.take_profit_pct is not None and move_pct >= plan.take_profit_pct:
            return "take_profit"
    distance = plan.trailing_distance_pct
    if distance is not None:
        best = plan.best
        if not plan.armed:
            best_move = ((best - entry) if long else (entry - best)) / entry * _HUNDRED
            plan.armed = best_move >= (plan.trailing_activation_pct or Decimal(0))
        if plan.armed:
            retrace = ((best - price) if long else (price - best)) / best * _HUNDRED
            if retrace >= distance:
                return "trailing_stop"
    if plan.time_stop_s is not None and now_ms >= plan.opened_ms + plan.time_stop_s * 1000:
        return "time_stop"
    return None


class ExitManager:
    """Hold the exit plans of bot positions and enforce them on every price."""

    def __init__(self, host: ExitHost) -> None:
        self.host = host
        self.plans: dict[str, ExitPlan] = {}
        self._by_symbol: dict[str, list[str]] = {}
        self._busy: set[str] = set()  # plans with a step under way (a step awaits the venue)
        self._lifted: set[str] = set()  # plans whose venue exits a bot's own close cancelled
        self._tasks: set[asyncio.Task[None]] = set()
        # by (venue, symbol), for retries without a new price ("" venue: untagged data)
        self._last_price: dict[tuple[str, str], Decimal] = {}
        # whether a plan's venue trades on a venue's market data (the node's market state tells)
        self.follows: Callable[[str, str], bool] = lambda venue, source: venue == source
        self._saved_best: dict[str, Decimal | None] = {}  # by plan key: the best last stored

    def load(self, docs: list[dict[str, Any]]) -> None:
        """Take the stored plans (at start)."""
        for doc in docs:
            self._index(ExitPlan.from_doc(doc))

    def add(self, plan: ExitPlan) -> None:
        """Start enforcing `plan` (replacing any plan of the same position) and store it."""
        host = self.host
        fixed = plan.stop_loss_pct is not None or plan.take_profit_pct is not None
        trails = plan.trailing_distance_pct is not None
        plan.native = host.native_exits(plan.venue) and (
            fixed or (trails and host.trailing_interval_ms(plan.venue) > 0)
        )
        self._index(plan)
        self._save(plan)
        if plan.native:
            self._kick(plan.key)  # the entry may have filled already

    def on_fill(self, fill: Fill, order: Order | None) -> None:
        """After a fill of a bot: end the plan of a closed position, or place its venue exits."""
        if order is None:
            return
        key = f"{order.venue}|{order.symbol}|{order.strategy_id}"
        if key in self.plans:
            self._kick(key)

    def _qty(self, plan: ExitPlan) -> Decimal:
        return self.host.position(plan.venue, plan.symbol, plan.bot)[0]

    def _kick(self, key: str, price: Decimal | None = None) -> None:
        """Run a step of plan `key` soon (a fill listener cannot await)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # the next price does it
        task = loop.create_task(self._step_key(key, price))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _retry_later(self, plan: ExitPlan) -> None:
        """Try a refused exit again once the pause is over, at the symbol's latest price, even
        if the market sends no new price by then (a quiet market must not keep a stop waiting)."""
        if not self.host.on_wall_clock():
            return  # a replay's next candle brings the next price, at a time the data fixes
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return

        def again() -> None:
            price = self._price_for(plan)
            if price is not None and plan.key in self.plans:
                self._kick(plan.key, price)

        loop.call_later(_RETRY_MS / 1000 + 0.05, again)

    def remove(self, key: str) -> None:
        """Stop enforcing the plan of one position."""
        plan = self.plans.pop(key, None)
        self._saved_best.pop(key, None)
        if plan is not None:
            self._by_symbol[plan.symbol].remove(key)
            self.host.delete_plan(key)

    async def release(self, venue: str, symbol: str, bot: str) -> bool:
        """Cancel the venue exits of a position about to be closed another way; the engine
        enforces the plan's rules from then on. Tell whether nothing rests on the venue."""
        plan = self.plans.get(f"{venue}|{symbol}|{bot}")
        if plan is None or not plan.native_orders:
            return True
        if not await cancel_native(self.host, plan):
            return False
        plan.native, plan.native_orders = False, []
        self._save(plan)
        return True

    async def lift(self, venue: str, symbol: str, bot: str) -> bool:
        """Cancel the venue exits of a position before the bot's own close is sent (they hold
        the coins it sells, and one firing meanwhile would sell twice); tell whether nothing
        rests. The plan is saved as moving first and left alone by price steps until `settle`:
        a node dying in between places the exits again at restart (none once the close
        filled), and a close refused gets them back at once."""
        key = f"{venue}|{symbol}|{bot}"
        plan = self.plans.get(key)
        if plan is None or not plan.native_orders:
            return True
        if key in self._busy:  # a step is changing them; the bot sends the close again
            return False
        self._busy.add(key)
        plan.native_moving = True
        self._save(plan)
        try:
            cancelled = await cancel_native(self.host, plan)
        except BaseException:  # cancelled meanwhile: `settle` places what is left again
            self._lifted.add(key)
            raise
        if not cancelled:
            plan.native_moving = False
            self._save(plan)
            self._busy.discard(key)
            return False
        plan.native_orders = []
        self._save(plan)
        self._lifted.add(key)
        return True

    def close_sent(self, venue: str, symbol: str, bot: str, client_order_id: str) -> None:
        """The lifted position's close is journaled: while it may fill, no exit is placed."""
        plan = self.plans.get(f"{venue}|{symbol}|{bot}")
        if plan is not None and plan.key in self._lifted:
            plan.exiting = client_order_id
            self._save(plan)

    def settle(self, venue: str, symbol: str, bot: str) -> None:
        """The bot's close after `lift` is done: a position still open gets its exits back."""
        key = f"{venue}|{symbol}|{bot}"
        if key in self._lifted:
            self._lifted.discard(key)
            self._busy.discard(key)
            self._kick(key)

    def for_bot(self, bot: str) -> list[ExitPlan]:
        """Return the bot's plans."""
        return [p for p in self.plans.values() if p.bot == bot]

    def _index(self, plan: ExitPlan) -> None:
        if plan.key not in self.plans:
            self._by_symbol.setdefault(plan.symbol, []).append(plan.key)
        self.plans[plan.key] = plan

    def _save(self, plan: ExitPlan) -> None:
        plan.saved_ms = self.host.now_ms()
        self._saved_best[plan.key] = plan.best
        self.host.save_plan(plan.key, plan.bot, plan.to_doc())

    @property
    def by_symbol(self) -> Mapping[str, list[str]]:
        """The plans' keys by symbol, live: `on_price` does nothing for a symbol without any."""
        return self._by_symbol

    async def on_price(self, symbol: str, price: Decimal, venue: str = "") -> None:
        """Check every plan on `symbol` against `price` of `venue` (only plans trading on that
        venue's data; untagged prices reach every plan); send exits that fire."""
        keys = self._by_symbol.get(symbol)
        if not keys:
            return
        last = self._last_price
        last.pop((venue, symbol), None)  # newest last: a retry reads the latest it follows
        last[(venue, symbol)] = price
        for key in list(keys):
            plan = self.plans.get(key)
            if venue and plan is not None and not self.follows(plan.venue, venue):
                continue  # another venue's price says nothing of this venue's position
            await self._step_key(key, price)

    def _price_for(self, plan: ExitPlan) -> Decimal | None:
        """The latest price of the plan's symbol on its own venue (else untagged)."""
        for (venue, symbol), price in reversed(self._last_price.items()):
            if symbol == plan.symbol and venue and self.follows(plan.venue, venue):
                return price
        return self._last_price.get(("", plan.symbol))

    async def _step_key(self, key: str, price: Decimal | None) -> None:
        plan = self.plans.get(key)
        if plan is None or key in self._busy:
            return
        self._busy.add(key)
        try:
            await self._step(plan, price)
        finally:
            self._busy.discard(key)

    async def _finish(self, plan: ExitPlan) -> None:
        """The position is closed: cancel what still rests on the venue, then drop the plan."""
        if plan.native_orders and not await cancel_native(self.host, plan):
            return  # a cancel failed: the next step tries again
        self.remove(plan.key)

    async def _step(self, plan: ExitPlan, price: Decimal | None) -> None:
        host = self.host
        if plan.exiting is not None:
            if host.order_open(plan.exiting):
                return
            plan.exiting = None  # filled (the position check below ends the plan) or refused
        qty, entry, opened_ms = host.position(plan.venue, plan.symbol, plan.bot)
        if qty == 0:
            pending = plan.entry_order is not None and host.order_open(plan.entry_order)
            if plan.active or not pending:
                await self._finish(plan)
            return
        changed = not plan.active
        if not plan.active:
            plan.active, plan.opened_ms = True, opened_ms or host.now_ms()
        if plan.native and await self._native(plan, qty, entry):
            if plan.key not in self.plans:
                return  # ended while its exits were being replaced
            changed = True
        if price is None:
            if changed:
                self._save(plan)
            return
        before = (plan.best, plan.armed)
        now = host.now_ms()
        reason = evaluate(plan, entry, qty > 0, price, now, bool(plan.native_orders))
        if reason is not None and host.closing(plan.venue, plan.symbol, plan.bot):
            # Another close of the position is working (the bot's own closing trade, a close
            # by hand): one close at a time, or both sell the position. If it ends with the
            # position still open, the rule fires again at the next price.
            reason = None
        elif reason is not None and not await self.clear_closes(plan.venue, plan.symbol, plan.bot):
            reason, plan.retry_ms, changed = None, now + _RETRY_MS, True
            self._retry_later(plan)
        if reason is None and plan.native and await self._trail_on_venue(plan, qty, entry, now):
            return
        if reason is not None and plan.native_orders:
            # Still resting: never sell twice. A failed cancel is tried again after the pause,
            # at the last price even if the market goes quiet, not at every price before it.
            if now < plan.retry_ms:
                reason = None
            elif not await cancel_native(host, plan):
                reason, plan.retry_ms, changed = None, now + _RETRY_MS, True
                self._retry_later(plan)
        if reason is not None and plan.native_orders:
            plan.native, plan.native_orders = False, []
            qty = self._qty(plan)
            if qty == 0:  # a venue exit filled while being cancelled
                await self._finish(plan)
                return
        if reason is not None and now >= plan.retry_ms:
            side = Side.SELL if qty > 0 else Side.BUY
            intent = OrderIntent(
                plan.bot, plan.venue, plan.symbol, side, abs(qty), OrderType.MARKET,
                reduce_only=True, signal={"exit": reason, "price": str(price)},
                tag=f"exit:{reason}",
            )  # fmt: skip
            plan.exiting = await host.submit_exit(intent)
            plan.reason = reason
            if plan.exiting is None:
                plan.retry_ms = now + _RETRY_MS
                self._retry_later(plan)
            changed = True
            log.info("bot %s: %s on %s at %s", plan.bot, reason, plan.symbol, price)
        elif plan.armed != before[1] or (
            # against the best last stored, not the step's: a high inside the second after a
            # store is stored by a later price, even one that sets no new high
            plan.best != self._saved_best.get(plan.key, before[0])
            and now - plan.saved_ms >= _SAVE_BEST_EVERY_MS
        ):
            changed = True
        if changed:
            self._save(plan)

    async def clear_closes(self, venue: str, symbol: str, bot: str) -> bool:
        """Cancel the bot's closing orders resting on the book before a close is sent (a target
        that is never reached would hold the stop back for good, and holds the coins the close
        sells); tell whether none is left open."""
        host = self.host
        ids = host.resting_closes(venue, symbol, bot)
        for cid in ids:
            try:
                await host.cancel(cid)
            except Exception as exc:  # tried again after the pause; the exit waits till then
                log.warning("bot %s: cancel of closing order %s failed: %s", bot, cid, exc)
        return not any(host.order_open(cid) for cid in ids)

    async def _native(self, plan: ExitPlan, qty: Decimal, entry: Decimal) -> bool:
        """Place the venue exits once the entry is done; tell whether the plan changed."""
        host = self.host
        if plan.native_orders:
            # Still resting: done, unless a move of the stop the process did not live to
            # finish left them there (cancel, then place below).
            resting = any(host.order_open(cid) for cid in plan.native_orders)
            if resting and not plan.native_moving:
                if not self._grown(plan, plan.native_orders, qty):
                    return False
                return await self._cover(plan, entry)
            if resting and not await cancel_native(host, plan):
                return False
            if not plan.native_moving:
                # Every venue exit ended and the position is still open (expired, cancelled by
                # hand, a stop-limit that missed): the engine takes the rules over.
                log.warning("bot %s: venue exits %s ended; the engine enforces them", plan.bot,
                            plan.native_orders)  # fmt: skip
                plan.native, plan.native_orders = False, []
                return True
            plan.native_orders = []  # cancelled by a move the process did not live to finish
        if plan.entry_order is not None and host.order_open(plan.entry_order):
            return False  # size the exits on the whole entry
        if not host.native_exits(plan.venue):  # switched off since the plan was made
            plan.native = False
            return True
        if plan.take_profit_pct is None and plan.stop_loss_pct is None and plan.native_stop is None:
            return False  # a trailing stop not armed yet: nothing rests, nothing to look up
        adopted = host.plan_orders(plan.key)
        if adopted and self._grown(plan, adopted, qty):
            # The pair of the position before a bot added to it (a new entry's plan takes the
            # position's key over): it would leave the added part without a stop on the venue.
            plan.native_orders = adopted
            return await self._cover(plan, entry)
        placed = await place_native(host, plan, qty, entry)
        plan.native_moving = False
        return placed

    def _grown(self, plan: ExitPlan, ids: list[str], qty: Decimal) -> bool:
        """Tell whether resting exits cover less than the position, now that no entry of the
        plan is still working (the position may still grow until then)."""
        if plan.entry_order is not None and self.host.order_open(plan.entry_order):
            return False
        return short_of(self.host, ids, qty)

    async def _cover(self, plan: ExitPlan, entry: Decimal) -> bool:
        """Replace resting exits that cover less than the grown position with a pair for all of
        it: cancel, then place (both would hold the same coins). The plan is saved as moving
        first, so a process dying between the two steps places the pair after restart."""
        host = self.host
        log.info("bot %s: position on %s grew; exit orders %s are replaced for all of it",
                 plan.bot, plan.symbol, plan.native_orders)  # fmt: skip
        plan.native_moving = True
        self._save(plan)
        if not await cancel_native(host, plan):
            return True  # still resting: the next step cancels again, then places
        await self._place_for_rest(plan, entry)
        return True

    async def _place_for_rest(self, plan: ExitPlan, entry: Decimal) -> bool:
        """After the resting pair is cancelled: place one for what is still held, or finish
        the plan when a venue exit filled meanwhile; tell whether a pair was placed."""
        plan.native_orders = []
        left = self._qty(plan)
        if left == 0:  # a venue exit filled while being cancelled
            await self._finish(plan)
            return False
        await place_native(self.host, plan, left, entry)
        plan.native_moving = False
        return True

    async def _trail_on_venue(self, plan: ExitPlan, qty: Decimal, entry: Decimal, now: int) -> bool:
        """Move the resting stop up to the armed trailing stop's level (cancel, then place),
        at most once per the venue's interval; tell whether it did (the plan is saved)."""
        host = self.host
        interval = host.trailing_interval_ms(plan.venue)
        if interval <= 0 or now - plan.native_moved_ms < interval:
            return False
        if plan.entry_order is not None and host.order_open(plan.entry_order):
            return False
        long = qty > 0
        tick = host.price_tick(plan.venue, plan.symbol)
        level = trailing_level(plan, long, tick)
        resting = resting_stop(plan, entry, long, tick) if plan.native_orders else None
        if level is None:
            return False
        if resting is not None and (level <= resting if long else level >= resting):
            return False  # the resting stop is already as tight
        previous = plan.native_stop
        # Saved before the cancel: a process dying from here on places the stop at `level`.
        plan.native_stop, plan.native_moved_ms, plan.native_moving = level, now, True
        self._save(plan)
        if plan.native_orders and not await cancel_native(host, plan):
            plan.native_stop, plan.native_moving = previous, False  # still resting: retry later
            self._save(plan)
            return True
        if not await self._place_for_rest(plan, entry):
            return True
        log.info("bot %s: stop on %s moved to %s (trailing)", plan.bot, plan.symbol, level)
        self._save(plan)
        return True
