"""Letting go of the wins kept for taking back: the same ones as a walk over all of them, without
walking a week of wins at every save."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from tradeguard.risk.loss_history import TAKE_BACK_MS, LossHistory, Reset


def _kept(resets: list[Reset], now: int) -> list[Reset]:
    """What `prune` keeps of `resets`: those in the window, less the head with nothing to give."""
    kept = [x for x in resets if x.ts + x.down >= now - TAKE_BACK_MS]
    while kept and not (kept[0].key and kept[0].count):
        del kept[0]
    return kept


def test_the_wins_let_go_are_those_past_the_window_in_or_out_of_order() -> None:
    # results dated out of order, stops, wins given back, restarts, resumes
    rng = random.Random(7)
    for _ in range(200):
        history = LossHistory()
        now = 0
        for n in range(60):
            step = rng.choice((-TAKE_BACK_MS // 3, 0, 1, TAKE_BACK_MS // 5, TAKE_BACK_MS // 2))
            now = max(now + step, 0)  # now and then a result dated before the last one
            if rng.random() < 0.1:
                history.stopped(rng.randrange(TAKE_BACK_MS // 4))
            if rng.random() < 0.1:  # a win's sale FAILED: taken out, maybe from the middle
                history.take_win("s", f"cycle:{rng.randrange(n + 1)}")
            if rng.random() < 0.1:  # a restart: read back from the stored state
                history = LossHistory.from_json(history.to_json(), now)
            if rng.random() < 0.1:  # a pause's end or a resume: no win
                history.streak_over(now)
            history.streak_over(now, rng.randrange(3), ("s", f"cycle:{n}", Decimal(1)))
            prune_at = now + rng.randrange(TAKE_BACK_MS)
            before = [*history.resets]
            history.prune(prune_at)
            assert history.resets == _kept(before, prune_at)


class _Counted(Reset):
    """A kept win that counts the reads of its time."""

    reads = 0

    def __getattribute__(self, name: str) -> Any:
        if name == "ts":
            _Counted.reads += 1
        return super().__getattribute__(name)


def test_a_save_with_no_win_past_the_window_does_not_walk_the_kept_ones() -> None:
    resets: list[Reset] = [_Counted("s", f"cycle:{n}", 1, ts=n * 60_000) for n in range(2000)]
    history = LossHistory([], resets)
    _Counted.reads = 0
    history.prune(2000 * 60_000)  # every one still within the window
    assert len(history.resets) == 2000
    history.prune(TAKE_BACK_MS + 10 * 60_000)  # the first ten go
    assert [x.key for x in history.resets[:1]] == ["cycle:10"]
    assert len(history.resets) == 1990
    # the head looked at, not the whole list walked at each save
    assert _Counted.reads <= 20


def test_a_save_after_a_result_dated_early_does_not_walk_the_kept_ones() -> None:
    # one result dated before the one before it (a venue's late fill, one clamped ahead of the
    # clock before it): the wins no longer expire in their order, yet none is past the window
    resets: list[Reset] = [_Counted("s", f"cycle:{n}", 1, ts=n * 60_000) for n in range(2000)]
    history = LossHistory([], resets)
    history.streak_over(1998 * 60_000, 1, ("s", "cycle:late", Decimal(1)))
    _Counted.reads = 0
    for minute in range(2000, 2010):
        history.prune(minute * 60_000)  # a save each minute: nothing expired
    assert len(history.resets) == 2001
    assert _Counted.reads <= 20
    history.prune(TAKE_BACK_MS + 10 * 60_000)  # the first ten go, the rest kept in their order
    assert [x.key for x in history.resets[:1]] == ["cycle:10"]
    assert history.resets[-1].key == "cycle:late"
    assert len(history.resets) == 1991
