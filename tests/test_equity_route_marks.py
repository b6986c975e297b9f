"""A mark that values a held asset through a hop moves the equity although its base asset is
not held: the node's cached equity (and the replay loop's observation shortcut, and the bulk
advance over flat stretches, which read the same held set) must not stand through it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tradeguard.config import Config
from tradeguard.model.balance import Balance
from tradeguard.node import TradingNode

D = Decimal


def _node(tmp_path: Path, valuation: str) -> TradingNode:
    url = f"sqlite:///{tmp_path / 'run.db'}"
    cfg = Config.model_validate(
        {"mode": "backtest", "node": {"valuation_asset": valuation, "database_url": url}}
    )
    return TradingNode(cfg)


@pytest.mark.parametrize(
    ("valuation", "asset", "amount", "marks", "moved", "before", "after"),
    [
        # ETH valued in USDT through ETH/BTC then BTC/USDT; no BTC held
        ("USDT", "ETH", "1", {"ETH/BTC": "0.05", "BTC/USDT": "20000"}, "BTC/USDT", "1000", "1500"),
        # USDT cash valued in BTC through BTC/USDT inverted; no BTC held
        ("BTC", "USDT", "1000", {"BTC/USDT": "20000"}, "BTC/USDT", "0.05", "0.04"),
    ],
)
def test_a_mark_on_a_held_assets_valuation_route_refreshes_the_equity(
    tmp_path, valuation, asset, amount, marks, moved, before, after
):
    node = _node(tmp_path, valuation)
    p = node.portfolio
    p.set_balances("paper", [Balance("paper", asset, D(amount))])
    for symbol, price in marks.items():
        p.marks[symbol] = D(price)
    node._observe_equity(60_000, moved)
    assert node._equity == D(before)
    p.marks[moved] = D(marks[moved]) * (D(after) / D(before)) ** (1 if asset == "ETH" else -1)
    node._observe_equity(120_000, moved)
    assert p.equity() == D(after)
    assert node._equity == D(after)  # not the cached figure of before the move
    assert node.run_equity.peak == max(D(before), D(after))
    assert moved in node.held_symbols()  # the loop's shortcut and the bulk advance read this


def test_a_mark_off_every_route_is_still_left_out(tmp_path):
    node = _node(tmp_path, "USDT")
    p = node.portfolio
    p.set_balances("paper", [Balance("paper", "ETH", D("1"))])
    p.marks.update({"ETH/USDT": D("1000"), "ADA/USDT": D("0.5")})
    assert node.held_symbols() == {"ETH/USDT"}


def test_a_mark_on_a_venues_own_hop_refreshes_the_equity(tmp_path):
    # Venue "a" holds ETH and marks ETH/BTC and BTC/USDT, not ETH/USDT (venue "b" marks that):
    # its ETH is valued at its own prices, through BTC/USDT, which the global route skips.
    node = _node(tmp_path, "USDT")
    p = node.portfolio
    p.set_balances("a", [Balance("a", "ETH", D("1"))])
    p.mark("ETH/USDT", D("1000"), "b")
    p.mark("ETH/BTC", D("0.05"), "a")
    p.mark("BTC/USDT", D("20000"), "a")
    node._observe_equity(60_000, "BTC/USDT")
    assert node._equity == D("1000")
    p.mark("BTC/USDT", D("30000"), "a")
    node._observe_equity(120_000, "BTC/USDT")
    assert p.equity() == D("1500")
    assert node._equity == D("1500")  # not the cached figure of before the move
    assert "BTC/USDT" in node.held_symbols()


def test_venues_own_marks_beginning_on_marked_symbols_refresh_the_held_set(tmp_path):
    # The symbols were first marked untagged (a fill's price, a replay's candle): when venues'
    # own marks begin on the same symbols (no new one), venue "a"'s ETH is valued through its
    # own BTC/USDT, which the held set must then name although no symbol was added.
    node = _node(tmp_path, "USDT")
    p = node.portfolio
    p.set_balances("a", [Balance("a", "ETH", D("1"))])
    for symbol, price in (("ETH/USDT", "1000"), ("ETH/BTC", "0.05"), ("BTC/USDT", "20000")):
        p.mark(symbol, D(price))
    node._observe_equity(60_000, "ETH/USDT")
    assert node._equity == D("1000")
    p.mark("ETH/USDT", D("1000"), "b")
    node._observe_equity(61_000, "ETH/USDT")
    p.mark("ETH/BTC", D("0.05"), "a")
    node._observe_equity(62_000, "ETH/BTC")
    p.mark("BTC/USDT", D("10000"), "a")  # ETH on "a" halves: the loss the breakers must see
    node._observe_equity(120_000, "BTC/USDT")
    assert p.equity() == D("500")
    assert node._equity == D("500")  # not the figure of before venue a's own marks began
    assert "BTC/USDT" in node.held_symbols()
