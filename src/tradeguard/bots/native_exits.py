"""A bot's stop-loss and take-profit resting on the venue: an OCO when both are set, else one order.

The exit manager calls these once the entry has filled, for plans on venues with `native_exits`
switched on (and able: `Venue.native_stops`). Each order is journaled as any other and carries
`signal["exit_plan"]` (the plan's key), so after a crash the plan finds its own orders in the
journal and adopts them instead of placing a second pair. Time stops stay on the engine side;
before one fires the native orders are cancelled, since a spot venue has no reduce-only and would
sell twice.

A trailing stop is enforced by the engine on every price and, once armed, also moved onto the
venue: at most once per `native_trailing_interval_s` the resting stop is cancelled and placed
again at the trailing level (`ExitPlan.native_stop`), so a node that dies keeps the gain locked
so far. Cancel comes first (both would hold the same coins); the plan is saved between the two
steps, so a restart in that gap places the moved stop, and one after it adopts it.
"""

from __future__ import annotations

import logging
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Protocol

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent

if TYPE_CHECKING:
    from tradeguard.bots.exits import ExitPlan

log = logging.getLogger(__name__)

_ONE = Decimal(1)
_HUNDRED = Decimal(100)
NATIVE_TAG = "exit:native"


class NativeHost(Protocol):
    """What native exits need from the node, beyond `ExitHost`."""

    def native_exits(self, venue: str) -> bool:
        """Tell whether exits on `venue` should rest on the venue."""

    def trailing_interval_ms(self, venue: str) -> int:
        """How often an armed trailing stop may move the resting stop on `venue` (0: never)."""

    def price_tick(self, venue: str, symbol: str) -> Decimal | None: ...

    def plan_orders(self, key: str) -> list[str]:
        """Client order ids of the open orders journaled for the exit plan `key`."""

    def order_open(self, client_order_id: str) -> bool: ...

    def order_remaining(self, client_order_id: str) -> Decimal | None:
        """What an order that may still fill has left to fill; None for one that may not."""

    async def submit_native(self, intents: list[OrderIntent]) -> tuple[list[str], str]:
        """Send one trigger order, or a take-profit and a stop as an OCO: (ids, refusal)."""

    async def cancel(self, client_order_id: str) -> None: ...


def _round(price: Decimal, tick: Decimal | None, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    if not tick:
        return price
    return (price / tick).to_integral_value(rounding) * tick


def trailing_level(plan: ExitPlan, long: bool, tick: Decimal | None) -> Decimal | None:
    """The stop price an armed trailing stop stands at (best price less the distance), rounded
    to the tick away from the market; None while it is not armed."""
    if not plan.armed or plan.best is None or plan.trailing_distance_pct is None:
        return None
    step = plan.trailing_distance_pct / _HUNDRED
    if long:
        return _round(plan.best * (_ONE - step), tick, ROUND_FLOOR)
    return _round(plan.best * (_ONE + step), tick, ROUND_CEILING)


def resting_stop(
    plan: ExitPlan, entry: Decimal, long: bool, tick: Decimal | None
) -> Decimal | None:
    """The trigger of the plan's stop on the venue: moved by the trailing stop, else the fixed
    stop-loss, else None (no stop rests)."""
    if plan.native_stop is not None:
        return plan.native_stop
    if plan.stop_loss_pct is None:
        return None
    step = plan.stop_loss_pct / _HUNDRED
    return _round(entry * (_ONE - step if long else _ONE + step), tick)


def native_intents(
    plan: ExitPlan, qty: Decimal, entry: Decimal, tick: Decimal | None
) -> list[OrderIntent]:
    """The trigger orders of a plan's take-profit and stop: [take-profit, stop] as set; the stop
    stands where the trailing stop moved it, if it did."""
    long = qty > 0
    side = Side.SELL if long else Side.BUY
    out: list[OrderIntent] = []
    take_profit = None
    if plan.take_profit_pct is not None:
        step = plan.take_profit_pct / _HUNDRED
        take_profit = _round(entry * (_ONE + step if long else _ONE - step), tick)
    legs = (
        ("take_profit", take_profit, OrderType.TAKE_PROFIT),
        ("stop_loss", resting_stop(plan, entry, long, tick), OrderType.STOP_LOSS),
    )
    for name, trigger, kind in legs:
        if trigger is None:
            continue
        out.append(
            OrderIntent(
                plan.bot, plan.venue, plan.symbol, side, abs(qty), kind, reduce_only=True,
                signal={"exit": name, "exit_plan": plan.key, "native": True},
                tag=NATIVE_TAG, trigger_price=trigger,
            )
        )  # fmt: skip
    return out


async def place_native(host: NativeHost, plan: ExitPlan, qty: Decimal, entry: Decimal) -> bool:
    """Adopt the plan's journaled exit orders, or place them; fall back to the engine if refused.
    Tell whether the plan changed (False: nothing to place yet, a trailing stop not armed)."""
    adopted = host.plan_orders(plan.key)
    if adopted:
        plan.native_orders = adopted
        log.info("bot %s: exit orders %s on %s recovered", plan.bot, adopted, plan.symbol)
        return True
    intents = native_intents(plan, qty, entry, host.price_tick(plan.venue, plan.symbol))
    if not intents:
        return False
    ids, refusal = await host.submit_native(intents)
    if ids:
        plan.native_orders = ids
        log.info("bot %s: exit orders %s rest on %s", plan.bot, ids, plan.venue)
    else:
        plan.native = False
        log.warning(
            "bot %s: native exits on %s refused (%s); the engine enforces them", plan.bot,
            plan.venue, refusal,
        )  # fmt: skip
    return True


def short_of(host: NativeHost, ids: list[str], qty: Decimal) -> bool:
    """Tell whether a resting exit order among `ids` sells (or buys back) less than the position
    `qty`: the position grew since (a bot adding to it) and part of it has no stop on the venue."""
    rests = [host.order_remaining(cid) for cid in ids]
    return any(r is not None and r < abs(qty) for r in rests)


async def cancel_native(host: NativeHost, plan: ExitPlan) -> bool:
    """Cancel the plan's resting exit orders; tell whether none is open any more."""
    for cid in plan.native_orders:
        if host.order_open(cid):
            try:
                await host.cancel(cid)
            except Exception as exc:  # the caller retries; the order stays known as open
                log.warning("bot %s: cancel of exit order %s failed: %s", plan.bot, cid, exc)
    return not any(host.order_open(cid) for cid in plan.native_orders)
