"""Moving-average crossover with stop-loss, take-profit and a trailing stop (the demo strategy).

Signals are computed on closes (floats are fine for indicators); orders are Decimal. A golden
cross opens a long of `order_usd` when flat; a death cross, the stop, the take-profit or the
trailing stop closes it with a reduce-only market order.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Any

from tradeguard.marketdata.live.subscriptions import timeframe_s
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.market import Candle
from tradeguard.model.money import dec, quantize_down
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy, register
from tradeguard.strategies.exits import ExitRules, ExitTracker


def _int_param(params: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    value = params.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValueError(f"strategy param {key} = {value!r}: must be an integer in [{lo}, {hi}]")
    return value


def _dec_param(params: dict[str, Any], key: str, default: str, lo: str, hi: str) -> Decimal:
    value = dec(params.get(key, default), field=key)
    # NaN compares as an error, not as False: test finiteness first
    if not value.is_finite() or not Decimal(lo) <= value <= Decimal(hi):
        raise ValueError(f"strategy param {key} = {value}: must be in [{lo}, {hi}]")
    return value


@register("ma_crossover")
class MACrossover(Strategy):
    """Long-only SMA crossover with exits; parameters are validated at construction."""

    def __init__(self, strategy_id: str, venue: str, symbol: str, params: dict[str, Any]) -> None:
        super().__init__(strategy_id, venue, symbol, params)
        known = {
            "fast", "slow", "order_usd", "stop_loss_pct", "take_profit_pct",
            "trailing_stop_pct", "trailing_activation_pct", "timeframe",
        }  # fmt: skip
        unknown = set(params) - known
        if unknown:
            raise ValueError(
                f"unknown ma_crossover params {sorted(unknown)}; known: {sorted(known)}"
            )
        self.fast = _int_param(params, "fast", 20, 1, 10_000)
        self.slow = _int_param(params, "slow", 60, 2, 10_000)
        if self.fast >= self.slow:
            raise ValueError(f"strategy param fast = {self.fast} must be below slow = {self.slow}")
        self.order_usd = _dec_param(params, "order_usd", "90", "0.01", "10000000")
        self.rules = ExitRules(
            stop_loss_pct=_dec_param(params, "stop_loss_pct", "2", "0", "100"),
            take_profit_pct=_dec_param(params, "take_profit_pct", "5", "0", "1000"),
            trailing_stop_pct=_dec_param(params, "trailing_stop_pct", "0", "0", "100"),
            trailing_activation_pct=_dec_param(params, "trailing_activation_pct", "0", "0", "1000"),
        )
        self.warmup_candles = self.slow + 1
        self.timeframe = str(params.get("timeframe", "1m"))
        timeframe_s(self.timeframe)  # live candles at this timeframe; replays use the data's bars
        self._fast_win: deque[float] = deque(maxlen=self.fast)
        self._slow_win: deque[float] = deque(maxlen=self.slow)
        self._fast_sum = 0.0
        self._slow_sum = 0.0
        self._prev_diff: float | None = None
        self._tracker: ExitTracker | None = None

    def on_candle(self, candle: Candle) -> None:
        # Runs for every candle: locals instead of attribute round trips, same float operations
        # in the same order as the plain rolling sums (the signal values must not move).
        close = float(candle.close)
        fast, slow = self.fast, self.slow
        fw, sw = self._fast_win, self._slow_win
        fast_sum, slow_sum = self._fast_sum, self._slow_sum
        if len(fw) == fast:
            fast_sum -= fw[0]
        if len(sw) == slow:
            slow_sum -= sw[0]
        fw.append(close)
        sw.append(close)
        fast_sum += close
        slow_sum += close
        self._fast_sum, self._slow_sum = fast_sum, slow_sum
        if len(sw) < slow:
            return
        diff = fast_sum / fast - slow_sum / slow
        prev, self._prev_diff = self._prev_diff, diff
        ctx = self.ctx
        if ctx is None or self.muted:
            return
        pos = ctx.position(self.id, self.venue, self.symbol)
        if ctx.open_order_count(self.id, self.symbol):
            return
        if pos.quantity > 0:
            tracker = self._tracker
            if tracker is None or tracker.entry != pos.avg_entry:
                tracker = self._tracker = ExitTracker(self.rules, pos.avg_entry, long=True)
            reason = tracker.update(candle.close)
            if tracker.take_moved():
                self.save_soon()
            if reason is None and prev is not None and prev >= 0 > diff:
                reason = "death_cross"
            if reason is not None:
                self._close(pos.quantity, reason, candle)
            return
        if self._tracker is not None:  # flat again: a restart must not bring the old one back
            self._tracker = None
            self.save_soon()
        if prev is not None and prev <= 0 < diff:
            self._open(candle, diff)

    def _open(self, candle: Candle, diff: float) -> None:
        assert self.ctx is not None
        inst = self.ctx.instrument(self.venue, self.symbol)
        step = inst.amount_step if inst else Decimal("0.00000001")
        amount = quantize_down(self.order_usd / candle.close, step)
        if amount <= 0:
            return
        stop, take = self.rules.levels(candle.close, long=True)
        self.emit(
            OrderIntent(
                strategy_id=self.id,
                venue=self.venue,
                symbol=self.symbol,
                side=Side.BUY,
                amount=amount,
                type=OrderType.MARKET,
                stop_loss=stop,
                take_profit=take,
                signal={
                    "reason": "golden_cross",
                    "fast_sma": round(self._fast_sum / self.fast, 8),
                    "slow_sma": round(self._slow_sum / self.slow, 8),
                    "close": str(candle.close),
                    "candle_ts": candle.ts,
                },
            )
        )

    def _close(self, quantity: Decimal, reason: str, candle: Candle) -> None:
        assert self.ctx is not None
        inst = self.ctx.instrument(self.venue, self.symbol)
        base = self.symbol.split("/")[0]
        amount = min(quantity, self.ctx.free(self.venue, base))
        if inst is not None:
            amount = quantize_down(amount, inst.amount_step)
        if amount <= 0:
            return
        self.emit(
            OrderIntent(
                strategy_id=self.id,
                venue=self.venue,
                symbol=self.symbol,
                side=Side.SELL,
                amount=amount,
                type=OrderType.MARKET,
                reduce_only=True,
                signal={"reason": reason, "close": str(candle.close), "candle_ts": candle.ts},
            )
        )

    def state(self) -> dict[str, Any]:
        # The whole signal state: a resume continues the same float sums, not a re-warmed copy.
        out: dict[str, Any] = {
            "fast": self.fast,
            "slow": self.slow,
            "fast_win": list(self._fast_win),
            "slow_win": list(self._slow_win),
            "fast_sum": self._fast_sum,
            "slow_sum": self._slow_sum,
            "prev_diff": self._prev_diff,
        }
        t = self._tracker
        if t is not None:
            out.update(best=str(t.best), trailing_armed=t.trailing_armed, entry=str(t.entry))
        return out

    def restore(self, state: dict[str, Any]) -> None:
        if state.get("entry"):
            t = ExitTracker(self.rules, Decimal(state["entry"]), long=True)
            t.best = Decimal(state["best"])
            t.trailing_armed = bool(state.get("trailing_armed"))
            self._tracker = t
        if state.get("fast") == self.fast and state.get("slow") == self.slow:
            self._fast_win.extend(float(x) for x in state["fast_win"])
            self._slow_win.extend(float(x) for x in state["slow_win"])
            self._fast_sum = float(state["fast_sum"])
            self._slow_sum = float(state["slow_sum"])
            prev = state.get("prev_diff")
            self._prev_diff = None if prev is None else float(prev)
            self.restored_exactly = True
