"""A strategy for the paper chaos runs (`chaos.paper.TRIGGER_STRATEGIES`): it buys when flat,
then rests a trigger order a little away from the close, so trigger orders fire at one candle's
close and fill at the next open."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import Any

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.market import Candle
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy

_TICK = Decimal("0.01")


class StopEveryEntry(Strategy):
    """Every `every`-th minute while flat: a market buy of `amount`; while held: a stop-loss
    `stop_pct` under the close for the whole position, or on odd minutes a take-profit as far
    above it (one of the two is soon reached whichever way the market goes next)."""

    def __init__(self, strategy_id: str, venue: str, symbol: str, params: dict[str, Any]) -> None:
        super().__init__(strategy_id, venue, symbol, params)
        self.amount = Decimal(str(params.get("amount", "0.002")))
        self.stop_pct = Decimal(str(params.get("stop_pct", "0.15")))
        self.every = int(params.get("every", 3))

    def on_candle(self, candle: Candle) -> None:
        ctx = self.ctx
        if ctx is None or ctx.open_order_count(self.id, self.symbol):
            return
        held = ctx.position(self.id, self.venue, self.symbol).quantity
        if held <= 0:
            if (candle.ts // 60_000) % self.every == 0:
                self.emit(OrderIntent(self.id, self.venue, self.symbol, Side.BUY, self.amount,
                                      OrderType.MARKET, signal={"reason": "entry"}))  # fmt: skip
            return
        up = (candle.ts // 60_000) % 2 == 1
        trigger = candle.close * (1 + (self.stop_pct if up else -self.stop_pct) / 100)
        self.emit(
            OrderIntent(
                self.id, self.venue, self.symbol, Side.SELL, held,
                OrderType.TAKE_PROFIT if up else OrderType.STOP_LOSS, reduce_only=True,
                signal={"reason": "exit"},
                trigger_price=(trigger / _TICK).to_integral_value(ROUND_FLOOR) * _TICK,
            )
        )  # fmt: skip
