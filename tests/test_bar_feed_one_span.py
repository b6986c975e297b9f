"""`[[data]] timeframes` builds longer bars from a file's candles of one span. A file mixing
spans (a 5m bar among 1m bars) replays by close time, the 5m bar after the 1m bars within it:
the bars built from it went back in time and the replay stopped with a traceback. Such a file
is refused, naming the file, its two spans and the bar, as other bad `timeframes` are."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tradeguard.backtest.replay import BarFeed
from tradeguard.backtest.replay_order import by_close
from tradeguard.model.errors import ConfigError
from tradeguard.model.market import Candle

MIN = 60_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % (15 * MIN)


def _mixed() -> list[Candle]:
    # a 5m bar every tenth minute, 1m bars between, by open time as filed
    out = []
    for m in range(40):
        p = Decimal(100 + m)
        out.append(Candle("BTC/USDT", T0 + m * MIN, p, p, p, p, Decimal(1), 60 if m % 10 else 300))
    return out


class _Bars:
    def __init__(self) -> None:
        self.bars: list[tuple[int, int]] = []

    def on_bar(self, interval_s: int, bar: Candle) -> None:
        self.bars.append((interval_s, bar.ts))


def test_a_file_of_two_spans_is_refused_naming_them() -> None:
    feed, strat = BarFeed({"BTC/USDT": ("mixed.csv", ["15m"])}), _Bars()
    with pytest.raises(ConfigError) as caught:
        for c in by_close(_mixed()):
            feed.feed(c, [strat])
    text = str(caught.value)
    assert "mixed.csv" in text and "60s" in text and "300s" in text, text


def test_the_replay_refuses_it_before_any_candle() -> None:
    feed, strat = BarFeed({"BTC/USDT": ("mixed.csv", ["15m"])}), _Bars()
    with pytest.raises(ConfigError, match="300s"):
        feed.check_all(by_close(_mixed()))
    assert strat.bars == []


def test_a_file_of_one_span_builds_its_bars() -> None:
    feed, strat = BarFeed({"BTC/USDT": ("one.csv", ["15m"])}), _Bars()
    for m in range(31):
        p = Decimal(100)
        feed.feed(Candle("BTC/USDT", T0 + m * MIN, p, p, p, p, Decimal(1)), [strat])
    assert strat.bars == [(900, T0), (900, T0 + 15 * MIN)]


def test_the_run_stops_with_the_line_not_a_traceback(tmp_path: Path) -> None:
    rows = [
        f"{c.ts},100,101,99,100,1,{c.ts + c.interval_s * 1000 - 1},100,1,1,100,0" for c in _mixed()
    ]
    data = tmp_path / "BTCUSDT-mixed.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    cfg = tmp_path / "tg.toml"
    cfg.write_text(
        f'[[data]]\npath = "{data}"\nsymbol = "BTC/USDT"\nvenue = "paper"\ntimeframes = ["15m"]\n',
        encoding="utf-8",
    )
    argv = [sys.executable, "-m", "tradeguard.cli", "run", "--until-end", "--db",
            f"sqlite:///{tmp_path / 'tg.db'}", "--config", str(cfg)]  # fmt: skip
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0, done.stdout[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "BTCUSDT-mixed.csv" in done.stderr and "300s" in done.stderr, done.stderr[-2000:]
