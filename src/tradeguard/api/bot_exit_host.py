"""The node as seen by the bots' exit manager: positions, orders, the order path, storage."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeguard.model.money import ZERO
from tradeguard.model.order import OrderIntent
from tradeguard.storage.bot_rows import BotRows

if TYPE_CHECKING:
    from tradeguard.node import TradingNode


class NodeExitHost:
    """Implements `bots.exits.ExitHost` over a running node."""

    def __init__(self, node: TradingNode, rows: BotRows) -> None:
        self.node = node
        self.rows = rows

    def position(self, venue: str, symbol: str, bot: str) -> tuple[Decimal, Decimal, int]:
        pos = self.node.portfolio.positions.get((venue, symbol, bot))
        if pos is None:
            return ZERO, ZERO, 0
        return pos.quantity, pos.avg_entry, pos.opened_ts

    def order_open(self, client_order_id: str) -> bool:
        orders = self.node.orders
        return client_order_id in orders.open or client_order_id in orders.unknown

    async def submit_exit(self, intent: OrderIntent) -> str | None:
        result = await self.node.submit(intent)
        return result.order.client_order_id if result.ok and result.order else None

    def save_plan(self, key: str, bot: str, doc: dict[str, Any]) -> None:
        self.rows.save_exit(key, bot, doc, self.node.clock.now_ms())

    def delete_plan(self, key: str) -> None:
        self.rows.delete_exit(key)

    def now_ms(self) -> int:
        return self.node.clock.now_ms()
