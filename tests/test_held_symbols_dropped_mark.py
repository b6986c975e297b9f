"""A market whose mark is dropped (a reading no one renews) and another's first mark leave as
many markets marked as before, but not the same ones: the held symbols the node keeps must be
worked out again, or a price move of a held asset newly marked is never seen by the equity the
loss and drawdown halts read."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tradeguard.config import Config
from tradeguard.model.balance import Balance
from tradeguard.node import TradingNode
from tradeguard.node.held import HeldSymbols
from tradeguard.portfolio.portfolio import Portfolio

D = Decimal


def _node(tmp_path: Path) -> TradingNode:
    url = f"sqlite:///{tmp_path / 'run.db'}"
    cfg = Config.model_validate({"mode": "backtest", "node": {"database_url": url}})
    return TradingNode(cfg)


def test_a_dropped_mark_and_a_new_one_refresh_the_nodes_held_symbols(tmp_path):
    node = _node(tmp_path)
    p = node.portfolio
    p.set_balances("kraken", [Balance("kraken", "XRP", D(1000)), Balance("kraken", "ETH", D(1))])
    xrp = D("0.5")
    p.mark_own("kraken", "XRP/USDT", xrp)
    node._observe_equity(60_000, "XRP/USDT")
    assert node._equity == D(500)  # ETH not priced yet
    p.unmark("kraken", "XRP/USDT", xrp)  # its reading went unrenewed past its age
    p.mark("ETH/USDT", D(2000), "kraken", 61_000)  # the first streamed ETH price
    node._observe_equity(61_000, "ETH/USDT")
    p.mark("ETH/USDT", D(1000), "kraken", 62_000)  # ETH halves
    node._observe_equity(62_000, "ETH/USDT")
    assert p.equity() == D(1000)
    assert node._equity == D(1000)  # the halts read this: not the figure before the move
    assert node.held_symbols() == {"ETH/USDT"}  # the replay loop's shortcut reads this too


def test_the_kept_sets_count_a_new_mark_after_a_dropped_one():
    p = Portfolio("USDT")
    p.set_balances("kraken", [Balance("kraken", "XRP", D(1000)), Balance("kraken", "ETH", D(1))])
    kept = HeldSymbols()
    xrp = D("0.5")
    p.mark_own("kraken", "XRP/USDT", xrp)
    assert kept.of(p) == {"XRP/USDT"}
    p.unmark("kraken", "XRP/USDT", xrp)
    p.mark("ETH/USDT", D(2000), "kraken")
    assert kept.of(p) == HeldSymbols().of(p) == {"ETH/USDT"}
