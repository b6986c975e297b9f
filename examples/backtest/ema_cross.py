"""EMA 12/26 crossover, long only, with a 2 % stop-loss and a 5 % take-profit.

Indicators come from the vectorised hook: a backtest computes them once over each pair's whole
series; paper and live trading compute the same columns over a rolling window.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradeguard.backtest.vector import FrameStrategy, ema
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.money import quantize_down
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.exits import ExitRules, ExitTracker


class EmaCross(FrameStrategy):
    window = 400
    # on_row acts on a flat book only at a cross: a backtest may skip the other candles
    signal_columns = ("cross_up", "cross_down")
    # and while holding, only at a cross down or beyond the stop / take-profit (exit_rules)
    exit_columns = ("cross_down",)

    def __init__(self, strategy_id: str, venue: str, symbol: str, params: dict[str, Any]) -> None:
        super().__init__(strategy_id, venue, symbol, params)
        self.fast = int(params.get("fast", 12))
        self.slow = int(params.get("slow", 26))
        if not 1 <= self.fast < self.slow <= 100:
            raise ValueError(
                f"params fast={self.fast}, slow={self.slow}: need 1 <= fast < slow <= 100"
            )
        self.stake = Decimal(str(params.get("stake", "0.01")))
        self.exit_rules = ExitRules(
            stop_loss_pct=Decimal(str(params.get("stop_loss_pct", "2"))),
            take_profit_pct=Decimal(str(params.get("take_profit_pct", "5"))),
        )
        self._tracker: ExitTracker | None = None

    def prepare(self, frame: dict[str, Any]) -> dict[str, Any]:
        close = frame["close"]
        diff = ema(close, self.fast) - ema(close, self.slow)
        frame["diff"] = diff
        prev = diff.copy()
        prev[1:] = diff[:-1]
        prev[0] = 0.0
        frame["cross_up"] = ((prev <= 0) & (diff > 0)).astype(float)
        frame["cross_down"] = ((prev >= 0) & (diff < 0)).astype(float)
        return frame

    def on_row(self, candle, row) -> None:
        ctx = self.ctx
        if ctx is None or self.muted or ctx.open_order_count(self.id, self.symbol):
            return
        pos = ctx.position(self.id, self.venue, self.symbol)
        if pos.quantity > 0:
            if self._tracker is None or self._tracker.entry != pos.avg_entry:
                self._tracker = ExitTracker(self.exit_rules, pos.avg_entry, long=True)
            reason = self._tracker.update(candle.close)
            if reason is None and row["cross_down"]:
                reason = "exit_signal"
            if reason is not None:
                self._order(Side.SELL, pos.quantity, reason, candle)
            return
        self._tracker = None
        if row["cross_up"]:
            self._order(Side.BUY, self.stake / candle.close, "ema_cross_up", candle)

    def _order(self, side: Side, amount: Decimal, reason: str, candle) -> None:
        inst = self.ctx.instrument(self.venue, self.symbol) if self.ctx else None
        if inst is not None:
            amount = quantize_down(amount, inst.amount_step)
        if amount <= 0:
            return
        self.emit(
            OrderIntent(
                strategy_id=self.id,
                venue=self.venue,
                symbol=self.symbol,
                side=side,
                amount=amount,
                type=OrderType.MARKET,
                reduce_only=side is Side.SELL,
                signal={"reason": reason, "close": str(candle.close), "candle_ts": candle.ts},
            )
        )
