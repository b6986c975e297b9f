"""The steady loop decides the mark guard's common cases on the loaded float prices
(backtest/steady.py: a band's float shadow): every decision is the Decimals', a price on a band's
bound or within a hair of it included, and with floats a little off their Decimals too."""

from __future__ import annotations

import random
import sys
import tracemalloc
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from backtest_support import write_config
from tradeguard.backtest import replay, steady
from tradeguard.backtest.bulk import merged_prices
from tradeguard.backtest.runner import BacktestWindow, run_backtest
from tradeguard.config import load_config
from tradeguard.marketdata.arrow_candles import ColumnCandles
from tradeguard.model.market import Candle
from tradeguard.model.price_guard import MarkGuard
from tradeguard.strategies.loader import load_strategy_class

T0 = 1_515_715_200_000  # 2018-01-12 00:00 UTC
FIVE_M = 300
HAIR = Decimal("1e-20")  # far below a float's resolution: the floats cannot tell it apart

# Records, at every candle, the mark and whether the paper venue took the bar, and at every
# EVERY-th the guard's bands (as its methods give them: a band the steady loop has not built
# yet is built when read; read now and then, the loop builds those left unread itself).
RECORDER = """
from tradeguard.strategies.base import Strategy

SEEN = []
EVERY = 1


class MarkRecorder(Strategy):
    def on_candle(self, candle):
        node = self.ctx._node
        read = candle.ts // 300_000 % EVERY == 0  # the same candles in every run
        bands = node.risk.mark_guard.state()["bands"] if read else None
        paper = node._paper[self.venue]._markets.get(candle.symbol)
        SEEN.append((candle.ts, str(node.portfolio.marks.get(candle.symbol)), bands,
                     paper is not None and paper.candle is candle))
"""


def _near(rnd: random.Random, bound: Decimal) -> Decimal:
    """`bound` itself, a hair either side of it, or a little inside or outside."""
    way = rnd.choice((0, 1, -1, 2, -2))
    if way in (1, -1):
        return bound * (1 + way * HAIR)
    if way in (2, -2):
        return bound * (1 + way * Decimal("0.0004"))
    return bound


def _boundary_bars(n: int, seed: int) -> list[tuple[Decimal, Decimal, Decimal]]:
    """Closes, lows and highs on or about the bounds of the band the replay's guard (30 %, as
    the example config) holds at each bar: its near range, its limit, now and then a far print."""
    rnd = random.Random(seed)
    guard = MarkGuard(Decimal(30), Decimal(0))
    close, out = Decimal("0.1"), []
    for i in range(n):
        band = guard._bands.get(("", "ETH/BTC"))
        if band is not None:
            pick = rnd.random()
            if pick < 0.7 and not Decimal("0.05") < band[2] < Decimal("0.2"):  # back to 0.1
                pick = 0.1 if band[2] >= Decimal("0.2") else 0.5
            target = band[4] if pick < 0.35 else band[5] if pick < 0.7 else band[rnd.choice((0, 1))]
            close = _near(rnd, target) if pick < 0.97 else band[2] * rnd.choice((2, Decimal("0.4")))
        low = close if band is None else min(close, _near(rnd, band[0]) if i % 3 else close)
        high = close if band is None else max(close, _near(rnd, band[1]) if i % 4 else close)
        guard.take_candle("", "ETH/BTC", close, low, high, T0 + i * FIVE_M * 1000, 0)
        out.append((close, low, high))
    return out


def _series(bars: list[tuple[Decimal, Decimal, Decimal]], off: float) -> dict[str, Any]:
    """The bars as a loaded series (ColumnCandles): each float column the nearest float of the
    Decimal, moved by up to `off` (relative) either way."""
    rnd = random.Random(5)
    candles = ColumnCandles(
        Candle("ETH/BTC", T0 + i * FIVE_M * 1000, c, h, lo, c, Decimal(1), FIVE_M)
        for i, (c, lo, h) in enumerate(bars)
    )

    def column(values: list[Decimal]) -> Any:
        return np.array([float(v) * (1 + rnd.uniform(-off, off)) for v in values])

    candles.columns = {
        "ts": np.array([c.ts for c in candles], dtype=np.int64),
        "open": column([c.open for c in candles]),
        "high": column([c.high for c in candles]),
        "low": column([c.low for c in candles]),
        "close": column([c.close for c in candles]),
        "volume": np.ones(len(candles)),
    }
    return {"ETH/BTC": candles}


@pytest.mark.parametrize(
    ("off", "block", "every"),
    [(0.0, steady.BLOCK, 1), (2.0**-45, steady.BLOCK, 3), (0.0, 16, 7)],
)
def test_the_float_shadow_decides_as_the_decimals_on_and_about_every_bound(
    tmp_path, monkeypatch, off, block, every
):
    monkeypatch.setattr(steady, "BLOCK", block)  # 16: the loop's rows made block by block
    path = tmp_path / "recorder.py"
    path.write_text(RECORDER, encoding="utf-8")
    module = sys.modules[load_strategy_class(f"{path}:MarkRecorder").__module__]
    module.EVERY = every  # bands read at every candle, or left unbuilt for a few
    cfg = load_config(write_config(tmp_path, pairs=("ETH",)))
    for sc in cfg.strategies:
        sc.kind, sc.params = f"{path}:MarkRecorder", {}
    bars = _boundary_bars(3000, seed=11)
    window = BacktestWindow(commit_every=20_000, skip_flat=False)
    real_modes, real_exact = replay._modes, steady._exact
    general = [True]
    monkeypatch.setattr(
        replay, "_modes", lambda *a: (*real_modes(*a)[:-1], None) if general[0] else real_modes(*a)
    )
    one = run_backtest(cfg, tmp_path / "one", window, series=_series(bars, off))
    general[0] = False
    exact: list[int] = []
    monkeypatch.setattr(steady, "_exact", lambda *a: exact.append(1) or real_exact(*a))
    two = run_backtest(cfg, tmp_path / "two", window, series=_series(bars, off))
    seen = module.SEEN
    n = one.summary.events
    assert n == len(bars) and len(seen) == 2 * n
    assert seen[n:] == seen[:n]  # the same mark, band and paper bar after every candle
    assert one.curve == two.curve
    # the floats decided most candles; those on or a hair from a bound went to the Decimals
    assert 0.1 * n < len(exact) < 0.9 * n
    assert {s[1] for s in seen[:n]} != {str(bars[0][0])}  # the mark moved


def test_merged_prices_are_the_merged_candles_floats_and_close_times(tmp_path):
    bars = _boundary_bars(50, seed=3)
    series = _series(bars, 0.0)
    merged = merged_prices(series)
    assert merged is not None and len(merged) == 50
    cols = (merged.close, merged.low, merged.high, merged.close_ts)
    prices = list(zip(*(col.tolist() for col in cols), strict=True))
    assert [p[3] for p in prices] == [c.close_ts for c in series["ETH/BTC"]]
    assert [p[:3] for p in prices] == [(float(c), float(lo), float(h)) for c, lo, h in bars]
    assert merged.longest_ms == FIVE_M * 1000  # the longest span, the steady loop's
    assert merged_prices({"ETH/BTC": list(series["ETH/BTC"])}) is None  # no loaded columns


def _flat_series(symbol: str, n: int, shift_ms: int) -> ColumnCandles:
    """`n` five-minute candles of one price as a loaded series, their opens moved by `shift_ms`."""
    one = Decimal(1)
    candles = ColumnCandles(
        Candle(symbol, T0 + shift_ms + i * FIVE_M * 1000, one, one, one, one, one, FIVE_M)
        for i in range(n)
    )
    ts = np.array([c.ts for c in candles], dtype=np.int64)
    prices = np.linspace(1.0, 2.0, n)
    candles.columns = {"ts": ts, "open": prices, "high": prices * 1.01, "low": prices * 0.99,
                       "close": prices, "volume": np.ones(n)}  # fmt: skip
    return candles


def test_merged_prices_keep_a_few_bytes_per_candle():
    # held for the whole replay: four 8-byte columns (close, low, high, close time) and a
    # little fixed overhead, not an object per price
    n = 20_000
    series = {"ETH/BTC": _flat_series("ETH/BTC", n, 0), "LTC/BTC": _flat_series("LTC/BTC", n, 60)}
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        prices = merged_prices(series)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert prices is not None and len(prices) == 2 * n
    per_candle = held / (2 * n)
    assert per_candle <= 40, f"merged prices hold {per_candle:.1f} B per candle (limit 40 B)"


def _loaded(value: float) -> Decimal:
    """A price as the loader makes it: the `Decimal` of its float's 15-digit text."""
    return Decimal(format(value, ".15g"))


STEP = 5e-324  # the smallest float: below 2**-1022 floats are whole multiples of it


def _down_to_steps() -> list[Decimal]:
    """Closes from four times the smallest normal float down to 40 steps, each 28 % under the
    last (within the 30 % limit: each rebuilds the band), then 36 steps, 25 (30.6 % under:
    past the limit, whose float rounds to 25 steps) and 25 twice more."""
    out, x = [], 4 * 2.0**-1022
    while x > 40 * STEP:
        out.append(x)
        x *= 0.72
    return [_loaded(x) for x in (*out, 36 * STEP, 25 * STEP, 25 * STEP, 25 * STEP)]


@pytest.mark.parametrize(
    "closes",
    [
        # A loaded file may hold prices under the smallest normal float (low > 0 is all it
        # checks). There a float product is rounded to a whole step: a band built on 12 steps
        # (the close of 10 steps followed) has its 30 % limit at 15.6 steps, whose float
        # rounds to 16 steps. A close of 16 steps is past the limit: held as a suspect.
        [_loaded(k * STEP) for k in (10, 12, 16, 12, 12, 16)],
        # Prices past the largest float (given as a series): their floats are all infinite.
        [Decimal(x) for x in ("1E+309", "1.2E+309", "1.6E+309", "1.2E+309", "1.2E+309")],
        # the band followed on floats (no Decimal compared) from normal prices to subnormal
        _down_to_steps(),
    ],
    ids=["subnormal", "overflowing", "followed_down"],
)
def test_the_float_shadow_leaves_prices_out_of_the_floats_range_to_the_decimals(
    tmp_path, monkeypatch, closes
):
    path = tmp_path / "recorder.py"
    path.write_text(RECORDER, encoding="utf-8")
    cfg = load_config(write_config(tmp_path, pairs=("ETH",)))
    for sc in cfg.strategies:
        sc.kind, sc.params = f"{path}:MarkRecorder", {}
    bars = [(c, c, c) for c in closes]
    window = BacktestWindow(commit_every=20_000, skip_flat=False)
    real_modes = replay._modes
    general = [True]
    monkeypatch.setattr(
        replay, "_modes", lambda *a: (*real_modes(*a)[:-1], None) if general[0] else real_modes(*a)
    )
    run_backtest(cfg, tmp_path / "one", window, series=_series(bars, 0.0))
    general[0] = False
    run_backtest(cfg, tmp_path / "two", window, series=_series(bars, 0.0))
    seen = sys.modules[load_strategy_class(f"{path}:MarkRecorder").__module__].SEEN
    n = len(bars)
    assert len(seen) == 2 * n
    held = len(closes) - 3 if len(closes) > 6 else 2  # the close past the limit
    assert seen[held][1] == seen[held - 1][1] == str(closes[held - 1])  # the general loop held it
    assert seen[n:] == seen[:n]  # the steady loop: the same marks and bands
