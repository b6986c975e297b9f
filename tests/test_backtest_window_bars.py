"""A backtest's `--from` inside a bucket of a longer timeframe: the bar of that bucket, built from
the part of it inside the window, is no bar of the window (it opened before --from), as for
`--timeframe`. Neither a `[[data]] timeframes` entry nor a vectorised strategy's own
`timeframes` hands it to `on_bar`; the bars after it are the whole ones."""

from __future__ import annotations

import re
from pathlib import Path

from backtest_support import write_config
from test_backtest_data_timeframes import _config, _recorded
from tradeguard.backtest.frames import parse_date
from tradeguard.backtest.runner import BacktestWindow, run_backtest
from tradeguard.config import load_config
from tradeguard.marketdata.candles import aggregate
from tradeguard.marketdata.loaders import load_candles

HOUR = 3_600_000
START = parse_date("2018-01-12T06:30")
END = parse_date("2018-01-12T12:00")

FRAME_RECORDER = """
from tradeguard.backtest.vector import FrameStrategy

FRAME_BARS = []


class FrameRecorder(FrameStrategy):
    timeframes = ("1h",)

    def on_bar(self, interval_s, bar):
        FRAME_BARS.append((interval_s, bar))
"""


def _whole_hours(data_dir: Path) -> list:
    eth = load_candles(data_dir / "candles" / "ETH_BTC-5m.feather", symbol="ETH/BTC")
    return [b for b in aggregate(eth, 3600) if b.ts >= START and b.ts + HOUR <= END]


def test_data_timeframes_leave_out_the_bar_the_start_cuts(tmp_path: Path, data_dir: Path) -> None:
    cfg = load_config(_config(tmp_path, '["1h"]'))
    run_backtest(cfg, tmp_path / "run", BacktestWindow(START, END))
    bars = _recorded(tmp_path)
    got = [b for s, i, b in bars if i == 3600]
    bars.clear()
    assert [b.ts for b in got] == [START + HOUR // 2 + k * HOUR for k in range(5)]  # 07:00..11:00
    assert got == _whole_hours(data_dir)


def test_a_frame_strategys_timeframes_leave_out_the_bar_the_start_cuts(
    tmp_path: Path, data_dir: Path
) -> None:
    (tmp_path / "frame_recorder.py").write_text(FRAME_RECORDER, encoding="utf-8")
    path = write_config(tmp_path, pairs=("ETH",))
    text = re.sub(
        r'kind = "[^"]*ema_cross.py:EmaCross"',
        f'kind = "{tmp_path / "frame_recorder.py"}:FrameRecorder"',
        path.read_text(encoding="utf-8"),
    )
    path.write_text(text, encoding="utf-8")
    run_backtest(load_config(path), tmp_path / "run", BacktestWindow(START, END))
    recorded = _recorded(tmp_path, "frame_recorder.py", "FRAME_BARS")
    got = [b for i, b in recorded if i == 3600]
    recorded.clear()
    assert got == _whole_hours(data_dir)
    assert len(got) == 5
