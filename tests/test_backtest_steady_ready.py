"""The steady loop (backtest/steady.py) begins no stretch while the general loop has work a
steady candle leaves out: an intent queued, an order working, trading not ACTIVE, a flatten
asked for, the equity to recount, the held set stale, a price listener other than the bots'
exit rules (or one added since), a candle listener. Candle i is then left to the general loop
whole: `run` returns i - 1 and does nothing."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from test_backtest_steady import BENCH_STRATEGIES, _config
from tradeguard.backtest import replay
from tradeguard.backtest.frames import parse_date
from tradeguard.backtest.runner import BacktestWindow, run_backtest
from tradeguard.backtest.steady import SteadyRun
from tradeguard.model.enums import TradingState


async def _listener(symbol: str, price: Decimal, venue: str) -> None:
    return None


def _candle_listener(candle: Any) -> None:
    return None


def _steady_of_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SteadyRun:
    """The steady loop of an idle backtest, after its run: nothing working, trading ACTIVE."""
    built: list[Any] = []
    real_modes = replay._modes

    def noting(*args: Any) -> tuple[Any, ...]:
        out = real_modes(*args)
        built.append(out[-1])
        return out

    monkeypatch.setattr(replay, "_modes", noting)
    cfg = _config(tmp_path, f"{BENCH_STRATEGIES}:Idle", ("ETH",))
    window = BacktestWindow(parse_date("2018-01-12"), parse_date("2018-01-13"), skip_flat=False)
    run_backtest(cfg, tmp_path / "run", window)
    steady = built[-1]
    assert isinstance(steady, SteadyRun)
    return steady


def _queued(node: Any) -> Callable[[], None]:
    node._ctx.queue.append(object())
    return node._ctx.queue.clear


def _working(node: Any) -> Callable[[], None]:
    node.orders.open["c1"] = object()
    return lambda: node.orders.open.pop("c1")


def _state(state: TradingState) -> Callable[[Any], Callable[[], None]]:
    def setting(node: Any) -> Callable[[], None]:
        node.risk.state = state
        return lambda: setattr(node.risk, "state", TradingState.ACTIVE)

    return setting


def _flatten(node: Any) -> Callable[[], None]:
    node.risk.flatten_asked = {"by": "kill"}
    return lambda: setattr(node.risk, "flatten_asked", None)


def _dirty(node: Any) -> Callable[[], None]:
    node._equity_dirty = True
    return lambda: setattr(node, "_equity_dirty", False)


def _stale_held(node: Any) -> Callable[[], None]:
    node.portfolio.marks["NEW/BTC"] = Decimal(1)  # a new mark: the held set is counted again
    return lambda: node.portfolio.marks.pop("NEW/BTC")


def _price_listener_added(node: Any) -> Callable[[], None]:
    node.price_listeners.append(_listener)
    return node.price_listeners.pop


def _candle_listened(node: Any) -> Callable[[], None]:
    node.market.candle_listeners.append(_candle_listener)
    return node.market.candle_listeners.pop


@pytest.mark.parametrize(
    "setting",
    [
        _queued,
        _working,
        _state(TradingState.HALTED),
        _state(TradingState.REDUCING),
        _flatten,
        _dirty,
        _stale_held,
        _price_listener_added,
        _candle_listened,
    ],
)
def test_no_steady_stretch_begins_while_the_general_loop_has_work(
    tmp_path, data_dir, monkeypatch, setting
):
    steady = _steady_of_a_run(tmp_path, monkeypatch)
    node = steady.node
    assert steady.ready()  # the run's end: nothing in the way
    undo = setting(node)
    events, clock = node.stats.events, node.clock.now_ms()
    assert not steady.ready()
    assert steady.run(5, 7, 9, 0.0) == (4, 7, 9)  # candle 5 left whole to the general loop
    assert (node.stats.events, node.clock.now_ms()) == (events, clock)
    undo()
    assert steady.ready()


def test_no_steady_stretch_with_a_price_listener_other_than_the_bots_exit_rules(
    tmp_path, data_dir, monkeypatch
):
    """A price listener the steady loop does not know (not the bots' exit rules, which it
    calls the general loop for on their symbols alone) needs every candle's close."""
    steady = _steady_of_a_run(tmp_path, monkeypatch)
    node = steady.node
    node.price_listeners.append(_listener)
    other = SteadyRun(node, steady.candles, steady.paper_by_symbol, steady.observe,
                      steady.pacer, False)  # fmt: skip
    assert not other.ready()
    assert other.run(3, 0, 0, 0.0) == (2, 0, 0)
    node.price_listeners.pop()
    assert SteadyRun(node, steady.candles, steady.paper_by_symbol, steady.observe,
                     steady.pacer, False).ready()  # fmt: skip
