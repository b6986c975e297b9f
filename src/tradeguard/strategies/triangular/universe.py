"""Seeded generator of a large spot venue: assets, quote hubs, markets, tickers and books.

Prices follow one hidden USD value per asset, so cross rates are consistent up to small noise;
a small share of markets is dislocated by 0.3-1.5% so that a few cycles pay after fees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from tradeguard.strategies.triangular.markets import ArbMarket, Ticker

# Quote hubs in quote priority (a hub/hub market is quoted in the earlier one) with USD values
# and how often alts list against them.
HUBS: tuple[tuple[str, float, float], ...] = (
    ("USDT", 1.0, 1.0),
    ("USDC", 1.0, 0.35),
    ("FDUSD", 1.0, 0.2),
    ("BTC", 62_000.0, 0.55),
    ("ETH", 3_100.0, 0.35),
    ("BNB", 560.0, 0.25),
    ("TRY", 0.031, 0.15),
    ("EUR", 1.08, 0.1),
    ("DAI", 1.0, 0.06),
    ("TUSD", 1.0, 0.05),
    ("BRL", 0.18, 0.05),
    ("JPY", 0.0066, 0.04),
)
FEES = (Decimal("0.0004"), Decimal("0.00075"), Decimal("0.001"))


@dataclass
class Universe:
    """A generated venue: markets, their tickers and the hidden USD value of every asset."""

    markets: list[ArbMarket]
    tickers: dict[str, Ticker]
    usd: dict[str, float]
    seed: int

    def to_ccxt_markets(self) -> dict[str, Any]:
        """Return the markets shaped like ccxt's `load_markets()` (precision as tick sizes)."""
        out: dict[str, Any] = {}
        for m in self.markets:
            out[m.symbol] = {
                "id": m.symbol.replace("/", ""),
                "symbol": m.symbol,
                "base": m.base,
                "quote": m.quote,
                "baseId": m.base,
                "quoteId": m.quote,
                "active": True,
                "type": "spot",
                "spot": True,
                "margin": False,
                "swap": False,
                "future": False,
                "option": False,
                "contract": False,
                "taker": float(m.taker_fee),
                "maker": float(m.taker_fee),
                "precision": {"amount": float(m.amount_step), "price": float(m.price_tick)},
                "limits": {
                    "amount": {"min": float(m.min_amount), "max": None},
                    "price": {"min": float(m.price_tick), "max": None},
                    "cost": {"min": float(m.min_notional), "max": None},
                },
                "info": {},
            }
        return out

    def to_ccxt_tickers(self, timestamp_ms: int = 1_700_000_000_000) -> dict[str, Any]:
        """Return the tickers shaped like ccxt's `fetch_tickers()`."""
        out: dict[str, Any] = {}
        for sym, t in self.tickers.items():
            out[sym] = {
                "symbol": sym,
                "timestamp": timestamp_ms,
                "datetime": None,
                "bid": t.bid,
                "ask": t.ask,
                "bidVolume": t.bid_size,
                "askVolume": t.ask_size,
                "last": (t.bid + t.ask) / 2,
                "info": {},
            }
        return out

    def book(self, symbol: str, levels: int = 5) -> tuple[list[list[float]], list[list[float]]]:
        """Return (bids, asks) levels around the ticker, one tick-ish step apart, seeded."""
        t = self.tickers[symbol]
        rng = np.random.default_rng([self.seed, sum(map(ord, symbol))])
        bids, asks = [[t.bid, t.bid_size or 0.0]], [[t.ask, t.ask_size or 0.0]]
        for i in range(1, levels):
            step = 1 + 0.0005 * i
            bids.append([t.bid / step, float(bids[0][1]) * float(rng.uniform(0.5, 3.0))])
            asks.append([t.ask * step, float(asks[0][1]) * float(rng.uniform(0.5, 3.0))])
        return bids, asks

    def next_tick(self, rng: np.random.Generator) -> Ticker:
        """Return a random small move of a random market's quotes (for update streams)."""
        t = self.tickers[self.markets[int(rng.integers(len(self.markets)))].symbol]
        move = math.exp(float(rng.normal(0.0, 0.0005)))
        return Ticker(t.symbol, t.bid * move, t.ask * move, t.bid_size, t.ask_size)


def _pow10(x: float) -> Decimal:
    return Decimal(1).scaleb(math.floor(math.log10(x)))


def _on_tick(value: float, tick: Decimal, up: bool) -> float:
    steps = value / float(tick)
    n = math.ceil(steps - 1e-9) if up else math.floor(steps + 1e-9)
    return float(Decimal(max(n, 1)) * tick)


def generate_universe(
    n_assets: int = 400,
    n_markets: int = 1_500,
    n_hubs: int = 10,
    *,
    seed: int = 7,
    dislocated_share: float = 0.01,
) -> Universe:
    """Build a deterministic spot venue of about n_assets assets and exactly n_markets markets."""
    if not 3 <= n_hubs <= len(HUBS):
        raise ValueError(f"n_hubs={n_hubs} is out of range [3, {len(HUBS)}]")
    n_alts = n_assets - n_hubs
    hub_pairs = n_hubs * (n_hubs - 1) // 2
    if n_alts < 1 or not hub_pairs + n_alts <= n_markets <= hub_pairs + n_alts * n_hubs:
        raise ValueError(
            f"n_markets={n_markets} cannot be built from {n_assets} assets and {n_hubs} hubs "
            f"(range [{hub_pairs + max(n_alts, 0)}, {hub_pairs + max(n_alts, 0) * n_hubs}])"
        )
    rng = np.random.default_rng(seed)
    hubs = HUBS[:n_hubs]
    usd: dict[str, float] = {name: value for name, value, _ in hubs}
    alts = [f"A{i:04d}" for i in range(n_alts)]
    for a, v in zip(alts, np.exp(rng.normal(math.log(0.8), 2.3, n_alts)), strict=True):
        usd[a] = float(min(max(v, 1e-6), 80_000.0))

    pairs: list[tuple[str, str]] = []  # (base, quote)
    for i in range(n_hubs):
        for j in range(i + 1, n_hubs):
            pairs.append((hubs[j][0], hubs[i][0]))  # the later hub is the base
    pairs.extend((a, hubs[0][0]) for a in alts)  # every alt trades against the first hub
    extra = n_markets - len(pairs)
    if extra:
        popularity = np.exp(rng.normal(0.0, 1.0, n_alts))
        hub_weight = np.array([w for _, _, w in hubs[1:]])
        weights = (popularity[:, None] * hub_weight[None, :]).ravel()
        chosen = rng.choice(len(weights), size=extra, replace=False, p=weights / weights.sum())
        for c in np.sort(chosen):
            pairs.append((alts[c // (n_hubs - 1)], hubs[1 + c % (n_hubs - 1)][0]))

    markets: list[ArbMarket] = []
    tickers: dict[str, Ticker] = {}
    for base, quote in pairs:
        symbol = f"{base}/{quote}"
        mid = usd[base] / usd[quote]
        noise = rng.normal(0.0, 0.0002)
        if rng.random() < dislocated_share:
            noise += rng.choice((-1.0, 1.0)) * rng.uniform(0.003, 0.015)
        mid *= math.exp(noise)
        tick = _pow10(mid) * Decimal("0.00001")  # five to six significant digits
        step = min(_pow10(0.1 / usd[base]), Decimal(1)) if usd[base] < 1e6 else Decimal("1e-8")
        min_notional = _pow10(10.0 / usd[quote])  # about 10 USD, as venues set it
        spread = float(rng.uniform(0.0001, 0.003))
        bid = _on_tick(mid * (1 - spread / 2), tick, up=False)
        ask = _on_tick(mid * (1 + spread / 2), tick, up=True)
        if ask <= bid:
            ask = float(Decimal(repr(bid)) + tick)
        depth_usd = float(np.exp(rng.normal(math.log(5_000.0), 1.2)))
        size = max(depth_usd / usd[base], float(step))
        bid_size = float(Decimal(repr(size * rng.uniform(0.5, 1.5))).quantize(step))
        ask_size = float(Decimal(repr(size * rng.uniform(0.5, 1.5))).quantize(step))
        markets.append(
            ArbMarket(
                symbol=symbol,
                base=base,
                quote=quote,
                taker_fee=FEES[int(rng.integers(len(FEES)))],
                amount_step=step,
                price_tick=tick,
                min_notional=min_notional,
                min_amount=step,
            )
        )
        tickers[symbol] = Ticker(
            symbol, bid, ask, max(bid_size, float(step)), max(ask_size, float(step))
        )
    return Universe(markets=markets, tickers=tickers, usd=usd, seed=seed)
