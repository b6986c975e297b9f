"""The replay cursor and the equity-curve log that a replay's commits carry."""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from tradeguard.backtest.replay_state import CURVE_FOLD, CURVE_KEEP, CurveLog, done_at, resume_index
from tradeguard.model.market import Candle

D = Decimal


def _candles(*stamps: int) -> list[Candle]:
    return [Candle(f"S{i}", ts, D(1), D(1), D(1), D(1), D(1)) for i, ts in enumerate(stamps)]


def test_a_cursor_inside_a_group_of_equal_timestamps_resumes_at_the_next_candle_of_it() -> None:
    candles = _candles(60, 120, 120, 120, 180)

    assert done_at(candles, 2) == 2
    assert resume_index(candles, 120, done_at(candles, 2)) == 3
    assert resume_index(candles, 120, 3) == 4
    assert resume_index(candles, 120, 0) == 4  # an older cursor without the count: after all


def test_the_curve_log_carries_new_samples_then_folds_them_keeping_the_last_points() -> None:
    log = CurveLog()
    curve: deque[tuple[int, Decimal]] = deque()
    stored = ""
    for t in range(1, CURVE_KEEP + CURVE_FOLD * 5 + 1):
        curve.append((t, D(t)))
        log.take(curve)
        if log.fold_due():
            stored = log.fold()
    assert len(log.tail) < CURVE_FOLD

    resumed = CurveLog()
    again: deque[tuple[int, Decimal]] = deque()
    resumed.load(stored, log.tail_text(), again)

    kept = list(curve)[-len(again) :]
    assert list(again) == kept and len(again) >= CURVE_KEEP
    assert resumed.tail_ts == curve[-1][0]


def test_a_curve_stored_as_pairs_by_an_older_version_is_read() -> None:
    curve: deque[tuple[int, Decimal]] = deque()
    CurveLog().load([[1, "10.5"], [2, "11"]], "3:12;", curve)

    assert list(curve) == [(1, D("10.5")), (2, D("11")), (3, D("12"))]
