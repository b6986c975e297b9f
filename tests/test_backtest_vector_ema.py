"""The vectorised EMA helper: the recurrence, value for value, on the frames `prepare` gets."""

from __future__ import annotations

import numpy as np

from tradeguard.backtest.vector import ema


def _recurrence(values: list[float], span: int) -> list[float]:
    alpha = 2.0 / (span + 1)
    out, acc = [], values[0]
    for x in values:
        acc = alpha * x + (1.0 - alpha) * acc
        out.append(acc)
    return out


def test_ema_is_the_recurrence_seeded_with_the_first_value_bit_for_bit():
    closes = np.random.default_rng(3).random(2_000) * 0.05 + 0.01
    for span in (2, 12, 26):
        got = ema(closes, span)
        assert got.dtype == np.float64 and got.shape == closes.shape
        assert got.tolist() == _recurrence(closes.tolist(), span)


def test_ema_takes_lists_and_array_views_and_gives_an_empty_array_for_no_values():
    closes = np.arange(1.0, 41.0)
    assert ema(closes.tolist(), 5).tolist() == _recurrence(closes.tolist(), 5)
    view = closes[::2]  # not contiguous
    assert ema(view, 5).tolist() == _recurrence(view.tolist(), 5)
    empty = ema(np.array([], dtype=np.float64), 12)
    assert empty.dtype == np.float64 and empty.shape == (0,)
