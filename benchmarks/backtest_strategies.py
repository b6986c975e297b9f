"""Strategies for benchmarks/backtest.py: two that never trade (a plain callback one and a
vectorised one), and one that trades every candle."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from tradeguard.backtest.vector import FrameStrategy
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.market import Candle
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy


class Idle(Strategy):
    """Receives every candle and never trades: the node's own cost per candle event."""

    def on_candle(self, candle: Candle) -> None:
        return None


class IdleVector(FrameStrategy):
    """Vectorised, with a signal column that is never set: a backtest may skip every candle."""

    signal_columns = ("signal",)

    def prepare(self, frame: dict[str, Any]) -> dict[str, Any]:
        frame["signal"] = np.zeros(len(frame["close"]))
        return frame


class EveryCandle(Strategy):
    """Buys on one candle and sells on the next: an order per candle through the whole path."""

    def __init__(self, strategy_id: str, venue: str, symbol: str, params: dict[str, Any]) -> None:
        super().__init__(strategy_id, venue, symbol, params)
        self.amount = Decimal(str(params.get("amount", "1")))

    def on_candle(self, candle: Candle) -> None:
        ctx = self.ctx
        if ctx is None or ctx.open_order_count(self.id, self.symbol):
            return
        held = ctx.position(self.id, self.venue, self.symbol).quantity > 0
        self.emit(
            OrderIntent(
                strategy_id=self.id, venue=self.venue, symbol=self.symbol,
                side=Side.SELL if held else Side.BUY, amount=self.amount,
                type=OrderType.MARKET, reduce_only=held, signal={"reason": "bench"},
            )
        )  # fmt: skip
