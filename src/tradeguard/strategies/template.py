"""The commented strategy template that `tradeguard strategy new NAME` writes."""

from __future__ import annotations

import keyword
import re
from pathlib import Path

TEMPLATE = '''"""{title}: a strategy of your own for tradeguard.

Run it from a config, with no packaging needed:

    [[strategies]]
    id = "{name}"
    kind = "{path}:{cls}"      # relative to the config file's folder, then the working directory
    venue = "paper"
    symbol = "BTC/USDT"
    params = {{ lookback = 30, order_usd = "100", stop_loss_pct = "2", take_profit_pct = "4" }}

Every order you emit goes through the risk engine and the order journal; you never reach a
venue, the journal or the database. See docs/strategies.md for the context and the callbacks.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Any

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.market import Candle
from tradeguard.model.money import quantize_down
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy


class {cls}(Strategy):
    """Buy a breakout above the highest close of `lookback` candles; exit at stop or target."""

    def __init__(self, strategy_id: str, venue: str, symbol: str, params: dict[str, Any]) -> None:
        super().__init__(strategy_id, venue, symbol, params)
        # Validate every parameter here: a bad value stops the node before it trades.
        self.lookback = int(params.get("lookback", 30))
        if not 2 <= self.lookback <= 10_000:
            raise ValueError(f"lookback = {{self.lookback}}: must be in [2, 10000]")
        self.order_usd = Decimal(str(params.get("order_usd", "100")))
        self.stop_pct = Decimal(str(params.get("stop_loss_pct", "2")))
        self.take_pct = Decimal(str(params.get("take_profit_pct", "4")))
        self.closes: deque[Decimal] = deque(maxlen=self.lookback)
        self.entry: Decimal | None = None

    def on_candle(self, candle: Candle) -> None:
        """Called once for every closed candle of `symbol`, in time order."""
        ctx = self.ctx
        previous_high = max(self.closes) if len(self.closes) == self.lookback else None
        self.closes.append(candle.close)
        if ctx is None or ctx.open_order_count(self.id, self.symbol):
            return  # wait until the last order is done
        held = ctx.position(self.id, self.venue, self.symbol).quantity
        if held > 0 and self.entry is not None:
            change_pct = (candle.close - self.entry) / self.entry * 100
            if change_pct <= -self.stop_pct or change_pct >= self.take_pct:
                reason = "stop_loss" if change_pct < 0 else "take_profit"
                self._order(Side.SELL, held, candle, reason, reduce_only=True)
                self.entry = None
        elif held == 0 and previous_high is not None and candle.close > previous_high:
            inst = ctx.instrument(self.venue, self.symbol)
            step = inst.amount_step if inst else Decimal("0.00000001")
            amount = quantize_down(self.order_usd / candle.close, step)
            if amount > 0:
                self._order(Side.BUY, amount, candle, "breakout")
                self.entry = candle.close

    def _order(
        self, side: Side, amount: Decimal, candle: Candle, reason: str, reduce_only: bool = False
    ) -> None:
        # `signal` is stored with the order: say why, so the journal explains every trade.
        self.emit(
            OrderIntent(
                strategy_id=self.id, venue=self.venue, symbol=self.symbol, side=side,
                amount=amount, type=OrderType.MARKET, reduce_only=reduce_only,
                signal={{"reason": reason, "close": str(candle.close), "candle_ts": candle.ts}},
            )
        )

    def state(self) -> dict[str, Any]:
        """Everything needed to continue exactly after a crash (stored as JSON each commit)."""
        return {{
            "closes": [str(c) for c in self.closes],
            "entry": None if self.entry is None else str(self.entry),
        }}

    def restore(self, state: dict[str, Any]) -> None:
        """Take back what `state()` returned."""
        self.closes.extend(Decimal(c) for c in state.get("closes", []))
        self.entry = Decimal(state["entry"]) if state.get("entry") else None
'''


def class_name(name: str) -> str:
    """Return the class name for a strategy called `name` (`my_breakout` -> `MyBreakout`)."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", name) if w]
    cls = "".join(w[:1].upper() + w[1:] for w in words)
    if not cls or not cls.isidentifier() or keyword.iskeyword(cls):
        raise ValueError(
            f"strategy name {name!r}: use letters, digits and underscores, starting with a letter"
        )
    return cls


def write_template(name: str, directory: Path, overwrite: bool = False) -> Path:
    """Write `directory/NAME.py` from the template and return its path."""
    cls = class_name(name)
    stem = re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_").lower()
    path = directory / f"{stem}.py"
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists (pass --overwrite to replace it)")
    directory.mkdir(parents=True, exist_ok=True)
    rel = path.as_posix()
    text = TEMPLATE.format(title=cls, name=stem, path=rel, cls=cls)
    path.write_text(text, encoding="utf-8")
    return path
