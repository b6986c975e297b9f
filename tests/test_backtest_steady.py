"""The replay's steady stretches (backtest/steady.py) against the general loop: the same trades,
equity curve, metrics and checkpoints, and strategies see the same thing at every candle; with
mixed timeframes the same period, and a stop asked for ends both after the same candle."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from backtest_support import write_config
from tradeguard.backtest import replay
from tradeguard.backtest.frames import parse_date
from tradeguard.backtest.runner import BacktestResult, BacktestWindow, run_backtest
from tradeguard.backtest.steady import SteadyRun
from tradeguard.config import load_config
from tradeguard.model.price_guard import MarkGuard

ROOT = Path(__file__).resolve().parents[1]
BENCH_STRATEGIES = ROOT / "benchmarks" / "backtest_strategies.py"

# Trades now and then (an order open on some candles, a position held through others) and
# records what it sees on every candle.
RECORDER = """
from decimal import Decimal
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy

SEEN = []


class Recorder(Strategy):
    def on_candle(self, candle):
        ctx = self.ctx
        pos = ctx.position(self.id, self.venue, self.symbol)
        SEEN.append((self.id, candle.symbol, candle.ts, ctx.now_ms(), str(ctx.equity()),
                     str(pos.quantity), ctx.open_order_count(self.id, self.symbol)))
        n = candle.ts // 300_000
        if pos.quantity == 0 and n % 37 == 0:
            amount = (Decimal("0.01") / candle.close).quantize(Decimal("0.001"))
            side = Side.BUY
        elif pos.quantity > 0 and n % 11 == 0:
            amount, side = pos.quantity, Side.SELL
        else:
            return
        self.emit(OrderIntent(strategy_id=self.id, venue=self.venue, symbol=self.symbol,
                              side=side, amount=amount, type=OrderType.MARKET,
                              reduce_only=side is Side.SELL, signal={"reason": "test"}))
"""


def _figures(result: BacktestResult) -> tuple[Any, ...]:
    trades = [
        (t.symbol, t.entry_ts, t.exit_ts, t.entry_price, t.exit_price, t.amount, t.pnl, t.fees,
         t.entry_reason, t.exit_reason)
        for t in result.trades
    ]  # fmt: skip
    metrics = {k: v for k, v in result.metrics.items() if k != "elapsed_s"}
    return trades, result.curve, metrics, result.summary.events, result.summary.end_equity


def _config(tmp_path: Path, kind: str, pairs: tuple[str, ...]) -> Any:
    cfg = load_config(write_config(tmp_path, pairs=pairs))
    for sc in cfg.strategies:
        sc.kind = kind
        sc.params = {"stake": "0.01"} if kind.endswith(":EveryCandle") else {}
    return cfg


def _both(cfg: Any, tmp_path: Path, window: BacktestWindow, monkeypatch) -> tuple[Any, ...]:
    """Run `cfg` on the general loop alone, then with steady stretches; return both results,
    their progress calls and how many candles the steady loop ran."""
    ran: list[int] = []
    real_run = SteadyRun.run

    def counting(self, i, lo, hi, commit_due):
        out = real_run(self, i, lo, hi, commit_due)
        ran.append(out[0] - i + 1)
        return out

    monkeypatch.setattr(SteadyRun, "run", counting)
    real_modes = replay._modes
    nodes: list[Any] = []

    def noting(node, *args):
        nodes.append(node)
        return real_modes(node, *args)

    progress: tuple[list[int], list[int]] = ([], [])
    monkeypatch.setattr(replay, "_modes", lambda *a: (*noting(*a)[:-1], None))
    one = run_backtest(cfg, tmp_path / "one", window, lambda d, _t: progress[0].append(d))
    assert ran == []
    monkeypatch.setattr(replay, "_modes", noting)
    steady = run_backtest(cfg, tmp_path / "steady", window, lambda d, _t: progress[1].append(d))
    # the mark guard ends as it would: the same bands (rebuilt inline or not), marks, suspects
    assert nodes[0] is not nodes[-1]
    assert nodes[0].risk.mark_guard.state() == nodes[-1].risk.mark_guard.state()
    return one, steady, progress, sum(ran)


# (strategy, checkpoint interval, the least share of candles the steady loop must run)
@pytest.mark.parametrize(
    ("kind", "every", "share"),
    [
        (f"{BENCH_STRATEGIES}:Idle", 20_000, 0.9),
        # an order on every candle: its fill leaves the equity to recount, none is steady
        (f"{BENCH_STRATEGIES}:EveryCandle", 997, 0.0),
        (f"{ROOT / 'examples' / 'backtest' / 'ema_cross.py'}:EmaCross", 97, 0.5),
    ],
)
def test_steady_stretches_give_the_same_trades_curve_metrics_and_checkpoints(
    tmp_path, data_dir, monkeypatch, kind, every, share
):
    cfg = _config(tmp_path, kind, ("ETH", "ADA", "LTC"))
    # skip_flat=False: a vectorised strategy goes candle by candle too (no skip plan)
    window = BacktestWindow(
        parse_date("2018-01-12"), parse_date("2018-01-16"), commit_every=every, skip_flat=False
    )
    one, steady, progress, ran = _both(cfg, tmp_path, window, monkeypatch)
    assert ran >= one.summary.events * share  # the steady loop really ran them
    assert _figures(steady) == _figures(one)
    assert progress[1] == progress[0]
    if not kind.endswith(":Idle"):
        assert len(one.trades) > 10


def test_strategies_see_the_same_at_every_candle(tmp_path, data_dir, monkeypatch):
    import sys

    from tradeguard.strategies.loader import load_strategy_class

    path = tmp_path / "recorder.py"
    path.write_text(RECORDER, encoding="utf-8")
    kind = f"{path}:Recorder"
    cfg = _config(tmp_path, kind, ("ETH", "ADA"))
    window = BacktestWindow(parse_date("2018-01-12"), parse_date("2018-01-15"), commit_every=500)
    one, steady, _, ran = _both(cfg, tmp_path, window, monkeypatch)
    assert ran > one.summary.events // 3 and len(one.trades) > 5
    assert _figures(steady) == _figures(one)
    seen = sys.modules[load_strategy_class(kind).__module__].SEEN  # one module: both runs
    n = one.summary.events
    assert len(seen) == 2 * n
    assert seen[n:] == seen[:n]


def test_two_strategies_of_one_symbol_see_every_candle_in_order_as_one_alone_does(
    tmp_path, data_dir, monkeypatch
):
    """A symbol with one strategy has it called directly, one with more each in turn: both
    loops call every strategy of a symbol on every candle, in the configured order."""
    import sys

    from tradeguard.strategies.loader import load_strategy_class

    path = tmp_path / "recorder.py"
    path.write_text(RECORDER, encoding="utf-8")
    kind = f"{path}:Recorder"
    cfg = _config(tmp_path, kind, ("ETH", "ADA"))
    # ADA: not the first candle of a close time (that one observes a curve sample, the loop's
    # other branch), so the steady loop's common branch calls its strategies
    ada = next(sc for sc in cfg.strategies if sc.symbol.startswith("ADA"))
    cfg.strategies.append(ada.model_copy(update={"id": "second_ada"}))
    window = BacktestWindow(parse_date("2018-01-12"), parse_date("2018-01-14"), commit_every=500)
    one, steady, _, ran = _both(cfg, tmp_path, window, monkeypatch)
    assert ran > one.summary.events // 3
    assert _figures(steady) == _figures(one)
    seen = sys.modules[load_strategy_class(kind).__module__].SEEN  # one module: both runs
    ada_candles = sum(1 for x in seen if x[0] == ada.id) // 2
    assert sum(1 for x in seen if x[0] == "second_ada") == 2 * ada_candles > 100
    half = len(seen) // 2
    assert seen[half:] == seen[:half]


def _walk(seed: int, n: int) -> list[tuple[Decimal, Decimal, Decimal]]:
    """Closes, lows and highs of a random walk with jumps (bad prints and real moves)."""
    rnd = random.Random(seed)
    price, out = 100.0, []
    for _ in range(n):
        r = rnd.random()
        price *= 1 + rnd.gauss(0, 0.004) if r > 0.03 else rnd.choice((0.5, 0.7, 1.4, 2.0))
        close = Decimal(f"{price:.6g}")
        low = Decimal(f"{price * (1 - abs(rnd.gauss(0, 0.01 if r > 0.05 else 0.4))):.6g}")
        high = Decimal(f"{price * (1 + abs(rnd.gauss(0, 0.01))):.6g}")
        out.append((close, min(low, close), max(high, close)))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_take_candle_decides_as_take_bar_then_admits_bar(seed):
    one = MarkGuard(Decimal(30), Decimal(0))
    two = MarkGuard(Decimal(30), Decimal(0))
    for n, (close, low, high) in enumerate(_walk(seed, 3000)):
        opened, closes = n * 60_000, (n + 1) * 60_000
        got = one.take_candle("", "X/Y", close, low, high, opened, closes)
        want = 0
        if two.take_bar("", "X/Y", close, closes, opened, closes):
            want = 2 if two.admits_bar("", "X/Y", low, high) else 1
        assert got == want, (n, close)
        assert one.state() == two.state(), n


def test_a_commit_interval_of_zero_commits_every_candle_that_wrote_in_steady_stretches_too(
    tmp_path, data_dir, monkeypatch
):
    """`node.replay_commit_interval_s = 0` commits every candle that wrote: a steady stretch
    ends on such a candle as the general loop commits it, not at the next eighth candle."""
    from tradeguard.backtest import runner
    from tradeguard.node.node import TradingNode

    commits: tuple[list[int], list[int]] = ([], [])
    real_commit = TradingNode._commit_candle

    def recording(self, candles, i):
        commits[0 if ran_general[0] else 1].append(i)
        return real_commit(self, candles, i)

    ran_general = [True]
    real_modes = replay._modes

    def modes(*args):
        out = real_modes(*args)
        return (*out[:-1], None) if ran_general[0] else out

    monkeypatch.setattr(TradingNode, "_commit_candle", recording)
    monkeypatch.setattr(replay, "_modes", modes)
    monkeypatch.setattr(runner, "BACKTEST_COMMIT_INTERVAL_S", 0)
    path = tmp_path / "recorder.py"
    path.write_text(RECORDER, encoding="utf-8")
    cfg = _config(tmp_path, f"{path}:Recorder", ("ETH", "ADA"))
    window = BacktestWindow(parse_date("2018-01-12"), parse_date("2018-01-14"), commit_every=500)
    one = run_backtest(cfg, tmp_path / "one", window)
    ran_general[0] = False
    steady = run_backtest(cfg, tmp_path / "steady", window)
    assert _figures(steady) == _figures(one)
    assert len(commits[0]) > 20  # candles that wrote, each committed
    assert commits[1] == commits[0]


def _mixed_series() -> dict[str, list[Any]]:
    """Two days of 5m ETH/BTC and 1h ADA/BTC bars, their closes wandering: replayed by close
    time, each hour bar comes after the twelve 5m bars within it."""
    from test_backtest_mixed_timeframes import FIVE_M, HOUR, T0, _bar

    rnd = random.Random(7)
    eth, ada, px, apx = [], [], 1000, 300
    for i in range(1, 2 * 288):  # from 00:05: the earliest open is the first hour bar's
        px = max(900, min(1100, px + rnd.randint(-6, 6)))
        eth.append(_bar("ETH/BTC", T0 + i * FIVE_M * 1000, f"0.{px:04d}", FIVE_M))
    for i in range(48):
        apx = max(250, min(350, apx + rnd.randint(-9, 9)))
        ada.append(_bar("ADA/BTC", T0 + i * HOUR * 1000, f"0.0000{apx}", HOUR))
    return {"ADA/BTC": ada, "ETH/BTC": eth}  # the coarse series first


@pytest.mark.parametrize("every", [7, 20_000])
def test_mixed_timeframes_give_the_same_period_trades_and_checkpoints_in_steady_stretches(
    tmp_path, monkeypatch, every
):
    from test_backtest_mixed_timeframes import HOUR, T0

    path = tmp_path / "recorder.py"
    path.write_text(RECORDER, encoding="utf-8")
    cfg = _config(tmp_path, f"{path}:Recorder", ("ETH", "ADA"))
    from tradeguard.node.node import TradingNode

    checkpoints: tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]] = ([], [])
    real_checkpoint = TradingNode._checkpoint

    def recording(self, cursor, cursor_n, *args, **kwargs):
        side = checkpoints[0] if len(ran_steady) == 0 else checkpoints[1]
        side.append((cursor, cursor_n, self.stats.last_ts))
        return real_checkpoint(self, cursor, cursor_n, *args, **kwargs)

    ran_steady: list[int] = []
    monkeypatch.setattr(TradingNode, "_checkpoint", recording)
    real_modes = replay._modes

    def modes(*args):
        out = real_modes(*args)
        if ran_steady:
            return out
        return (*out[:-1], None)

    monkeypatch.setattr(replay, "_modes", modes)
    window = BacktestWindow(commit_every=every, skip_flat=False)
    one = run_backtest(cfg, tmp_path / "one", window, series=_mixed_series())
    ran_steady.append(1)
    real_run = SteadyRun.run
    steady_done: list[int] = []

    def counting(self, i, lo, hi, commit_due):
        out = real_run(self, i, lo, hi, commit_due)
        steady_done.append(out[0] - i + 1)
        return out

    monkeypatch.setattr(SteadyRun, "run", counting)
    steady = run_backtest(cfg, tmp_path / "steady", window, series=_mixed_series())
    assert sum(steady_done) > one.summary.events // 2  # the steady loop really ran them
    assert len(one.trades) > 3
    assert _figures(steady) == _figures(one)
    period = (one.summary.first_ts, one.summary.last_ts)
    assert period == (T0, T0 + 48 * HOUR * 1000)  # the earliest open, the latest close
    assert (steady.summary.first_ts, steady.summary.last_ts) == period
    assert checkpoints[1] == checkpoints[0]
    assert len(checkpoints[0]) > (0 if every == 20_000 else 50)  # periodic ones, and the last


STOPPER = """
from tradeguard.strategies.base import Strategy

STOP = []  # (after how many candles, the call asking the replay to stop)
SEEN = []


class Stopper(Strategy):
    def on_candle(self, candle):
        SEEN.append((candle.symbol, candle.ts, self.ctx.now_ms()))
        if STOP and len(SEEN) == STOP[0][0]:
            STOP[0][1]()
"""

STOPPER_TOML = """
[[strategies]]
id = "s1"
kind = "{path}:Stopper"
venue = "paper"
symbol = "BTC/USDT"
[[strategies]]
id = "s5"
kind = "{path}:Stopper"
venue = "paper"
symbol = "XBT/USDT"
"""


@pytest.mark.parametrize("stop_after", [36, 40])  # a 5m candle (after its five 1m ones); a 1m one
async def test_a_stop_asked_for_ends_both_loops_at_the_same_candle(
    tmp_path, data_dir, monkeypatch, stop_after
):
    """A paper replay run to a stop (`run(until_end=False)`) over a 1m and a 5m file, a
    strategy asking for the stop: the steady loop and the general one end after the same
    candle, with the same counts, period, clock and last checkpoint."""
    import sys

    from node_support import node_for
    from test_replay_stop_resume import _config as stop_config
    from tradeguard.backtest.replay_state import load_replay_state
    from tradeguard.strategies.loader import load_strategy_class

    strat = tmp_path / "stopper.py"
    strat.write_text(STOPPER, encoding="utf-8")
    cfg_path = stop_config(tmp_path, data_dir)  # a 1m BTC/USDT file and a 5m XBT/USDT one
    text = cfg_path.read_text(encoding="utf-8") + STOPPER_TOML.format(path=strat)
    mod = sys.modules[load_strategy_class(f"{strat}:Stopper").__module__]  # the node's too
    real_modes = replay._modes
    outcomes = []
    steady_done: list[int] = []
    real_run = SteadyRun.run

    def counting(self, i, lo, hi, commit_due):
        out = real_run(self, i, lo, hi, commit_due)
        steady_done.append(out[0] - i + 1)
        return out

    monkeypatch.setattr(SteadyRun, "run", counting)
    for general in (True, False):
        folder = tmp_path / ("general" if general else "steady")
        folder.mkdir()
        cfg = folder / "tg.toml"
        cfg.write_text(text.replace(str(tmp_path / "tg.db"), str(folder / "tg.db")))
        monkeypatch.setattr(
            replay, "_modes", (lambda *a: (*real_modes(*a)[:-1], None)) if general else real_modes
        )
        node = node_for(load_config(cfg))
        await node.start()
        mod.SEEN.clear()
        mod.STOP[:] = [(stop_after, node.request_stop)]
        try:
            summary = await node.run(until_end=False)
            state = load_replay_state(node.storage) or {}
            clock = node.clock.now_ms()
            await node.stop()
        finally:
            node.close()
        outcomes.append(
            (
                list(mod.SEEN),
                summary.events,
                summary.first_ts,
                summary.last_ts,
                clock,
                int(state.get("cursor", 0)),
                int(state.get("cursor_n", 0)),
            )
        )
        if general:
            assert steady_done == []
    assert sum(steady_done) > stop_after // 2  # the steady loop really ran them
    assert len(outcomes[0][0]) == stop_after  # it stopped right after the candle asking
    assert outcomes[1] == outcomes[0]


def test_the_steady_loop_notes_a_candle_itself_only_where_paper_venues_handle_it_alike():
    from tradeguard.backtest.steady import _plain_market
    from tradeguard.clock import SimulatedClock
    from tradeguard.model import Instrument
    from tradeguard.venues.paper import PaperVenue

    inst = Instrument(
        venue="paper", symbol="BTC/USDT", base="BTC", quote="USDT", price_tick=Decimal("0.01"),
        amount_step=Decimal("0.0001"), min_amount=Decimal("0.0001"), min_notional=Decimal(10),
    )  # fmt: skip

    class Counting(PaperVenue):
        def on_candle(self, candle):  # its own handling: the loop must call it
            super().on_candle(candle)

    plain = PaperVenue("paper", {"BTC/USDT": inst}, {"USDT": Decimal(100)}, SimulatedClock())
    own = Counting("paper", {"BTC/USDT": inst}, {"USDT": Decimal(100)}, SimulatedClock())
    # the market itself (a venue never replaces one); a symbol not listed: the venue's call
    assert _plain_market(plain, "BTC/USDT") is plain._markets["BTC/USDT"]
    assert _plain_market(plain, "ETH/USDT") is None
    assert _plain_market(own, "BTC/USDT") is None and _plain_market(None, "BTC/USDT") is None


@pytest.mark.parametrize(
    "kind",
    [f"{BENCH_STRATEGIES}:Idle", f"{ROOT / 'examples' / 'backtest' / 'ema_cross.py'}:EmaCross"],
)
def test_a_curve_sample_taken_inline_by_the_steady_loop_is_the_general_loops(
    tmp_path, data_dir, monkeypatch, kind
):
    """A candle whose only equity work is the curve's next sample: the steady loop appends it
    itself; the curve, trades, metrics and checkpoints are the general loop's."""
    observed: dict[int, set[int]] = {}  # node -> the close times it observed the equity at
    real = replay._observe_equity

    def noting(node, ts, *args):
        observed.setdefault(id(node), set()).add(ts)
        return real(node, ts, *args)

    monkeypatch.setattr(replay, "_observe_equity", noting)
    cfg = _config(tmp_path, kind, ("ETH", "ADA", "LTC"))
    window = BacktestWindow(
        parse_date("2018-01-12"), parse_date("2018-01-15"), commit_every=997, skip_flat=False
    )
    one, steady_run, progress, ran = _both(cfg, tmp_path, window, monkeypatch)
    assert ran > one.summary.events // 3  # the steady loop really ran them
    assert len(observed) == 2
    inline = {ts for ts, _ in steady_run.curve} - list(observed.values())[-1]
    assert len(inline) > 100, "samples taken inline"
    assert _figures(steady_run) == _figures(one)
    assert progress[1] == progress[0]


def test_the_steady_loop_looks_a_band_up_by_the_guards_own_key():
    from tradeguard.backtest.steady import _share_keys

    guard = MarkGuard(Decimal(30), Decimal(0))
    assert guard.take_candle("", "X/Y", Decimal(10), Decimal(9), Decimal(11), 0, 60_000) == 2
    (own,) = guard._bands
    mine = ("", "".join(["X/", "Y"]))  # an equal key, another object
    assert mine == own and mine is not own
    slots: dict[str, tuple[Any, ...]] = {"X/Y": (mine, None, None, ()), "Z/Y": (("", "Z/Y"),)}
    _share_keys(slots, guard._bands)
    assert slots["X/Y"][0] is own and slots["X/Y"][1:] == (None, None, ())
    assert slots["Z/Y"] == (("", "Z/Y"),)  # no band yet: kept


CLOCK_RECORDER = """
from tradeguard.strategies.base import Strategy

SEEN = []


class Clock(Strategy):
    def on_candle(self, candle):
        SEEN.append(self.ctx.now_ms())
"""


def test_the_steady_loop_counts_close_times_from_its_block_and_hands_out_the_real_ones(
    tmp_path, data_dir, monkeypatch
):
    """The steady loop holds a block's close times less their middle (one-digit ints, whose
    compares are cheaper than those of large ints); the clock strategies read and the curve's
    times are the real close times, as on the general loop."""
    import sys

    from tradeguard.strategies.loader import load_strategy_class

    path = tmp_path / "clock_recorder.py"
    path.write_text(CLOCK_RECORDER, encoding="utf-8")
    kind = f"{path}:Clock"
    stamps: list[Any] = []
    real_block = SteadyRun._block

    def noting(self, i):
        block = real_block(self, i)
        stamps.append((block[5], block[6]))
        return block

    monkeypatch.setattr(SteadyRun, "_block", noting)
    cfg = _config(tmp_path, kind, ("ETH", "ADA"))
    window = BacktestWindow(
        parse_date("2018-01-12"), parse_date("2018-01-14"), commit_every=997, skip_flat=False
    )
    one, steady_run, _, ran = _both(cfg, tmp_path, window, monkeypatch)
    assert ran > one.summary.events // 2
    assert stamps and all(origin > 2**40 for _, origin in stamps)  # counted from the block
    assert all(abs(ts) < 2**30 for block, _ in stamps for ts in block)
    assert _figures(steady_run) == _figures(one)
    seen = sys.modules[load_strategy_class(kind).__module__].SEEN
    n = one.summary.events
    assert len(seen) == 2 * n and seen[n:] == seen[:n]
    assert {type(ms) for ms in seen} == {int} and min(seen) > 2**40  # the real close times
    assert {type(ts) for ts, _ in steady_run.curve} == {int}


@pytest.mark.parametrize(("step_ms", "counted_from_middle"), [(300_000, True), (3_600_000, False)])
def test_a_block_counts_its_close_times_from_their_middle_only_where_they_span_little(
    step_ms, counted_from_middle
):
    """4,096 five-minute close times span 14 days: counted from their middle, each a one-digit
    int; hourly ones span 170 days and are kept as they are (origin 0)."""
    import numpy as np

    from tradeguard.backtest.bulk import MergedPrices
    from tradeguard.backtest.steady import BLOCK

    start = 1_515_715_500_000
    ts = np.arange(start, start + (BLOCK + 10) * step_ms, step_ms, dtype=np.int64)
    ones = np.ones(len(ts))
    run = SteadyRun.__new__(SteadyRun)
    run.block, run.candles = (-1,), [None] * len(ts)
    run.merged = MergedPrices(ones, ones, ones, ts, step_ms)
    base, _, _, _, _, stamps, origin = run._block(5)
    assert base == 0 and len(stamps) == BLOCK
    assert [s + origin for s in stamps] == ts[:BLOCK].tolist()
    if counted_from_middle:
        assert origin == (int(ts[0]) + int(ts[BLOCK - 1])) // 2
        assert max(abs(s) for s in stamps) + 86_400_000 < 2**30
    else:
        assert origin == 0
    assert run._block(BLOCK)[0] == BLOCK  # the next block: its own origin
    # its ten close times span 9 steps (under the limit at either step): from their middle
    assert run._block(BLOCK)[6] == (int(ts[BLOCK]) + int(ts[BLOCK + 9])) // 2


RELOADER = """
from tradeguard.strategies.base import Strategy

GUARD = []  # the node's mark guard, set as the replay starts


class Reload(Strategy):
    def on_candle(self, candle):
        if candle.symbol.startswith("ETH/") and candle.ts // 300_000 % 13 == 0:
            guard = GUARD[-1]
            guard.load_state(guard.state())  # every band replaced by an equal new one
"""


def test_bands_the_guard_replaces_while_the_steady_loop_runs_are_the_ones_it_moves(
    tmp_path, data_dir, monkeypatch
):
    """A strategy reloading the node's mark guard (every band a new object) in the middle of
    steady stretches: the stretch moves the guard's new bands, not the ones it held; marks,
    bands, trades and curve are the general loop's."""
    import sys

    from tradeguard.strategies.loader import load_strategy_class

    path = tmp_path / "reloader.py"
    path.write_text(RELOADER, encoding="utf-8")
    kind = f"{path}:Reload"
    module = sys.modules[load_strategy_class(kind).__module__]
    real_modes = replay._modes

    def noting(node, *args):
        module.GUARD.append(node.risk.mark_guard)
        return real_modes(node, *args)

    monkeypatch.setattr(replay, "_modes", noting)
    cfg = _config(tmp_path, kind, ("ETH", "ADA", "LTC"))
    window = BacktestWindow(
        parse_date("2018-01-12"), parse_date("2018-01-15"), commit_every=997, skip_flat=False
    )
    one, steady_run, _, ran = _both(cfg, tmp_path, window, monkeypatch)  # the guards compared
    assert ran > one.summary.events // 2
    assert _figures(steady_run) == _figures(one)
