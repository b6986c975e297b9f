"""A curve sample updated in place (a pair's candle at its time) reaches the stored curve."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tradeguard.backtest.frames import parse_date
from tradeguard.backtest.replay_state import CurveLog, curve_points
from tradeguard.backtest.runner import DB_NAME, BacktestWindow, run_backtest
from tradeguard.config import load_config
from tradeguard.node import EQUITY_KEY
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage


def test_a_sample_updated_after_its_fold_is_stored_with_its_last_value() -> None:
    log = CurveLog()
    curve = [(1_000, Decimal(100))]  # pair A's candle at 1000: the sample is taken
    log.take(curve)
    stored = log.fold()  # a checkpoint (fold=True) commits after pair A's candle
    curve[-1] = (1_000, Decimal(90))  # pair B's candle closing at 1000 updates it in place
    log.take(curve)
    stored = log.fold() if log.fold_due(True) else stored
    points = list(curve_points(stored)) + list(curve_points(log.tail_text()))
    assert points[-1] == (1_000, Decimal(90))


def test_the_stored_curve_has_every_pairs_close_at_each_sample(tmp_path: Path) -> None:
    cfg = load_config(Path(__file__).resolve().parents[1] / "examples" / "token_unlock.toml")
    # a checkpoint (which folds the curve's tail) every 7 candles: often between two of the
    # four pairs' candles closing at one time
    window = BacktestWindow(parse_date("2018-01-12"), parse_date("2018-01-20"), commit_every=7)
    result = run_backtest(cfg, tmp_path / "run", window)
    db = Database(f"sqlite:///{tmp_path / 'run' / DB_NAME}")
    stored = [(t, float(e)) for t, e in curve_points(Storage(db).kv_get(EQUITY_KEY))]
    db.dispose()
    mem = dict(result.curve)
    diffs = [(t, e, mem.get(t)) for t, e in stored if mem.get(t) != e]
    assert diffs == []
