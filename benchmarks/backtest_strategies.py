"""Strategies for benchmarks/backtest.py: two that never trade (a plain callback one and a
vectorised one), and one that trades every candle."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from tradeguard.backtest.vector import FrameStrategy
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Candle
from tradeguard.model.money import quantize_down
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
    """Buys on one candle and sells on the next: an order per candle through the whole path.

    A buy spends `stake` in quote at the candle's close, rounded down to the instrument's amount
    step, so every pair's order clears its minimum notional whatever the price; a sell sells
    what is held. A remainder too small to sell (a partial fill on a thin candle) counts as flat:
    the next buy adds to it and the sell after takes it all.
    """

    def __init__(self, strategy_id: str, venue: str, symbol: str, params: dict[str, Any]) -> None:
        super().__init__(strategy_id, venue, symbol, params)
        self.stake = Decimal(str(params.get("stake", "0.01")))
        self._inst: Instrument | None = None

    def on_candle(self, candle: Candle) -> None:
        ctx = self.ctx
        if ctx is None or ctx.open_order_count(self.id, self.symbol):
            return
        inst = self._instrument()
        held = ctx.position(self.id, self.venue, self.symbol).quantity
        if held > 0 and held * candle.close >= inst.min_notional:
            side, amount = Side.SELL, held
        else:
            side, amount = Side.BUY, quantize_down(self.stake / candle.close, inst.amount_step)
        if amount <= 0:
            return
        self.emit(
            OrderIntent(
                strategy_id=self.id, venue=self.venue, symbol=self.symbol, side=side,
                amount=amount, type=OrderType.MARKET, reduce_only=side is Side.SELL,
                signal={"reason": "bench"},
            )
        )  # fmt: skip

    def _instrument(self) -> Instrument:
        if self._inst is None:
            inst = self.ctx.instrument(self.venue, self.symbol) if self.ctx else None
            if inst is None:
                raise ValueError(f"EveryCandle: no instrument {self.symbol} on {self.venue}")
            self._inst = inst
        return self._inst
