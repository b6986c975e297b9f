"""The latest price of a market is the newest by venue time between streams too: a message
older than the mark in place (a bar closing before another venue's quote, a late message)
does not replace it. Venues' clocks differ, so no stamp counts past the node's clock, and a
mark holds an older message off only while it is fresh by the node's clock (`MARK_HOLD_MS`):
a venue whose clock runs ahead or behind another's never freezes the price. A ticker stamped
by the node's clock (an exchange's ticker without a time) replaces no live stream's mark."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradeguard.execution.reference_prices import ReferencePrices
from tradeguard.model.balance import Balance
from tradeguard.model.market import Quote
from tradeguard.portfolio.portfolio import MARK_HOLD_MS, Portfolio

D = Decimal
T0 = 1_000_000_000_000
TEN_MIN = 600_000


def _clocked(clock: list[int]) -> Portfolio:
    portfolio = Portfolio("USDT")
    portfolio.now_ms = lambda: clock[0]
    return portfolio


def test_an_older_message_of_another_stream_does_not_replace_a_newer_one() -> None:
    clock = [T0]
    p = _clocked(clock)
    p.mark("BTC/USDT", D(60_000), "binance", T0 - 100)
    clock[0] += 300
    p.mark("BTC/USDT", D(59_000), "kraken", T0 - 500)  # a bar that closed before it
    assert p.marks["BTC/USDT"] == D(60_000)
    assert p.mark_of("kraken", "BTC/USDT") == (D(59_000), False)  # its own price all the same
    p.mark("BTC/USDT", D(59_500), "kraken", T0 + 250)  # newer: it replaces
    assert p.marks["BTC/USDT"] == D(59_500)


def test_a_stream_whose_clock_runs_ahead_does_not_freeze_the_price() -> None:
    clock = [T0]
    p = _clocked(clock)
    p.mark("BTC/USDT", D(60_000), "ahead", T0 + TEN_MIN)  # stamped 10 minutes ahead
    for step in range(1, 6):  # it goes quiet; the other venue streams on, on time
        clock[0] = T0 + step * 1000
        p.mark("BTC/USDT", D(60_000 + step), "ontime", clock[0] - 50)
        assert p.marks["BTC/USDT"] == D(60_000 + step)


def test_a_stream_whose_clock_runs_behind_is_held_off_at_most_the_hold() -> None:
    clock = [T0]
    p = _clocked(clock)
    p.mark("BTC/USDT", D(60_000), "ontime", T0)  # then it goes quiet
    seen = []
    for step in range(1, 61):  # the other venue's clock runs 10 minutes behind the node's
        clock[0] = T0 + step * 250
        p.mark("BTC/USDT", D(50_000 + step), "behind", clock[0] - TEN_MIN)
        seen.append(p.marks["BTC/USDT"] == D(50_000 + step))
    first = seen.index(True)
    assert 0 < (first + 1) * 250 <= MARK_HOLD_MS  # held off while the quiet mark was fresh
    assert all(seen[first:])  # then it streams on: nothing holds it any longer


class _Untimed:
    """A venue whose ticker has no time: the node stamps it with its own clock."""

    def __init__(self, clock: list[int]) -> None:
        self.clock = clock

    def lists(self, symbol: str) -> bool:
        return symbol == "BTC/USDT"

    async def fetch_reference_quote(self, symbol: str) -> Quote:
        return Quote(symbol, self.clock[0], D(49_999), D(1), D(50_001), D(1))


async def test_a_ticker_stamped_by_the_nodes_clock_holds_no_live_stream_off() -> None:
    # The node's clock runs 10 minutes ahead of Binance's, which streams BTC/USDT; Kraken's
    # ticker (no time) is read for Kraken's BTC. Before, the reading replaced the stream's
    # mark as newer and held every streamed message off for the 10 minutes.
    clock = [T0]
    p = _clocked(clock)
    p.set_balances("kraken", [Balance("kraken", "BTC", D(1))])
    p.venue_marks["kraken"] = {}
    p.mark("BTC/USDT", D(60_000), "binance", T0 - TEN_MIN)
    refs = ReferencePrices(p, {"kraken": _Untimed(clock)}, now_ms=lambda: clock[0])
    clock[0] += 200
    await refs.refresh()
    assert p.mark_of("kraken", "BTC/USDT") == (D(50_000), False)  # Kraken's holding: its own
    for step in range(1, 4):
        clock[0] += 200
        p.mark("BTC/USDT", D(60_000 + step), "binance", clock[0] - TEN_MIN)
        assert p.marks["BTC/USDT"] == D(60_000 + step)  # the live stream's latest


async def test_a_ticker_still_replaces_a_stalled_stream_that_then_comes_back() -> None:
    clock = [T0]
    p = _clocked(clock)
    p.set_balances("kraken", [Balance("kraken", "BTC", D(1))])
    p.venue_marks["kraken"] = {}
    p.mark("BTC/USDT", D(40_000), "binance", T0 - TEN_MIN)  # its stream stalls here
    refs: dict[str, Any] = {"kraken": _Untimed(clock)}
    clock[0] += 3_600_000
    await ReferencePrices(p, refs, now_ms=lambda: clock[0]).refresh()
    assert p.marks["BTC/USDT"] == D(50_000)  # the newest price, not the stall's
    back = clock[0]
    for step in range(1, 41):  # it comes back 10 minutes behind the node's clock
        clock[0] = back + step * 250
        p.mark("BTC/USDT", D(51_000 + step), "binance", clock[0] - TEN_MIN)
    assert p.marks["BTC/USDT"] == D(51_040)  # within the hold of the reading, no longer


async def test_the_nodes_quotes_are_held_to_its_clock(tmp_path) -> None:
    from tradeguard.clock import SimulatedClock
    from tradeguard.config import Config
    from tradeguard.node import TradingNode

    url = f"sqlite:///{tmp_path / 'run.db'}"
    clock = SimulatedClock(T0)
    node = TradingNode(Config.model_validate({"node": {"database_url": url}}), clock=clock)
    await node.on_quote(Quote("BTC/USDT", T0 + TEN_MIN, D(59_999), D(1), D(60_001), D(1), "a"))
    clock.advance_to(T0 + 1000)
    await node.on_quote(Quote("BTC/USDT", T0 + 900, D(60_099), D(1), D(60_101), D(1), "b"))
    assert node.portfolio.marks["BTC/USDT"] == D(60_100)  # not held off for ten minutes
    await node.on_quote(Quote("BTC/USDT", T0 + 800, D(60_199), D(1), D(60_201), D(1), "a"))
    assert node.portfolio.marks["BTC/USDT"] == D(60_100)  # older than the mark in place
