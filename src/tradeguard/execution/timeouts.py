"""Order timeouts: cancel unfilled limit orders after a per-strategy number of seconds.

An entry (an order that is not reduce-only) of a strategy that opts in with
`replace_on_timeout` is then re-sent for its unfilled rest at the current best price on its own
side (the bid for a buy, the ask for a sell), as a new intent through the normal order path: risk
check, journal, venue (the node's strategy path: a `bot = true` strategy's passes its bot's
gate). A cancel whose answer is ambiguous leaves the order open (or unknown); the next sweep
asks again after `cancel_retry_s`.

`cancelled` holds the id of a timed-out entry only while its re-send is under way: the bot gate
looks it up (the re-send carries on the signal the cancelled order was approved for, so the
cooldown its own first send started does not hold it back) and nothing needs it after, so it
does not grow with the life of the node. Like today it lives in memory only: a restart between
the cancel and the re-send re-sends nothing (the order is cancelled; no sweep picks it up again).
`replaced` keeps the last `KEEP_REPLACED` (old id, new id) pairs, for reading only.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.errors import VenueError
from tradeguard.model.money import quantize_down
from tradeguard.model.order import Order, OrderIntent

log = logging.getLogger(__name__)

Submit = Callable[[OrderIntent], Awaitable[Any]]
KEEP_REPLACED = 256


@dataclass(frozen=True, slots=True)
class TimeoutPolicy:
    """How long a strategy's limit orders may rest, and whether entries are re-sent."""

    timeout_s: float
    replace: bool = False


def _held_on_chain(orders: Any, order: Order) -> bool:
    """Whether `order`'s venue holds its swap unbooked (a DEX's `held`): sent on chain, it is
    answered by the chain, never cancelled for its age (a cancel would race the swap)."""
    venue = getattr(orders, "venues", {}).get(order.venue)
    by_order = getattr(getattr(venue, "held", None), "by_order", None)
    return isinstance(by_order, dict) and order.client_order_id in by_order


class OrderTimeouts:
    """Sweeps the open orders of an OrderManager; call `sweep` every fraction of a second."""

    def __init__(
        self,
        orders: Any,
        market: Any,
        policies: dict[str, TimeoutPolicy],
        submit: Submit | None = None,
        cancel_retry_s: float = 2.0,
    ) -> None:
        self.orders = orders
        self.market = market
        self.policies = {k: p for k, p in policies.items() if p.timeout_s > 0}
        self.submit: Submit = submit or orders.submit
        self.cancel_retry_s = cancel_retry_s
        self.cancelled: set[str] = set()  # timed-out entries whose re-send is under way
        # (old client order id, new client order id), the latest only
        self.replaced: deque[tuple[str, str]] = deque(maxlen=KEEP_REPLACED)

    @classmethod
    def from_config(
        cls, strategies: list[Any], orders: Any, market: Any, submit: Submit
    ) -> OrderTimeouts:
        """Build from `StrategyConfig` rows (`order_timeout_s`, `replace_on_timeout`)."""
        policies = {
            sc.id: TimeoutPolicy(float(sc.order_timeout_s), bool(sc.replace_on_timeout))
            for sc in strategies
            if getattr(sc, "order_timeout_s", 0)
        }
        return cls(orders, market, policies, submit)

    def due(self, now_ms: int) -> list[Order]:
        """Open limit orders past their strategy's timeout and not being cancelled right now."""
        out: list[Order] = []
        if not self.policies:
            return out
        retry_ms = int(self.cancel_retry_s * 1000)
        for order in list(self.orders.open.values()):
            policy = self.policies.get(order.strategy_id)
            if policy is None or order.type is not OrderType.LIMIT:
                continue
            if order.client_order_id in self.orders.unknown:
                continue  # the venue cannot be asked: the reconciler owns it
            if _held_on_chain(self.orders, order):
                continue  # a swap on chain the venue holds unbooked: the chain answers it
            if now_ms - order.created_ts < policy.timeout_s * 1000:
                continue
            sent = self.orders.cancel_requested.get(order.client_order_id)
            if sent is not None and now_ms - sent < retry_ms:
                continue
            out.append(order)
        return out

    async def sweep(self) -> list[str]:
        """Cancel every order that is due (and re-send entries that opted in); return their ids."""
        now = self.orders.clock.now_ms()
        done: list[str] = []
        for order in self.due(now):
            if not order.is_open:
                continue
            try:
                await self.orders.cancel(order.client_order_id)
            except VenueError as exc:
                log.warning("timeout cancel of %s failed: %s", order.client_order_id, exc)
                continue
            if order.status not in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
                continue  # filled meanwhile, or still open: the next sweep looks again
            done.append(order.client_order_id)
            policy = self.policies[order.strategy_id]
            if policy.replace and not order.reduce_only and order.remaining > 0:
                self.cancelled.add(order.client_order_id)
                try:
                    await self._replace(order)
                finally:
                    self.cancelled.discard(order.client_order_id)
        return done

    async def _replace(self, order: Order) -> None:
        price = self._price(order)
        inst = self.market.instrument(order.venue, order.symbol)
        amount = order.remaining
        if inst is not None:
            amount = quantize_down(amount, inst.amount_step)
            if price is not None:
                price = quantize_down(price, inst.price_tick)
        if price is None or amount <= 0:
            log.info("not replacing %s: no price or nothing left to fill", order.client_order_id)
            return
        intent = OrderIntent(
            strategy_id=order.strategy_id,
            venue=order.venue,
            symbol=order.symbol,
            side=order.side,
            amount=amount,
            type=OrderType.LIMIT,
            price=price,
            time_in_force=order.time_in_force,
            stop_loss=order.stop_loss,
            take_profit=order.take_profit,
            signal={**order.signal, "replaces": order.client_order_id},
        )
        result = await self.submit(intent)
        new = getattr(result, "order", None)
        if new is not None:
            self.replaced.append((order.client_order_id, new.client_order_id))

    def _price(self, order: Order) -> Decimal | None:
        own = getattr(self.market, "quote", None)  # the order's venue's quote
        quote = own(order.symbol, order.venue) if own is not None else None
        if quote is not None:
            return quote.bid if order.side is Side.BUY else quote.ask
        mid: Decimal | None = self.market.mid(order.symbol, order.venue)
        return mid
