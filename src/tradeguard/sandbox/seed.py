"""Seed markets and house liquidity from recorded candles or a generated universe."""

from __future__ import annotations

import csv
import random
from decimal import ROUND_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from tradeguard.model.errors import ConfigError
from tradeguard.model.money import dec, quantize_down

if TYPE_CHECKING:
    from tradeguard.sandbox.server import SandboxExchange

_HUBS = ("USDT", "BTC", "ETH", "BNB")
_HUB_USD = {
    "USDT": Decimal(1),
    "BTC": Decimal(60000),
    "ETH": Decimal(3000),
    "BNB": Decimal(500),
}
_WIRE_QUANTUM = Decimal("0.00000001")


def _ladder(
    mid: Decimal, tick: Decimal, step: Decimal, levels: int, size: Decimal, spread_ticks: int = 1
) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    mid = quantize_down(mid, tick)
    qty = max(quantize_down(size, step), step)
    bids = [
        (mid - tick * (spread_ticks + i), qty)
        for i in range(levels)
        if mid - tick * (spread_ticks + i) > 0
    ]
    asks = [(mid + tick * (spread_ticks + i), qty) for i in range(levels)]
    return bids, asks


def seed_from_candles(
    ex: SandboxExchange,
    path: Path,
    symbol: str,
    base: str,
    quote: str,
    tick: str = "0.01",
    step: str = "0.00001",
    min_notional: str = "5",
    levels: int = 5,
    level_qty: str = "1",
) -> Decimal:
    """List `symbol` and quote a house book around the last close of a candle CSV; return it.

    Reads the `timestamp,open,high,low,close,volume` CSVs of `../shared/data/candles` (a header
    row is optional).
    """
    if not path.exists():
        raise ConfigError(f"candle file {path} does not exist; pass a file from ../shared/data")
    last_close: Decimal | None = None
    with path.open() as fh:
        for row in csv.reader(fh):
            if len(row) < 5 or row[4] == "close":
                continue
            last_close = dec(row[4], "close")
    if last_close is None:
        raise ConfigError(f"candle file {path} holds no candle rows")
    ex.add_market(symbol, base, quote, tick, step, step, min_notional)
    bids, asks = _ladder(last_close, dec(tick), dec(step), levels, dec(level_qty))
    ex.set_book(symbol, bids, asks)
    return last_close


def seed_universe(ex: SandboxExchange, n_markets: int, seed: int = 0) -> list[str]:
    """Generate `n_markets` spot markets over a few quote hubs, each with a house book.

    The hubs trade with each other (BTCUSDT, ETHBTC, ...) and alts trade against the hubs, so
    the universe holds triangles. Prices follow one hidden USD value per asset, so cross rates
    agree and no cycle pays after fees until something moves a book (see `sandbox.drift`).
    """
    rng = random.Random(seed)
    symbols: list[str] = []
    pairs = [(base, quote) for i, quote in enumerate(_HUBS) for base in _HUBS[i + 1 :]]
    n_assets = max(2, (n_markets - len(pairs)) // 3)
    assets = [f"A{i:03d}" for i in range(n_assets)]
    usd = dict(_HUB_USD)
    usd.update({a: Decimal(str(round(10 ** rng.uniform(-1, 3), 6))) for a in assets})
    i = 0
    while len(symbols) < n_markets:
        if i < len(pairs):
            base, quote = pairs[i]
        else:
            k = i - len(pairs)
            base, quote = assets[k % n_assets], _HUBS[(k // n_assets) % len(_HUBS)]
        i += 1
        symbol = base + quote
        if symbol in ex.engine.markets:
            continue
        mid = usd[base] / usd[quote]
        # Five significant digits, but no finer than the 8 decimals Binance's wire carries.
        tick = max(Decimal(1).scaleb(mid.adjusted() - 4), _WIRE_QUANTUM)
        # About 0.01-0.1 USD per amount step, whatever the quote.
        step = min(Decimal(1).scaleb((Decimal("0.1") / usd[base]).adjusted()), Decimal(1))
        step = max(step, _WIRE_QUANTUM)
        fee = Decimal(rng.choice(["0.001", "0.00075", "0.0005"]))
        min_notional = (Decimal(5) / usd[quote]).quantize(_WIRE_QUANTUM, ROUND_UP)
        ex.add_market(symbol, base, quote, tick, step, step, min_notional, fee, fee)
        size = max(Decimal(str(round(rng.uniform(50, 500), 2))) / usd[base], step)
        bids, asks = _ladder(mid, tick, step, 3, size, spread_ticks=rng.randint(1, 5))
        ex.set_book(symbol, bids, asks)
        symbols.append(symbol)
    return symbols
