"""A churn strategy for rehearsals and chaos runs: small limit orders, often, on both sides.

It exists to exercise the order path, not to make money. On each quote, at most once every
`interval_ms`, and while fewer than `max_open` of its orders are open, it places a limit order of
about `order_usd`: with probability `cross_pct`/100 one that crosses the spread (fills at once,
maybe partly), otherwise one resting `rest_bps` away from the touch (left to the order timeout to
cancel). Sides alternate at random but lean towards flat; `cross_side` = buy or sell keeps the
crossing orders on one side. Draws come from a seeded RNG.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.market import Quote
from tradeguard.model.money import dec, quantize_down
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy, register

_KNOWN = {"order_usd", "interval_ms", "max_open", "cross_pct", "rest_bps", "cross_side", "seed"}


@register("rehearsal")
class Rehearsal(Strategy):
    """Places small crossing and resting limit orders often; parameters validated here."""

    def __init__(self, strategy_id: str, venue: str, symbol: str, params: dict[str, Any]) -> None:
        super().__init__(strategy_id, venue, symbol, params)
        unknown = set(params) - _KNOWN
        if unknown:
            raise ValueError(f"unknown rehearsal params {sorted(unknown)}; known: {sorted(_KNOWN)}")
        self.order_usd = dec(params.get("order_usd", "10"), "order_usd")
        self.interval_ms = int(params.get("interval_ms", 200))
        self.max_open = int(params.get("max_open", 4))
        self.cross_pct = Decimal(str(params.get("cross_pct", 40)))
        self.rest_bps = Decimal(str(params.get("rest_bps", 20)))
        if not Decimal("1") <= self.order_usd <= Decimal("100000"):
            raise ValueError(f"strategy param order_usd = {self.order_usd}: must be in [1, 100000]")
        if not 0 <= self.interval_ms <= 3_600_000:
            raise ValueError(
                f"strategy param interval_ms = {self.interval_ms}: must be in [0, 3600000]"
            )
        if not 1 <= self.max_open <= 1000:
            raise ValueError(f"strategy param max_open = {self.max_open}: must be in [1, 1000]")
        if not 0 <= self.cross_pct <= 100:
            raise ValueError(f"strategy param cross_pct = {self.cross_pct}: must be in [0, 100]")
        if not 0 <= self.rest_bps <= 5000:
            raise ValueError(f"strategy param rest_bps = {self.rest_bps}: must be in [0, 5000]")
        self.cross_side = str(params.get("cross_side", "both"))
        if self.cross_side not in ("buy", "sell", "both"):
            raise ValueError(
                f"strategy param cross_side = {self.cross_side!r}: must be buy, sell or both"
            )
        self._seed = params.get("seed")
        self._rng = random.Random(self._seed)
        self._last_ms = 0
        self.placed = 0

    def on_ticker(self, quote: Quote) -> None:
        if quote.symbol != self.symbol or self.ctx is None:
            return
        now = self.ctx.now_ms()
        if now - self._last_ms < self.interval_ms:
            return
        if self.ctx.open_order_count(self.id, self.symbol) >= self.max_open:
            return
        inst = self.ctx.instrument(self.venue, self.symbol)
        if inst is None or quote.bid <= 0 or quote.ask <= 0:
            return
        self._last_ms = now
        held = self.position.quantity
        lean = 0.5 if held == 0 else (0.3 if held > 0 else 0.7)
        side = Side.BUY if self._rng.random() < lean else Side.SELL
        crossing = self._rng.random() * 100 < float(self.cross_pct)
        if crossing and self.cross_side != "both":
            # Crossing on one side only means the strategy never trades with itself.
            side = Side(self.cross_side)
        off = self.rest_bps / Decimal(10_000)
        if side is Side.BUY:
            price = quote.ask * (1 + off / 4) if crossing else quote.bid * (1 - off)
        else:
            price = quote.bid * (1 - off / 4) if crossing else quote.ask * (1 + off)
        price = quantize_down(price, inst.price_tick)
        amount = quantize_down(self.order_usd / price, inst.amount_step)
        amount = max(amount, inst.min_amount)
        if inst.min_notional and amount * price < inst.min_notional:
            amount = quantize_down(inst.min_notional / price, inst.amount_step) + inst.amount_step
        self.placed += 1
        self.emit(
            OrderIntent(
                strategy_id=self.id,
                venue=self.venue,
                symbol=self.symbol,
                side=side,
                amount=amount,
                type=OrderType.LIMIT,
                price=price,
                signal={"rehearsal": self.placed, "crossing": crossing},
            )
        )

    def state(self) -> dict[str, Any]:
        return {"placed": self.placed}

    def restore(self, state: dict[str, Any]) -> None:
        self.placed = int(state.get("placed", 0))
        if self._seed is not None:
            # A restarted run continues with fresh draws instead of replaying the first ones.
            self._rng = random.Random(f"{self._seed}:{self.placed}")
