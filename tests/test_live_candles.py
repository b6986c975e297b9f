"""Closed live candles: each once, aggregated with the replays' code, from klines or trades."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tradeguard.marketdata.candles import aggregate, candles_from_trades
from tradeguard.marketdata.live.closing import CandleCloser, CandleFanout, TradeBar
from tradeguard.marketdata.live.subscriptions import Subscription, merge, timeframe_of, timeframe_s
from tradeguard.marketdata.loaders import load_candles, load_trades
from tradeguard.model.market import Candle

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
BTC = DATA / "candles" / "BTC-PERP_1m_20211231-20220201.csv"
TRADES = DATA / "trades" / "binance_BTCUSDT_trades.parquet"
D = Decimal


def _real(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared market data missing: {path}")
    return path


def _bar(ts: int, close: str, interval_s: int = 60) -> Candle:
    c = D(close)
    return Candle("BTC/USDT", ts, c, c, c, c, D(1), interval_s)


def test_a_candle_closes_once_when_the_next_one_starts() -> None:
    closer = CandleCloser(60)
    rows = [_bar(0, "1"), _bar(0, "2"), _bar(0, "3"), _bar(60_000, "4"), _bar(0, "9"),
            _bar(60_000, "5"), _bar(120_000, "6"), _bar(120_000, "7")]  # fmt: skip
    closed = [c for r in rows if (c := closer.update(r)) is not None]
    assert [(c.ts, c.close) for c in closed] == [(0, D(3)), (60_000, D(5))]
    assert closer.current is not None and closer.current.close == D(7)


def test_a_flagged_candle_closes_on_its_final_row_once_and_never_before() -> None:
    closer = CandleCloser(60)
    # (row, venue says closed): repeats of the open candle, its final row, then late repeats
    rows = [(_bar(0, "1"), False), (_bar(0, "2"), False), (_bar(0, "3"), True),
            (_bar(0, "3"), True), (_bar(0, "9"), False), (_bar(60_000, "4"), False),
            (_bar(60_000, "5"), False)]  # fmt: skip
    out = [closer.update(r, flag) for r, flag in rows]
    assert out[:2] == [None, None], "an open candle is not emitted before the venue closes it"
    assert out[2] == _bar(0, "3"), "emitted on the flagged row, with that row's values"
    assert out[3:] == [None] * 4, "never twice: not on a repeat, nor when the next one starts"
    assert closer.current == _bar(60_000, "5")
    assert closer.update(_bar(60_000, "6"), True) == _bar(60_000, "6")
    assert closer.update(_bar(120_000, "7")) is None


def test_a_flag_for_a_later_candle_skips_the_open_one_for_the_back_fill() -> None:
    closer = CandleCloser(60)
    assert closer.update(_bar(0, "1")) is None
    # the flagged row of minute 0 was lost; minute 1 arrives closed
    assert closer.update(_bar(60_000, "2"), True) == _bar(60_000, "2")
    assert closer.last_closed_ts == 60_000 and closer.current is None


def test_seeded_closer_never_repeats_a_candle_the_warm_up_delivered() -> None:
    closer = CandleCloser(60)
    closer.seed(60_000)
    assert closer.update(_bar(60_000, "1")) is None
    assert closer.update(_bar(120_000, "2")) is None
    assert closer.update(_bar(180_000, "3")) == _bar(120_000, "2")


FAR = 4_102_444_800_000  # 2100-01-01: a kline row with a bad timestamp


@pytest.mark.parametrize("flag", [False, True])
def test_one_row_stamped_years_ahead_does_not_stop_the_candles(flag: bool) -> None:
    closer = CandleCloser(60)
    assert closer.update(_bar(0, "1")) is None
    assert closer.update(_bar(FAR, "9"), flag) is None  # one bad row: held back
    assert closer.update(_bar(FAR, "9"), flag) is None  # a repeat of it confirms nothing
    assert closer.update(_bar(60_000, "2")) == _bar(0, "1")
    assert closer.update(_bar(120_000, "3")) == _bar(60_000, "2")
    assert closer.last_closed_ts == 60_000


def test_a_real_jump_ahead_is_taken_on_the_next_minute() -> None:
    # the venue's clock really moved on (a replay run fast while the stream was away)
    closer = CandleCloser(60)
    assert closer.update(_bar(0, "1")) is None
    day = 86_400_000
    assert closer.update(_bar(2 * day, "5")) is None  # far ahead: held
    assert closer.update(_bar(2 * day + 60_000, "6")) == _bar(0, "1")  # a second one: taken
    assert closer.update(_bar(2 * day + 120_000, "7")) == _bar(2 * day + 60_000, "6")


def test_fanout_builds_the_same_bars_as_the_replay_aggregation() -> None:
    minutes = load_candles(_real(BTC), "BTC/USDT")[:3000]
    fanout = CandleFanout(60, {60, 300, 3600, 14_400})
    out: dict[int, list[Candle]] = {60: [], 300: [], 3600: [], 14_400: []}
    for c in minutes:
        for bar in fanout.on_base(c):
            out[bar.interval_s].append(bar)
    assert out[60] == minutes
    for interval in (300, 3600, 14_400):
        replayed = aggregate(minutes, interval)
        # the replay also flushes the last (unfinished) bucket; live waits for it to close
        assert out[interval] == [b for b in replayed if b.close_ts <= minutes[-1].close_ts]
        assert len(out[interval]) >= len(replayed) - 1


def test_fanout_skips_bars_the_warm_up_delivered_and_a_bucket_joined_midway() -> None:
    fanout = CandleFanout(60, {300})
    fanout.mark_delivered(300, 0)  # the warm-up's last closed 5m bar opened at 0
    # the stream joins at minute 2 of the bucket [0, 300 s) and runs into the next one
    got = [b for m in range(2, 10) for b in fanout.on_base(_bar(m * 60_000, str(m)))]
    assert [(b.ts, b.open, b.close) for b in got] == [(300_000, D(5), D(9))]


def test_fanout_refuses_an_interval_the_base_does_not_divide() -> None:
    with pytest.raises(ValueError, match=r"candle intervals \[90\] s are not multiples"):
        CandleFanout(60, {90})


def test_trade_bars_close_into_the_same_candles_as_the_batch_builder() -> None:
    trades = load_trades(_real(TRADES), "BTC/USDT")
    bar, closer = TradeBar(5), CandleCloser(5)  # the file spans under a minute
    live = [c for t in trades if (c := closer.update(bar.update(t))) is not None]
    batch = candles_from_trades(trades, 5)
    assert live == batch[:-1] and live  # the last minute is still open
    assert closer.current == batch[-1]


def test_timeframes_read_and_write_and_bad_ones_name_the_value() -> None:
    assert [timeframe_s(t) for t in ("1m", "15m", "4h", "1d")] == [60, 900, 14_400, 86_400]
    assert timeframe_of(300) == "5m" and timeframe_of(86_400) == "1d"
    with pytest.raises(ValueError, match=r"timeframe='5x': expected a count and a unit"):
        timeframe_s("5x")
    with pytest.raises(ValueError, match=r"depth=0 must be in \[1, 1000\]"):
        Subscription("book", "v", "BTC/USDT")


def test_subscriptions_merge_to_one_stream_per_kind_and_symbol() -> None:
    needs = merge([
        Subscription("candles", "v", "BTC/USDT", "1m", warmup=10),
        Subscription("candles", "v", "BTC/USDT", "1m", warmup=30),
        Subscription("candles", "v", "BTC/USDT", "1h", warmup=5),
        Subscription("book", "v", "BTC/USDT", depth=5),
        Subscription("book", "v", "BTC/USDT", depth=20),
        Subscription("quotes", "v", "ETH/USDT"),
    ])  # fmt: skip
    btc, eth = needs[("v", "BTC/USDT")], needs[("v", "ETH/USDT")]
    assert btc.intervals == {60: 30, 3600: 5} and btc.depth == 20 and not btc.quotes
    assert eth.quotes and not eth.wants("candles")


def test_two_minutes_stamped_years_ahead_do_not_stop_the_candles_for_good() -> None:
    # the venue's clock ran years ahead across a minute boundary, then came back
    closer = CandleCloser(60)
    assert closer.update(_bar(0, "1")) is None
    assert closer.update(_bar(FAR, "9")) is None  # held back
    assert closer.update(_bar(FAR + 60_000, "9")) == _bar(0, "1")  # a second one: taken
    assert closer.update(_bar(60_000, "2")) is None  # older than the open candle: late, maybe
    assert closer.update(_bar(120_000, "3")) is None  # a second in a row: the clock came back
    assert closer.current == _bar(120_000, "3")
    assert closer.update(_bar(180_000, "4")) == _bar(120_000, "3")
