"""Backtests under the two candle fill modes: the default unchanged, in-candle fills by hand."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from pathlib import Path

from backtest_support import write_config
from tradeguard.backtest.frames import parse_date
from tradeguard.backtest.runner import BacktestResult, BacktestWindow, run_backtest
from tradeguard.config import load_config

WINDOW = BacktestWindow(parse_date("2018-01-12"), parse_date("2018-01-15"))
TICK = Decimal("0.00000001")


def _run(folder: Path, fill_model: str, eth_slippage: str | None = None) -> BacktestResult:
    folder.mkdir()
    path = write_config(folder, pairs=("ETH",))
    text = path.read_text(encoding="utf-8")
    text = text.replace("[venues.fill_model]\n", f"[venues.fill_model]\n{fill_model}")
    if eth_slippage is not None:
        text = text.replace(
            'symbol = "ETH/BTC"\nprice_tick',
            f'symbol = "ETH/BTC"\nslippage_bps = "{eth_slippage}"\nprice_tick',
        )
    path.write_text(text, encoding="utf-8")
    return run_backtest(load_config(path), folder / "run", WINDOW)


def _rows(result: BacktestResult) -> list[tuple[object, ...]]:
    return [
        (t.symbol, t.side, t.entry_ts, t.exit_ts, t.entry_price, t.exit_price, t.amount, t.pnl)
        for t in result.trades
    ]


def test_next_open_written_out_gives_the_default_backtest(tmp_path, data_dir):
    default = _run(tmp_path / "default", "")
    explicit = _run(tmp_path / "explicit", 'fill_at = "next_open"\n')
    assert len(default.trades) > 5
    assert _rows(explicit) == _rows(default)


def test_in_candle_entries_fill_at_the_signal_close_plus_the_instruments_slippage(
    tmp_path, data_dir
):
    result = _run(tmp_path / "in", 'fill_at = "in_candle"\n', eth_slippage="20")
    bars = {c.close_ts: c for c in result.candles["ETH/BTC"]}
    longs = [t for t in result.trades if t.side == "long"]
    assert len(longs) > 5
    for t in longs:
        bar = bars[t.entry_ts]  # the fill is stamped at the signal bar's close
        slipped = (bar.close * Decimal("1.002") / TICK).to_integral_value(ROUND_CEILING) * TICK
        assert t.entry_price == min(max(slipped, bar.low), bar.high)
    assert _rows(result) != _rows(_run(tmp_path / "next", "", eth_slippage="20"))
