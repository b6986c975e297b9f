"""Every replay path orders candles alike: by close time, then bar span (a coarser bar after the
finer bars within it, the finer one first when they close together), ties in series order then
file order, also inside one series that mixes timeframes. The paper replay
(`replay.candle_stream`), a backtest streaming its series (`BacktestNode.candle_stream`) and a
backtest's bulk merge (`bulk.merge_with_plan`) hand strategies the same sequence, and the
streamed ones stay lazy (a paper replay parses its files on the loop the API shares)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from tradeguard.backtest import replay
from tradeguard.backtest.bulk import merge_with_plan
from tradeguard.backtest.replay_order import by_close, merged_by_close
from tradeguard.backtest.runner import BacktestNode
from tradeguard.marketdata import candle_files
from tradeguard.model.market import Candle

MIN = 60_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % (5 * MIN)


def _bar(symbol: str, minute: int, interval_s: int = 60) -> Candle:
    p = Decimal(100 + minute)
    return Candle(symbol, T0 + minute * MIN, p, p, p, p, Decimal(1), interval_s)


def _kline_csv(path: Path, bars: list[Candle]) -> str:
    rows = [
        f"{c.ts},{c.open},{c.high},{c.low},{c.close},1,{c.ts + c.interval_s * 1000 - 1},"
        f"{c.close},1,1,{c.close},0"
        for c in bars
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def _series(two: bool) -> dict[str, list[Candle]]:
    # BTC's file holds, by open time, a 5m bar opening at minute 0 among 1m bars: it closes at
    # minute 5, after the 1m bars of minutes 1..4 (the last closing with it), not before them
    btc = [_bar("BTC/USDT", 0, 300)] + [_bar("BTC/USDT", m) for m in range(1, 7)]
    series = {"BTC/USDT": btc}
    if two:
        series["ETH/USDT"] = [_bar("ETH/USDT", m) for m in range(7)]
    return series


def _keys(candles) -> list[tuple[str, int, int]]:
    return [(c.symbol, (c.ts - T0) // MIN, c.interval_s) for c in candles]


def _expected(series: dict[str, list[Candle]]) -> list[tuple[str, int, int]]:
    ranked = [
        (c.ts + c.interval_s * 1000, c.interval_s, k, i, c)
        for k, s in enumerate(series.values())
        for i, c in enumerate(s)
    ]
    return _keys(r[-1] for r in sorted(ranked, key=lambda r: r[:4]))


def _paper(tmp_path: Path, series: dict[str, list[Candle]]) -> list[Candle]:
    data = [
        SimpleNamespace(path=_kline_csv(tmp_path / f"{sym[:3]}.csv", bars), symbol=sym)
        for sym, bars in series.items()
    ]
    config = SimpleNamespace(data=data, source_dir=None)
    return list(replay.candle_stream(config))  # type: ignore[arg-type]


def _streamed(series: dict[str, list[Candle]]) -> list[Candle]:
    node = SimpleNamespace(merged=None, series=series)
    return list(BacktestNode.candle_stream(node))  # type: ignore[arg-type]


@pytest.mark.parametrize("two", [False, True], ids=["one series", "two series"])
def test_every_replay_path_replays_a_5m_bar_among_1m_bars_at_its_close(tmp_path, two) -> None:
    series = _series(two)
    bulk, _ = merge_with_plan(series, [])
    btc = [k for k in _keys(bulk) if k[0] == "BTC/USDT"]
    # minute 4's 1m bar closes with the 5m bar: the finer one first
    assert btc == [("BTC/USDT", m, 60) for m in range(1, 5)] + [
        ("BTC/USDT", 0, 300),
        ("BTC/USDT", 5, 60),
        ("BTC/USDT", 6, 60),
    ]
    assert _keys(bulk) == _expected(series)
    assert _keys(_streamed(series)) == _keys(bulk)
    assert _keys(_paper(tmp_path, series)) == _keys(bulk)


def test_a_bar_closing_with_a_finer_bar_of_an_earlier_series_comes_after_it() -> None:
    # ETH's 1m bar at minute 4 and BTC's 5m bar close together: the span decides, not the series
    series = {
        "BTC/USDT": [_bar("BTC/USDT", 0, 300)],
        "ETH/USDT": [_bar("ETH/USDT", m) for m in range(5)],
    }
    bulk, _ = merge_with_plan(series, [])
    assert _keys(bulk)[-2:] == [("ETH/USDT", 4, 60), ("BTC/USDT", 0, 300)]
    assert _keys(_streamed(series)) == _keys(bulk)


@pytest.mark.parametrize("seed", range(40))
def test_random_mixed_timeframes_stream_and_bulk_alike(seed) -> None:
    rng = random.Random(seed)
    series: dict[str, list[Candle]] = {}
    for sym in ("A/USDT", "B/USDT", "C/USDT")[: rng.randint(1, 3)]:
        minute, bars = rng.randint(0, 3), []
        for _ in range(rng.randint(0, 60)):
            bars.append(_bar(sym, minute, rng.choice((60, 60, 60, 180, 300, 900))))
            minute += rng.randint(0, 3) if bars[-1].interval_s == 60 else rng.randint(1, 2)
        series[sym] = bars
    expected = _expected(series)
    assert _keys(_streamed(series)) == expected
    if any(series.values()):
        assert _keys(merge_with_plan(series, [])[0]) == expected


class _Counted:
    """A series read one bar at a time, counting the bars read."""

    def __init__(self, bars: list[Candle]) -> None:
        self.bars, self.read = bars, 0

    def __iter__(self) -> Iterator[Candle]:
        for c in self.bars:
            self.read += 1
            yield c


def test_the_streamed_merge_reads_its_series_as_it_is_asked_for_candles() -> None:
    # 1m bars with a 5m bar every fifth minute: only the bars up to a close are read ahead
    mixed = _Counted([_bar("BTC/USDT", m, 300 if m % 5 == 0 else 60) for m in range(10_000)])
    plain = _Counted([_bar("ETH/USDT", m) for m in range(10_000)])
    stream = merged_by_close([mixed, plain])
    first = [next(stream) for _ in range(20)]
    assert mixed.read <= 12 and plain.read <= 12
    assert [c.ts + c.interval_s * 1000 for c in first] == sorted(
        c.ts + c.interval_s * 1000 for c in first
    )


def test_the_paper_replay_stream_is_lazy(monkeypatch) -> None:
    bars = _Counted([_bar("BTC/USDT", m, 300 if m % 7 == 0 else 60) for m in range(10_000)])
    monkeypatch.setattr(replay, "resolve_data_path", lambda path, _src: path)
    monkeypatch.setattr(candle_files, "iter_candles", lambda path, symbol=None: iter(bars))
    config = SimpleNamespace(
        data=[SimpleNamespace(path="x.csv", symbol="BTC/USDT")], source_dir=None
    )
    stream = replay.candle_stream(config)  # type: ignore[arg-type]
    next(stream)
    assert bars.read <= 8


def test_one_timeframe_holds_back_one_bar() -> None:
    bars = _Counted([_bar("BTC/USDT", m) for m in range(100)])
    stream = by_close(bars)
    assert _keys([next(stream)]) == [("BTC/USDT", 0, 60)]
    assert bars.read == 2
