"""A paper node holding one long BTC position whose price falls through a drawdown limit and
then through the strategy's own stop: what `risk.on_loss_halt` does with the exit.

The account holds 1,000 USDT; the strategy buys 0.009 BTC at 50,000 (450 USDT) on the first
candle with a 6% stop (47,000). The drawdown limit (2%, 20 USDT) trips at 47,500, before the
stop; the stop's level is crossed at 46,500 and the price goes on falling to 40,000.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.config import Config, default_config
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.market import Candle
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy

D = Decimal
ENTRY = D(50_000)
AMOUNT = D("0.009")
STOP_PCT = D(6)
# candle closes, one a minute: flat, through the drawdown limit, through the stop, then down
CLOSES = [50_000] * 5 + [48_500, 47_500, 46_500, 45_000, 43_000, 41_000, 40_000, 40_000]
START_USDT = D(1_000)
MAX_DRAWDOWN_PCT = D(2)
T0_S = 1_640_995_200  # 2022-01-01 00:00 UTC
VOLUME = 10**9  # in the quote: the paper venue fills a market order whole


class BuyThenStop(Strategy):
    """Buy `amount` on the first candle; sell it all (reduce-only) once a close is `stop_pct`
    below the entry, again on every candle while it is still held."""

    def __init__(self, strategy_id: str, venue: str, symbol: str, params: dict[str, Any]) -> None:
        super().__init__(strategy_id, venue, symbol, params)
        self.amount = D(str(params.get("amount", AMOUNT)))
        self.stop_pct = D(str(params.get("stop_pct", STOP_PCT)))
        self.entry: Decimal | None = None
        self.bought = False

    def on_candle(self, candle: Candle) -> None:
        ctx = self.ctx
        if ctx is None or ctx.open_order_count(self.id, self.symbol):
            return
        held = ctx.position(self.id, self.venue, self.symbol).quantity
        if not self.bought:
            self.bought = True
            self.entry = candle.close
            stop = candle.close * (1 - self.stop_pct / 100)
            self.emit(OrderIntent(self.id, self.venue, self.symbol, Side.BUY, self.amount,
                                  OrderType.MARKET, stop_loss=stop,
                                  signal={"reason": "entry"}))  # fmt: skip
            return
        entry = self.entry
        if held > 0 and entry is not None and candle.close <= entry * (1 - self.stop_pct / 100):
            self.emit(OrderIntent(self.id, self.venue, self.symbol, Side.SELL, held,
                                  OrderType.MARKET, reduce_only=True,
                                  signal={"reason": "stop_loss"}))  # fmt: skip

    def state(self) -> dict[str, Any]:
        return {"entry": None if self.entry is None else str(self.entry), "bought": self.bought}

    def restore(self, state: dict[str, Any]) -> None:
        self.entry = D(state["entry"]) if state.get("entry") else None
        self.bought = bool(state.get("bought"))


def write_candles(path: Path, closes: list[int] | None = None) -> Path:
    """Write one-minute BTC/USDT candles closing at `closes` (open: the close before)."""
    rows = ["timestamp,open,high,low,close,volume"]
    prev = None
    for i, close in enumerate(closes or CLOSES):
        opened = close if prev is None else prev
        ts = T0_S + 60 * i
        stamp = f"2022-01-01 00:{ts // 60 % 60:02d}:00.000000"
        rows.append(f"{stamp},{opened},{max(opened, close)},{min(opened, close)},{close},{VOLUME}")
        prev = close
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def loss_halt_config(tmp_path: Path, db_url: str, mode: str | None) -> Config:
    """The paper node of this module's story, `risk.on_loss_halt = mode` (None: the default)."""
    data = default_config()
    data["node"] = {"database_url": db_url, "kill_sentinel": str(tmp_path / "tg.kill")}
    data["venues"][0]["balances"] = {"USDT": str(START_USDT)}
    data["data"] = [{"path": str(write_candles(tmp_path / "fall.csv")), "symbol": "BTC/USDT",
                     "venue": "paper"}]  # fmt: skip
    data["strategies"] = [{"id": "unlock", "kind": f"{Path(__file__)}:BuyThenStop",
                           "venue": "paper", "symbol": "BTC/USDT", "params": {}}]  # fmt: skip
    risk: dict[str, Any] = {
        "max_drawdown_pct": str(MAX_DRAWDOWN_PCT),
        "daily_loss_limit_pct": "25",
        "weekly_loss_limit_pct": "40",
        "max_order_notional_usd": "500",
        "max_order_notional_pct": "50",
        "max_portfolio_heat_pct": "60",
        "min_account_balance_usd": "0",
        "stable_reserve_pct": "0",
        "max_mark_jump_pct": "0",
        "cooldown_after_loss_s": 0,
    }
    if mode is not None:
        risk["on_loss_halt"] = mode
    data["risk"] = risk
    return Config.model_validate(data)
