"""The bots' exit manager as a part of the node: positions, orders, the order path, storage.

```python
exits = node_exit_manager(node.portfolio, node.orders, node.submit, ExitPlanRows(storage), clock)
node.price_listeners.append(exits.on_price)      # every quote, and every candle close in replays
wanted_symbols(bot_specs(rows.bots()), exits.plans.values(), portfolio)  # venue -> symbols
```

The node builds it, so exits hold wherever the node runs, with or without the API.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain
from typing import Any, Protocol

from tradeguard.bots.exits import ExitManager, ExitPlan
from tradeguard.bots.spec import BotError, BotSpec
from tradeguard.clock import Clock, SimulatedClock
from tradeguard.model.money import ZERO
from tradeguard.model.order import Order, OrderIntent, rests
from tradeguard.portfolio.portfolio import Portfolio

log = logging.getLogger(__name__)


class OpenOrders(Protocol):
    """The order manager's view of orders that may still fill, and its OCO and cancel calls."""

    @property
    def open(self) -> Mapping[str, Order]: ...

    @property
    def unknown(self) -> Mapping[str, Order]: ...

    async def submit_oco(self, take_profit: OrderIntent, stop: OrderIntent) -> Any: ...

    async def cancel(self, client_order_id: str) -> Any: ...


class Submitted(Protocol):
    """What the order path answers: whether it was sent, and the order."""

    @property
    def ok(self) -> bool: ...

    @property
    def order(self) -> Order | None: ...


class PlanStore(Protocol):
    """Where exit plans are kept (with the node's other writes)."""

    def save_exit(self, key: str, bot: str, doc: dict[str, Any], ts: int) -> None: ...

    def delete_exit(self, key: str) -> None: ...

    def exits(self) -> list[dict[str, Any]]: ...


Submit = Callable[[OrderIntent], Awaitable[Submitted]]


class NodeExitHost:
    """Implements `bots.exits.ExitHost` over the parts of a node."""

    def __init__(
        self, portfolio: Portfolio, orders: OpenOrders, submit: Submit, store: PlanStore,
        clock: Clock, native: NativeVenues | None = None,
    ) -> None:  # fmt: skip
        self.portfolio = portfolio
        self.orders = orders
        self.submit = submit
        self.store = store
        self.clock = clock
        self.native = native or NativeVenues({}, lambda venue, symbol: None)

    def native_exits(self, venue: str) -> bool:
        return self.native.enabled.get(venue, False)

    def trailing_interval_ms(self, venue: str) -> int:
        return self.native.trailing_ms.get(venue, 0)

    def price_tick(self, venue: str, symbol: str) -> Decimal | None:
        return self.native.tick(venue, symbol)

    def plan_orders(self, key: str) -> list[str]:
        return [
            cid for cid, o in chain(self.orders.open.items(), self.orders.unknown.items())
            if o.signal.get("exit_plan") == key
        ]  # fmt: skip

    async def submit_native(self, intents: list[OrderIntent]) -> tuple[list[str], str]:
        if len(intents) == 2:
            results = await self.orders.submit_oco(intents[0], intents[1])
        else:
            results = [await self.submit(intents[0])]
        ids = [r.order.client_order_id for r in results if r.ok and r.order is not None]
        return ids, "" if ids else "; ".join(
            dict.fromkeys(f"{r.code}: {r.reason}" for r in results)
        )

    async def cancel(self, client_order_id: str) -> None:
        await self.orders.cancel(client_order_id)

    def position(self, venue: str, symbol: str, bot: str) -> tuple[Decimal, Decimal, int]:
        pos = self.portfolio.positions.get((venue, symbol, bot))
        if pos is None:
            return ZERO, ZERO, 0
        # Exits are sized on what an order can sell: a fee taken in base leaves less than a
        # lot step, which the exit's fill then flattens; a remainder below the venue's minimum
        # order is nothing an exit can sell (the plan ends).
        return self.portfolio.closable(pos), pos.avg_entry, pos.opened_ts

    def order_open(self, client_order_id: str) -> bool:
        return client_order_id in self.orders.open or client_order_id in self.orders.unknown

    def order_remaining(self, client_order_id: str) -> Decimal | None:
        order = self.orders.open.get(client_order_id) or self.orders.unknown.get(client_order_id)
        return None if order is None else order.remaining

    def _closes(self, venue: str, symbol: str, bot: str) -> Iterator[Order]:
        for o in chain(self.orders.open.values(), self.orders.unknown.values()):
            if (o.strategy_id == bot and o.venue == venue and o.symbol == symbol
                    and o.reduce_only and not o.signal.get("native")):  # fmt: skip
                yield o

    def closing(self, venue: str, symbol: str, bot: str) -> Decimal:
        return sum((o.remaining for o in self._closes(venue, symbol, bot) if not rests(o)), ZERO)

    def resting_closes(self, venue: str, symbol: str, bot: str) -> list[str]:
        return [o.client_order_id for o in self._closes(venue, symbol, bot) if rests(o)]

    async def submit_exit(self, intent: OrderIntent) -> str | None:
        result = await self.submit(intent)
        return result.order.client_order_id if result.ok and result.order else None

    def save_plan(self, key: str, bot: str, doc: dict[str, Any]) -> None:
        self.store.save_exit(key, bot, doc, self.clock.now_ms())

    def delete_plan(self, key: str) -> None:
        self.store.delete_exit(key)

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def on_wall_clock(self) -> bool:
        return not isinstance(self.clock, SimulatedClock)


@dataclass(frozen=True, slots=True)
class NativeVenues:
    """Which venues rest exits themselves (switched on and able), their price ticks, and how
    often an armed trailing stop may move the resting stop (ms; 0 or absent: never)."""

    enabled: Mapping[str, bool]
    tick: Callable[[str, str], Decimal | None]
    trailing_ms: Mapping[str, int] = field(default_factory=dict)


def node_exit_manager(
    portfolio: Portfolio, orders: OpenOrders, submit: Submit, store: PlanStore, clock: Clock,
    native: NativeVenues | None = None,
) -> ExitManager:  # fmt: skip
    """Build the exit manager of a node and load the stored plans into it."""
    manager = ExitManager(NodeExitHost(portfolio, orders, submit, store, clock, native))
    manager.load(store.exits())
    return manager


class RegistryRow(Protocol):
    """A stored bot: its name and spec document."""

    @property
    def name(self) -> str: ...

    @property
    def spec(self) -> dict[str, Any]: ...


def bot_specs(rows: Iterable[RegistryRow]) -> list[BotSpec]:
    """Parse stored bots, leaving out (and logging) one whose spec no longer parses."""
    out = []
    for row in rows:
        try:
            out.append(BotSpec.parse(row.name, row.spec))
        except BotError as exc:
            log.error("bot %s: stored spec refused: %s", row.name, exc)
    return out


def wanted_symbols(
    specs: Iterable[BotSpec], plans: Iterable[ExitPlan], portfolio: Portfolio
) -> dict[str, list[str]]:
    """Return venue -> symbols the bots need quotes for: those they trade, hold or guard."""
    out: dict[str, dict[str, None]] = {}  # ordered sets
    names = set()
    for spec in specs:
        names.add(spec.name)
        out.setdefault(spec.venue, {}).update(dict.fromkeys(spec.symbols))
    for plan in plans:
        out.setdefault(plan.venue, {})[plan.symbol] = None
    for pos in portfolio.open_positions():
        if pos.strategy_id in names:
            out.setdefault(pos.venue, {})[pos.symbol] = None
    return {venue: list(syms) for venue, syms in out.items() if syms}
