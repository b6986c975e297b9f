"""Candle aggregation: UTC-aligned buckets, exact OHLCV, gaps, incremental equals batch."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tradeguard.marketdata.candles import CandleAggregator, aggregate, candles_from_trades
from tradeguard.marketdata.loaders import load_candles, load_trades
from tradeguard.model.market import Candle, TradeTick

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BTC_CSV = DATA / "candles" / "BTC-PERP_1m_20211231-20220201.csv"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"market data not found at {DATA}")

MIN = 60_000
T0 = 1_640_995_200_000  # 2022-01-01 00:00 UTC


def bar(ts: int, o: str, h: str, low: str, c: str, v: str = "1", interval_s: int = 60) -> Candle:
    return Candle(
        "BTC/USD", ts, Decimal(o), Decimal(h), Decimal(low), Decimal(c), Decimal(v), interval_s
    )


def base_volume(usd: str, close: str) -> Decimal:
    return (Decimal(usd) / Decimal(close)).quantize(Decimal("1e-8"))


@pytest.fixture(scope="module")
def btc() -> list[Candle]:
    if not DATA.is_dir():
        pytest.skip(f"market data not found at {DATA}")
    return load_candles(BTC_CSV)


@needs_data
def test_first_5m_bars_of_btc_file_match_hand_computation(btc: list[Candle]):
    bars = aggregate(btc[:11], 300)
    # File starts at 23:01, so the 23:00 bar holds 23:01..23:04 only.
    first, second = bars[0], bars[1]
    assert first.ts == T0 - 60 * MIN
    assert (first.open, first.high, first.low, first.close) == (
        Decimal("46319.0"),
        Decimal("46425.0"),
        Decimal("46319.0"),
        Decimal("46420.0"),
    )
    assert first.volume == (
        base_volume("2300413.7295", "46377.0")
        + base_volume("1829623.1938", "46411.0")
        + base_volume("466452.1722", "46425.0")
        + base_volume("254964.2098", "46420.0")
    )
    # 23:05..23:09 from the CSV rows.
    assert second.ts == T0 - 55 * MIN
    assert second.interval_s == 300
    assert (second.open, second.high, second.low, second.close) == (
        Decimal("46420.0"),
        Decimal("46437.0"),
        Decimal("46372.0"),
        Decimal("46415.0"),
    )
    assert second.volume == (
        base_volume("1012894.5416", "46427.0")
        + base_volume("482233.9857", "46435.0")
        + base_volume("2931220.4009", "46420.0")
        + base_volume("213809.7475", "46411.0")
        + base_volume("1379518.9364", "46415.0")
    )


@needs_data
@pytest.mark.parametrize("interval_s", [300, 900, 3600, 14400])
def test_bars_align_to_utc_multiples_of_the_interval(btc: list[Candle], interval_s: int):
    bars = aggregate(btc, interval_s)
    assert all(b.ts % (interval_s * 1000) == 0 for b in bars)
    assert all(b.interval_s == interval_s for b in bars)
    assert sum(b.volume for b in bars) == sum(c.volume for c in btc)
    assert bars[0].open == btc[0].open and bars[-1].close == btc[-1].close
    # The file has no gaps: every full bucket between the partial ends is present.
    assert len(bars) == (btc[-1].ts // (interval_s * 1000)) - (btc[0].ts // (interval_s * 1000)) + 1


@needs_data
def test_incremental_aggregator_equals_batch(btc: list[Candle]):
    agg = CandleAggregator(3600)
    out = [b for c in btc if (b := agg.update(c)) is not None]
    tail = agg.flush()
    assert tail is not None
    assert [*out, tail] == aggregate(btc, 3600)


def test_completed_bar_is_emitted_on_its_last_input_without_waiting():
    agg = CandleAggregator(300)
    results = [agg.update(bar(T0 + i * MIN, "10", "12", "9", str(10 + i))) for i in range(5)]
    assert results[:4] == [None] * 4
    assert results[4] == bar(T0, "10", "12", "9", "14", "5", interval_s=300)
    assert agg.flush() is None


def test_gap_produces_no_bar_and_closes_the_open_one():
    candles = [
        bar(T0, "1", "2", "1", "2"),
        bar(T0 + MIN, "2", "3", "2", "3"),
        # 00:02..00:14 missing: buckets 00:05 and 00:10 have no input.
        bar(T0 + 15 * MIN, "5", "6", "4", "5"),
    ]
    bars = aggregate(candles, 300)
    assert [b.ts for b in bars] == [T0, T0 + 15 * MIN]
    assert bars[0] == bar(T0, "1", "3", "1", "3", "2", interval_s=300)


def test_input_that_ends_a_gap_and_its_bucket_completes_two_bars():
    agg = CandleAggregator(300)
    assert agg.update_all(bar(T0, "1", "2", "1", "2")) == []
    done = agg.update_all(bar(T0 + 9 * MIN, "3", "4", "3", "4"))
    assert [b.ts for b in done] == [T0, T0 + 5 * MIN]
    # `update` returns one bar per call; the second comes on the next call or flush.
    agg = CandleAggregator(300)
    agg.update(bar(T0, "1", "2", "1", "2"))
    assert agg.update(bar(T0 + 9 * MIN, "3", "4", "3", "4")) == done[0]
    assert agg.flush() == done[1]


def test_aggregator_refuses_bad_intervals_and_unordered_input():
    with pytest.raises(ValueError, match="interval_s=0"):
        CandleAggregator(0)
    with pytest.raises(ValueError, match="not a multiple"):
        aggregate([bar(T0, "1", "1", "1", "1", interval_s=300)], 600 + 60)
    agg = CandleAggregator(300)
    agg.update(bar(T0 + MIN, "1", "1", "1", "1"))
    with pytest.raises(ValueError, match="time order"):
        agg.update(bar(T0, "1", "1", "1", "1"))


def test_candles_from_trades_builds_ohlcv_per_bucket():
    trades = [
        TradeTick("BTC/USDT", T0 + 1_000, "1", Decimal("100"), Decimal("1"), "buy"),
        TradeTick("BTC/USDT", T0 + 2_000, "2", Decimal("105"), Decimal("0.5"), "buy"),
        TradeTick("BTC/USDT", T0 + 3_000, "3", Decimal("95"), Decimal("2"), "sell"),
        TradeTick("BTC/USDT", T0 + 4_000, "4", Decimal("101"), Decimal("1"), "buy"),
        TradeTick("BTC/USDT", T0 + 3 * MIN, "5", Decimal("99"), Decimal("3"), "sell"),
    ]
    bars = candles_from_trades(trades, 60)
    assert bars == [
        Candle(
            "BTC/USDT",
            T0,
            Decimal("100"),
            Decimal("105"),
            Decimal("95"),
            Decimal("101"),
            Decimal("4.5"),
            60,
        ),
        Candle(
            "BTC/USDT",
            T0 + 3 * MIN,
            Decimal("99"),
            Decimal("99"),
            Decimal("99"),
            Decimal("99"),
            Decimal("3"),
            60,
        ),
    ]


@needs_data
def test_candles_from_real_trades_conserve_volume():
    trades = load_trades(DATA / "trades" / "binance_BTCUSDT_trades.parquet")
    bars = candles_from_trades(trades, 10)
    assert sum(b.volume for b in bars) == sum(t.amount for t in trades)
    assert bars[0].open == trades[0].price and bars[-1].close == trades[-1].price
    assert all(b.low <= b.open <= b.high and b.low <= b.close <= b.high for b in bars)
