"""One merge of a held Polymarket leg's YES that settles two held records (the oldest first),
with a SIGKILL between their two commits: the next start settles what the second record's part
of the sale left, as a merge, not as contracts sold outside the strategy (HELD_SHRUNK, 0.00);
on SQLite and on PostgreSQL.

The local CLOB, the official py-clob-client (the hand), and the Kalshi stand-in."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from pm_merge_support import merge
from rigs import killed_child
from test_pm_arb_held_merge import YES, _buy_no_by_hand, _sync, rig  # noqa: F401
from test_pm_arb_interrupted import _start
from test_pm_arb_node import arb_config
from tradeguard.model.enums import Side, TimeInForce
from tradeguard.node import TradingNode
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.strategies.cross_venue.held_retry import held_legs
from tradeguard.strategies.cross_venue.limits import OpenPair
from tradeguard.strategies.cross_venue.records import PairAttempt

D = Decimal
CHILD = Path(__file__).with_name("pm_arb_held_merge_split_child.py")


async def _hold(node: TradingNode, n: D) -> OpenPair:
    """A first leg of n YES bought on the CLOB, held alone (as a run records it)."""
    strat = node.strategies[0]
    ex = strat.executor
    quote = await node.venues["polymarket"].fetch_quote(YES)
    await node.on_quote(quote)
    first = await ex._send("first", "polymarket", YES, Side.BUY, n, quote.ask, TimeInForce.FOK)
    assert first.filled == n, first
    rec = PairAttempt("pmarb", "fed-dec-above-4", "ev", 0, ex.mode, n, D(0), D(0), D(0),
                      outcome="held", reason="second leg failed",
                      ts=node.clock.now_ms())  # fmt: skip
    rec.legs.append(first)
    rec.held[YES], rec.capital = n, -first.cash
    ex.book_pair(OpenPair(rec.pair_id, rec.event, 0, n, rec.capital, 0, ("polymarket",), (YES,)))
    ex._finish(rec)
    return strat.book.open[-1]


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
async def test_a_kill_between_the_records_one_merge_settles_settles_the_rest_at_start(
    tmp_path: Path,
    rig,  # noqa: F811
    store: str,
    request: pytest.FixtureRequest,
) -> None:
    kalshi, pm, keys = rig
    cfg = arb_config(tmp_path, kalshi, pm, {}, {"max_position_usd": "200"})
    if store == "postgresql":
        url = request.getfixturevalue("pg_url")
        cfg = cfg.model_copy(update={"node": cfg.node.model_copy(update={"database_url": url})})
    node, _ = await _start(cfg)
    try:
        older = await _hold(node, D(10))
        newer = await _hold(node, D(10))
        await _buy_no_by_hand(pm, keys, D(15))
        await _sync(node)  # the hand's NO booked as a trade of no strategy
    finally:
        await node.stop()
        node.close()
    await merge(pm.url, keys["address"], "15")  # while the node is down: 10 + 5 of 20 held
    [killed] = await killed_child(CHILD, tmp_path, cfg)
    assert len(killed["settled"]) == 1, killed
    for _ in range(2):
        node, _ = await _start(cfg)
        try:
            rows = load_arb_executions(node.storage, strategy_id="pmarb")
            assert not [r for r in rows if r["legs"].get("code") == "HELD_SHRUNK"], rows
            netted = [r for r in rows if r["legs"].get("code") == "HELD_NETTED"]
            assert [(r["legs"]["retry_of"], r["outcome"]) for r in netted] == [
                (older.record_id, "unwound"), (newer.record_id, "held")
            ], rows  # fmt: skip
            sold = [D(r["legs"]["unwinds"][0]["filled"]) for r in netted]
            assert sold == [D(10), D(5)], netted
            [price] = {D(r["legs"]["unwinds"][0]["avg_price"]) for r in netted}
            cost = newer.capital * 5 / 10
            fee = D(netted[1]["legs"]["unwinds"][0]["fee"])
            assert fee == 0 and D(netted[1]["actual_profit"]) == 5 * price - cost, netted[1]
            [left] = node.strategies[0].book.open
            assert left.contracts == 5 and left.capital == newer.capital - cost
            [leg] = held_legs(rows)
            assert leg.contracts == 5 and leg.record_id == newer.record_id
            assert node.reconcile_report is not None
            assert node.reconcile_report.held_shrunk == [], node.reconcile_report.held_shrunk
        finally:
            await node.stop()
            node.close()
