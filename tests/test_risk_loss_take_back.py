"""The losses kept for taking back (a sale found FAILED): any loss within the window its sale
can still be flagged in, however long the streak; none older, none that counts no more."""

from __future__ import annotations

from test_risk_support import T0, D, Rig
from tradeguard.clock import SimulatedClock
from tradeguard.model.enums import LiquiditySide, Side, TradingState
from tradeguard.model.fill import Fill
from tradeguard.model.position import ClosedTrade
from tradeguard.risk.loss_history import TAKE_BACK_MS, LossHistory


def _lose(rig: Rig, record_id: int, ts: int, symbol: str = "M1") -> None:
    rig.at(ts)
    rig.engine.observe_cycle("arb", (symbol,), D("-1"), ts, record_id)


def test_the_first_loss_of_a_long_streak_is_still_taken_back() -> None:
    rig = Rig(max_consecutive_losses=1000, cooldown_after_loss_s=60)
    for n in range(1, 251):  # more losses than the history once kept (200)
        _lose(rig, n, T0 + n * 1000)
    assert rig.engine.consecutive_losses == 250
    assert rig.engine.cycle_loss_symbols("arb", 1) == ("M1",)
    assert rig.engine.take_back_cycle("arb", 1, T0 + 251_000)
    assert rig.engine.consecutive_losses == 249
    # and across a restart: every loss of the streak is stored
    eng = rig.restart()
    assert eng.take_back_cycle("arb", 2, T0 + 252_000)
    assert eng.consecutive_losses == 248


def test_a_loss_past_the_take_back_window_is_let_go() -> None:
    rig = Rig(max_consecutive_losses=1000)
    _lose(rig, 1, T0)
    _lose(rig, 2, T0 + TAKE_BACK_MS)  # the first is exactly at the window's edge: kept
    assert [x.key for x in rig.engine.losses.losses] == ["cycle:1", "cycle:2"]
    _lose(rig, 3, T0 + TAKE_BACK_MS + 1)  # past it: its sale can no longer be flagged
    assert [x.key for x in rig.engine.losses.losses] == ["cycle:2", "cycle:3"]
    assert not rig.engine.take_back_cycle("arb", 1, T0 + TAKE_BACK_MS + 2)
    assert rig.engine.consecutive_losses == 3  # nothing taken back
    # a long streak keeps only its losses of the window, across a restart too
    _lose(rig, 4, T0 + 2 * TAKE_BACK_MS + 2)
    assert [x.key for x in rig.restart().losses.losses] == ["cycle:4"]
    assert rig.engine.consecutive_losses == 4


def test_a_loss_that_counts_no_more_is_let_go() -> None:
    rig = Rig(cooldown_after_loss_s=60)
    _lose(rig, 1, T0)
    rig.engine.observe_cycle("arb", ("M1",), D("1"), T0 + 1000, 2)  # a win ends the streak
    assert [x.key for x in rig.engine.losses.losses] == ["cycle:1"]  # still cooling M1
    _lose(rig, 3, T0 + 61_000)  # its cooldown has run out
    assert [x.key for x in rig.engine.losses.losses] == ["cycle:3"]
    # the win is kept (its sale may yet be found FAILED), a win that reset nothing is not,
    # and neither is once past the window
    assert [x.key for x in rig.engine.losses.resets] == ["cycle:2"]
    rig.engine.observe_cycle("arb", ("M1",), D("1"), T0 + 62_000, 4)
    for record in (5, 6):  # nothing to reset: each is kept as what the take-back of the
        # wins before it folds into (it would have ended that streak too)
        rig.engine.observe_cycle("arb", ("M1",), D("1"), T0 + 58_000 + record * 1000, record)
    kept = ["cycle:2", "cycle:4", "cycle:5", "cycle:6"]
    assert [x.key for x in rig.engine.losses.resets] == kept
    _lose(rig, 7, T0 + 64_000 + TAKE_BACK_MS + 1)
    assert rig.engine.losses.resets == [] and rig.engine.consecutive_losses == 1


def test_a_loss_stored_without_its_time_is_dated_at_the_load() -> None:
    row = ["arb", "cycle:1", ["M1"], 0, {"M1": 0}, True, "-1"]
    losses = LossHistory.from_json([row], T0)
    assert losses.losses[0].ts == T0
    losses.prune(T0 + TAKE_BACK_MS)
    assert [x.key for x in losses.losses] == ["cycle:1"]
    losses.prune(T0 + TAKE_BACK_MS + 1)
    assert losses.losses == []


def test_a_loss_stored_before_its_time_was_kept_is_still_taken_back_after_the_upgrade() -> None:
    # A state saved before each loss stored its time (seven fields): the restart dates it at
    # the load, so it is kept a whole window from the restart, not let go as from 1970.
    rig = Rig(max_consecutive_losses=1000, cooldown_after_loss_s=60)
    _lose(rig, 1, T0)
    saved = rig.engine.to_state()
    saved["losses"] = [row[:7] for row in saved["losses"]]
    rig.store.save(saved)
    rig.at(T0 + 1000)
    eng = rig.restart()
    (kept,) = eng.losses.losses
    assert kept.ts == T0 + 1000
    assert eng.take_back_cycle("arb", 1, T0 + 2000)
    assert eng.consecutive_losses == 0


def _win(rig: Rig, record_id: int, ts: int) -> None:
    rig.at(ts)
    rig.engine.observe_cycle("arb", ("M1",), D("1"), ts, record_id)


def test_a_failed_winning_sale_gives_back_the_streak_it_ended() -> None:
    # Before: a win's sale flagged FAILED left the streak it had reset at 0, so two losses,
    # the win that never happened and a third loss did not pause a limit of 3.
    rig = Rig(max_consecutive_losses=3)
    _lose(rig, 1, T0)
    _lose(rig, 2, T0 + 1000)
    _win(rig, 3, T0 + 2000)
    _lose(rig, 4, T0 + 3000)
    assert rig.engine.consecutive_losses == 1 and rig.engine.state is TradingState.ACTIVE
    eng = rig.restart()  # kept across a restart
    assert eng.take_back_cycle("arb", 3, T0 + 4000)  # the win's sale FAILED
    assert eng.consecutive_losses == 3 and eng.state is TradingState.REDUCING
    assert not eng.take_back_cycle("arb", 3, T0 + 5000)  # taken back once
    # and each loss of the streak it gave back can still be taken back itself
    assert eng.take_back_cycle("arb", 1, T0 + 6000)
    assert eng.consecutive_losses == 2 and eng.state is TradingState.ACTIVE


def test_a_failed_win_a_later_win_follows_changes_nothing_until_that_one_fails() -> None:
    rig = Rig(max_consecutive_losses=1000)
    _lose(rig, 1, T0)
    _win(rig, 2, T0 + 1000)
    _lose(rig, 3, T0 + 2000)
    _win(rig, 4, T0 + 3000)
    _lose(rig, 5, T0 + 4000)
    assert rig.engine.take_back_cycle("arb", 2, T0 + 5000)
    assert rig.engine.consecutive_losses == 1  # the win 4 would have ended it too
    assert rig.engine.take_back_cycle("arb", 4, T0 + 6000)
    assert rig.engine.consecutive_losses == 3  # neither win happened: one streak of three
    # a win partly taken back that is still no loss stands
    _win(rig, 6, T0 + 7000)
    assert not rig.engine.take_back_cycle("arb", 6, T0 + 8000, D("-0.5"))
    assert rig.engine.consecutive_losses == 0


def test_a_loss_is_kept_a_whole_window_of_running_after_a_downtime_longer_than_it() -> None:
    # Before: a node stopped longer than the window came back to let go at once of the losses
    # whose sales it could not have seen FAIL while it was down; a sale then flagged FAILED
    # kept a loss that never happened. The window now counts from when the node last ran.
    rig = Rig(max_consecutive_losses=1000)
    _lose(rig, 1, T0)
    _lose(rig, 2, T0 + 1000)
    down = TAKE_BACK_MS + 86_400_000  # stopped for eight days
    rig.at(T0 + 1000 + down)
    eng = rig.restart()
    _lose(rig, 3, T0 + 2000 + down)  # a new loss prunes: the two are kept still
    assert [x.key for x in eng.losses.losses] == ["cycle:1", "cycle:2", "cycle:3"]
    assert eng.take_back_cycle("arb", 1, T0 + 3000 + down)  # its sale found FAILED now
    assert eng.consecutive_losses == 2
    # a whole window of running after the start, it is let go as usual
    _lose(rig, 4, T0 + 1001 + down + TAKE_BACK_MS)
    assert [x.key for x in eng.losses.losses] == ["cycle:3", "cycle:4"]


def test_two_failed_wins_in_a_row_leave_the_streak_a_third_win_ended() -> None:
    # Before: a win that reset nothing after one that reset nothing was not kept, so once the
    # two wins before it FAILED the streak they had ended came back though this third win
    # still ended it: a limit of 2 paused new entries on a streak that was over.
    rig = Rig(max_consecutive_losses=2)
    _lose(rig, 1, T0)
    _win(rig, 2, T0 + 1000)  # resets a streak of 1
    _win(rig, 3, T0 + 2000)  # resets nothing
    _win(rig, 4, T0 + 3000)  # resets nothing: still ends the streak 2 and 3 would have
    _lose(rig, 5, T0 + 4000)
    assert rig.engine.take_back_cycle("arb", 2, T0 + 5000)
    assert rig.engine.take_back_cycle("arb", 3, T0 + 6000)
    assert rig.engine.consecutive_losses == 1 and rig.engine.state is TradingState.ACTIVE
    assert rig.engine.take_back_cycle("arb", 4, T0 + 7000)  # now none of them happened
    assert rig.engine.consecutive_losses == 2 and rig.engine.state is TradingState.REDUCING


def test_a_win_whose_sale_fails_in_parts_gives_the_streak_back_once_they_take_all_of_it() -> None:
    # Before: each part of a win's failed sale was held to the whole win, never to what the
    # parts before took back: two parts taking back 0.6 each of a win of 1 left its reset of
    # the streak standing, the trade a loss.
    rig = Rig(max_consecutive_losses=2)
    _lose(rig, 1, T0)
    _lose(rig, 2, T0 + 500)
    _win(rig, 3, T0 + 1000)
    assert not rig.engine.take_back_cycle("arb", 3, T0 + 2000, D("-0.6"))
    assert rig.engine.consecutive_losses == 0  # what is left of it still gained
    eng = rig.restart()  # what was taken back is kept across a restart
    assert eng.take_back_cycle("arb", 3, T0 + 3000, D("-0.6"))
    assert eng.consecutive_losses == 2 and eng.state is TradingState.REDUCING


def _closing(rig: Rig, trade_id: str, pnl: str, ts: int) -> Fill:
    """A plain strategy's closing sale of trade `trade_id` at `pnl`, fed to the engine."""
    rig.at(ts)
    fill = Fill("paper", "BTC/USDT", f"c-{trade_id}", f"v-{trade_id}", trade_id, Side.SELL,
                D(100), D(1), D(0), "USDT", LiquiditySide.TAKER, ts)  # fmt: skip
    closed = ClosedTrade("paper", "BTC/USDT", "s1", Side.BUY, D(100), D(100), D(1), D(pnl),
                         D(0), ts - 1, ts, trade_id)  # fmt: skip
    rig.engine.observe_fill(fill, closed, "s1")
    return fill


def test_a_plain_strategys_failed_winning_close_gives_back_the_streak_it_ended() -> None:
    # The closing fill of a plain strategy's winning round trip read FAILED: the streak it
    # ended is back (the flag's path for a fill; before, only a kept loss was taken back).
    from types import SimpleNamespace

    from tradeguard.execution.failed_fills import _take_back_fill_loss

    rig = Rig(max_consecutive_losses=2)
    _closing(rig, "t1", "-1", T0)
    win = _closing(rig, "t2", "1", T0 + 1000)
    _closing(rig, "t3", "-1", T0 + 2000)
    assert rig.engine.consecutive_losses == 1 and rig.engine.state is TradingState.ACTIVE
    storage = SimpleNamespace(keeps_undo=False, in_transaction=False)
    node = SimpleNamespace(risk=rig.engine, storage=storage, clock=rig.clock)
    _take_back_fill_loss(node, win, "s1")  # type: ignore[arg-type]
    assert rig.engine.consecutive_losses == 2 and rig.engine.state is TradingState.REDUCING


def test_a_clock_set_back_after_the_save_never_shortens_the_window() -> None:
    # The state saved by a clock five days ahead (its trades dated by the venue), the node
    # started once the clock was set right: a saved time in the future is no downtime, and
    # the losses are still kept a whole window (they were let go after three days).
    rig = Rig(max_consecutive_losses=1000)
    day = 86_400_000
    rig.at(T0 + 5 * day)  # the node's clock ahead of its trades' times
    rig.engine.observe_cycle("arb", ("M1",), D("-1"), T0, 1)
    rig.clock = SimulatedClock(T0 + 1000)  # set right, as the restart finds it
    eng = rig.restart()
    _lose(rig, 2, T0 + 3 * day)  # a new loss prunes
    assert [x.key for x in eng.losses.losses] == ["cycle:1", "cycle:2"]
    assert eng.take_back_cycle("arb", 1, T0 + 3 * day + 1)
    assert eng.consecutive_losses == 1
