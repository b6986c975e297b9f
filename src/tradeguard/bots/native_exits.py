"""A bot's stop-loss and take-profit resting on the venue: an OCO when both are set, else one order.

The exit manager calls these once the entry has filled, for plans on venues with `native_exits`
switched on (and able: `Venue.native_stops`). Each order is journaled as any other and carries
`signal["exit_plan"]` (the plan's key), so after a crash the plan finds its own orders in the
journal and adopts them instead of placing a second pair. Trailing and time stops stay on the
engine side; before one fires the native orders are cancelled, since a spot venue has no
reduce-only and would sell twice.
"""

from __future__ import annotations

import logging
from decimal import ROUND_HALF_EVEN, Decimal
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

    def price_tick(self, venue: str, symbol: str) -> Decimal | None: ...

    def plan_orders(self, key: str) -> list[str]:
        """Client order ids of the open orders journaled for the exit plan `key`."""

    def order_open(self, client_order_id: str) -> bool: ...

    async def submit_native(self, intents: list[OrderIntent]) -> tuple[list[str], str]:
        """Send one trigger order, or a take-profit and a stop as an OCO: (ids, refusal)."""

    async def cancel(self, client_order_id: str) -> None: ...


def _round(price: Decimal, tick: Decimal | None) -> Decimal:
    if not tick:
        return price
    return (price / tick).to_integral_value(ROUND_HALF_EVEN) * tick


def native_intents(
    plan: ExitPlan, qty: Decimal, entry: Decimal, tick: Decimal | None
) -> list[OrderIntent]:
    """The trigger orders of a plan's stop-loss and take-profit: [take-profit, stop] as set."""
    long = qty > 0
    side = Side.SELL if long else Side.BUY
    out: list[OrderIntent] = []
    for name, pct, kind in (
        ("take_profit", plan.take_profit_pct, OrderType.TAKE_PROFIT),
        ("stop_loss", plan.stop_loss_pct, OrderType.STOP_LOSS),
    ):
        if pct is None:
            continue
        up = (name == "take_profit") is long
        trigger = _round(entry * (_ONE + pct / _HUNDRED if up else _ONE - pct / _HUNDRED), tick)
        out.append(
            OrderIntent(
                plan.bot, plan.venue, plan.symbol, side, abs(qty), kind, reduce_only=True,
                signal={"exit": name, "exit_plan": plan.key, "native": True},
                tag=NATIVE_TAG, trigger_price=trigger,
            )
        )  # fmt: skip
    return out


async def place_native(host: NativeHost, plan: ExitPlan, qty: Decimal, entry: Decimal) -> None:
    """Adopt the plan's journaled exit orders, or place them; fall back to the engine if refused."""
    adopted = host.plan_orders(plan.key)
    if adopted:
        plan.native_orders = adopted
        log.info("bot %s: exit orders %s on %s recovered", plan.bot, adopted, plan.symbol)
        return
    intents = native_intents(plan, qty, entry, host.price_tick(plan.venue, plan.symbol))
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


async def cancel_native(host: NativeHost, plan: ExitPlan) -> bool:
    """Cancel the plan's resting exit orders; tell whether none is open any more."""
    for cid in plan.native_orders:
        if host.order_open(cid):
            try:
                await host.cancel(cid)
            except Exception as exc:  # the caller retries; the order stays known as open
                log.warning("bot %s: cancel of exit order %s failed: %s", plan.bot, cid, exc)
    return not any(host.order_open(cid) for cid in plan.native_orders)
