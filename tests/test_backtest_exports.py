"""The run files are written from strings built once, and the report's candle bars from the loaded
float columns: the bytes and bars are the ones the row-by-row writers and Decimal candles give."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from tradeguard.backtest.exports import _equity_files, equity_rows, json_safe, utc_text
from tradeguard.backtest.svg import _group
from tradeguard.marketdata.arrow_candles import ColumnCandles
from tradeguard.marketdata.loaders import load_candles

CANDLES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "candles"
CURVES = {
    "long": [(1515542700000 + i * 300_000, 1.0 + math.sin(i) / 10) for i in range(3000)],
    "odd values": [(0, math.inf), (60_000, math.nan), (120_000, -1.5), (180_000, 0.0)],
    "empty": [],
}


@pytest.mark.parametrize("name", list(CURVES))
def test_equity_files_are_what_the_csv_and_json_writers_give(tmp_path: Path, name: str) -> None:
    curve = CURVES[name]
    rows = equity_rows(curve)
    fields = ("ts", "time", "equity", "drawdown_pct")
    with (tmp_path / "expected.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(fields)
        writer.writerows([[row[f] for f in fields] for row in rows])
    csv_path, json_path = _equity_files(tmp_path / "equity", curve)
    assert csv_path.read_bytes() == (tmp_path / "expected.csv").read_bytes()
    assert json_path.read_text(encoding="utf-8") == json.dumps(json_safe(rows))


@pytest.mark.skipif(not CANDLES.is_dir(), reason=f"market data not found at {CANDLES}")
@pytest.mark.parametrize("limit", [250, 7, 10_000])
def test_candle_bars_from_columns_equal_the_bars_from_decimals(limit: int) -> None:
    loaded = load_candles(CANDLES / "ETH_BTC-5m.feather", symbol="ETH/BTC")
    assert isinstance(loaded, ColumnCandles)
    for candles in (loaded, loaded.window(13, 1_013)):
        bars = _group(candles, limit)
        assert bars == _group(list(candles), limit)
        assert all(type(v) is float for v in bars[0][1:]) and type(bars[0][0]) is int


def test_the_report_gives_the_per_pair_win_rate_in_percent_like_its_headline() -> None:
    from tradeguard.backtest.report import render_report

    group = {"trades": 16, "win_rate": 0.3125, "profit_factor": 0.7, "expectancy": -0.1,
             "net_pnl": -1.6, "fees": 0.6}  # fmt: skip
    metrics = {"start_equity": 100.0, "win_rate_pct": 31.25, "per_pair": {"ADA/BTC": group},
               "per_exit_reason": {"stop_loss": group}}  # fmt: skip
    html = render_report("t", metrics, [], [(0, 100.0), (86_400_000, 99.0)], {})
    assert html.count("<th>win rate %</th>") == 2
    assert html.count("<td>31.2500</td>") == 2 and "0.3125" not in html


def test_utc_text_is_the_minute_in_utc_for_every_minute_of_a_day_and_across_days():
    from datetime import UTC, datetime

    t0, day_ms = 1_514_764_800_000, 86_400_000  # 2018-01-01 00:00 UTC
    stamps = [t0 + m * 60_000 + 59_999 for m in range(1440)]  # every minute, its last ms
    stamps += [t0 + k * day_ms + 37 * 60_000 for k in (-400, -1, 1, 30, 365 * 3)]
    stamps += [0, -1, 4_102_444_799_999]
    for ms in stamps:
        want = datetime.fromtimestamp(ms // 60_000 * 60, UTC).strftime("%Y-%m-%d %H:%M")
        assert utc_text(ms) == want, ms
        assert utc_text(ms) == want, ms  # the texts kept give the same again
