"""Walk-forward folds stay inside the sweep's window: with `--from` / `--to` at a moment within a
day, the folds are the whole UTC days within it (the first train span started at the midnight
before `--from`, the last test span could end at the midnight after `--to`): no fold replays
candles the window left out."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from backtest_support import write_config
from tradeguard.backtest import sweep
from tradeguard.backtest.grid import load_grid
from tradeguard.backtest.runner import BacktestWindow
from tradeguard.config import load_config

HOUR = 3_600_000
DAY = 24 * HOUR
D12 = 1_515_715_200_000  # 2018-01-12 00:00 UTC


def test_folds_start_at_from_and_end_by_to_given_as_moments(tmp_path: Path, monkeypatch) -> None:
    cfg = load_config(write_config(tmp_path, pairs=("ETH",)))
    grid_file = tmp_path / "grid.toml"
    grid_file.write_text('[grid]\n"strategies.*.params.fast" = [8, 12]\n', encoding="utf-8")
    grid = load_grid(grid_file)
    windows: list[BacktestWindow] = []

    def fake_run_combos(jobs, pool, progress=None, folded=False):
        windows.extend(job.window for job in jobs)
        results = [
            {"key": j.combo.key, "values": j.combo.values, "metrics": {"sharpe": 0.0}} for j in jobs
        ]
        return results, 0

    monkeypatch.setattr(sweep, "run_combos", fake_run_combos)
    start, end = D12 + 12 * HOUR, D12 + 4 * DAY + 12 * HOUR  # 01-12 12:00 .. 01-16 12:00
    window = BacktestWindow(start_ms=start, end_ms=end)
    combos = grid.combos()
    base = cfg.model_dump(mode="json")
    source = str(cfg.source_dir)
    pool = SimpleNamespace(engine="test")
    outcome = sweep._walk_forward(
        base, source, combos, grid, tmp_path / "wf", window, (1, 1), pool, None
    )
    assert outcome.folds, outcome
    assert windows
    for w in windows:
        assert w.start_ms is not None and w.end_ms is not None
        assert start <= w.start_ms < w.end_ms <= end, (w.start_ms, w.end_ms)
    for fold in outcome.folds:
        assert start <= fold["train_from"] < fold["test_from"] < fold["test_to"] <= end, fold
    # whole UTC days (a bar of --timeframe 1d is never cut to an empty fold): 13-14, 14-15,
    # 15-16; the half days at either end are left out
    spans = [(f["train_from"], f["test_from"], f["test_to"]) for f in outcome.folds]
    assert spans == [(D12 + k * DAY, D12 + (k + 1) * DAY, D12 + (k + 2) * DAY) for k in (1, 2)]
