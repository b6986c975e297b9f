"""Every replay path orders candles alike: by close time (a coarser bar after the finer bars
within it), ties in series order, also inside one series that mixes timeframes. The paper
replay (`replay.candle_stream`), a backtest streaming its series (`BacktestNode.candle_stream`)
and a backtest's bulk merge (`bulk.merge_with_plan`) must hand strategies the same sequence."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from tradeguard.backtest import replay
from tradeguard.backtest.bulk import merge_with_plan
from tradeguard.backtest.runner import BacktestNode
from tradeguard.marketdata import candle_files
from tradeguard.model.market import Candle

MIN = 60_000


def _bar(symbol: str, minute: int, interval_s: int = 60) -> Candle:
    p = Decimal(100 + minute)
    return Candle(symbol, minute * MIN, p, p, p, p, Decimal(1), interval_s)


def _series(two: bool) -> dict[str, list[Candle]]:
    # BTC's file holds its 1m bars and, by open time, a 5m bar: it closes at minute 5, after
    # the 1m bars of minutes 0..4 (closing at 1..5), not before them
    btc = [_bar("BTC/USDT", 0), _bar("BTC/USDT", 0, 300)] + [
        _bar("BTC/USDT", m) for m in range(1, 6)
    ]
    series = {"BTC/USDT": btc}
    if two:
        series["ETH/USDT"] = [_bar("ETH/USDT", m) for m in range(6)]
    return series


def _keys(candles) -> list[tuple[str, int, int]]:
    return [(c.symbol, c.ts // MIN, c.interval_s) for c in candles]


@pytest.mark.parametrize("two", [False, True], ids=["one series", "two series"])
def test_every_replay_path_orders_a_mixed_timeframe_series_by_close(monkeypatch, two) -> None:
    series = _series(two)
    bulk, _ = merge_with_plan(series, [])
    streamed = BacktestNode.candle_stream(SimpleNamespace(merged=None, series=series))
    files = {sym: f"{sym}.csv" for sym in series}
    monkeypatch.setattr(replay, "resolve_data_path", lambda path, _src: path)
    monkeypatch.setattr(
        candle_files, "iter_candles", lambda path, symbol=None: iter(series[symbol])
    )
    config = SimpleNamespace(
        data=[SimpleNamespace(path=files[s], symbol=s) for s in series], source_dir=None
    )
    paper = replay.candle_stream(config)  # type: ignore[arg-type]
    closes = [c.ts + c.interval_s * 1000 for c in bulk]
    assert closes == sorted(closes)
    five = _keys(bulk).index(("BTC/USDT", 0, 300))
    assert ("BTC/USDT", 4, 60) in _keys(bulk)[:five]  # the 5m bar after minute 4's 1m bar
    assert _keys(streamed) == _keys(bulk)
    assert _keys(paper) == _keys(bulk)
