"""A leg left unresolved during a run, then SIGKILL. Real processes on both local servers: the
venue executes one leg of the node's first attempt and every answer about it is lost (the
submit's, its fills, each query, its cancel), so after `leg_timeout_s` and its cancel the
attempt ends `held` naming the leg, unguessed; the node is killed right after that record.

The next start finds the leg on its venue by query and books its fills; the held record names
it, so it is not taken up again as a leg no attempt names (no unwind, no second record); the
book holds what the record booked, once; the node's balances are the venues' own; and a second
start sends and records nothing more."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rigs import killed_child
from test_pm_arb_book_crash import CHILD, K_NO, PAIR, PM_YES, _book, _twice, servers
from test_pm_arb_interrupted import _start
from test_pm_arb_node import arb_config
from tradeguard.model.enums import OrderStatus
from tradeguard.model.events import EventKind
from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
from tradeguard.sandbox.pm_serve import paired_markets
from tradeguard.storage.arb_repository import load_arb_executions

D = Decimal
__all__ = ["servers"]  # the fixture: both local servers, both demo accounts in the vault
PM_SYMBOL, K_SYMBOL = PM_YES + "/PUSD", K_NO + "/USD"


async def _venues_agree(node) -> None:
    """Every asset each venue reports is what the node's ledger holds there."""
    for name in ("polymarket", "kalshi"):
        book = node.portfolio.book(name)
        for bal in await node.venues[name].fetch_balances():
            assert book.total(bal.asset) == bal.free + bal.locked, (name, bal)


@pytest.mark.parametrize("role", ["first", "second"])
async def test_a_leg_unresolved_during_a_run_and_a_kill_is_booked_once_at_the_next_start(
    tmp_path, servers, role
):
    kalshi, pm = servers
    cfg = arb_config(tmp_path, kalshi, pm, {"leg_timeout_s": 1, "max_unwind_loss_usd": "1.5"},
                     {"max_position_usd": "200"})  # fmt: skip
    cfg.node.reconcile_interval_s = 3600  # nothing resolves the leg before the kill
    arb = ArbScenario(pm.book, paired_markets("polymarket", pm)[:1], ArbScenarioConfig(size=D(20)))
    arb.appear(arb.markets[0])  # a thin cheap Polymarket ask: Polymarket's leg goes first
    [died] = await killed_child(CHILD, tmp_path, cfg, f"{role}_unresolved", timeout_s=150)
    assert died.get("outcome") == "held" and f"{role} leg" in died["reason"], died
    assert "unresolved" in died["reason"], died
    [(cid, venue)] = died["lost"].items()
    assert venue == ("polymarket" if role == "first" else "kalshi")

    def check(node) -> None:
        order = node.storage.get_order(cid)
        assert order is not None and order.status is OrderStatus.FILLED, order
        assert order.filled == 20  # found by query, its fills booked: never guessed unfilled
        [rec] = load_arb_executions(node.storage, strategy_id="pmarb")
        assert rec["id"] == died["record_id"] and rec["outcome"] == "held", rec["legs"]
        assert rec["legs"]["held"] == {PM_SYMBOL: "20"}, rec["legs"]
        assert [o.side.value for o in node.storage.load_orders()].count("sell") == 0
        lone_pm = (PAIR, D(20), (PM_SYMBOL,))
        if role == "first":  # counted at its full size: it filled whole
            assert _book(node) == [lone_pm]
        else:  # the first leg held, the second counted alone on its venue: both filled
            assert sorted(_book(node)) == sorted([lone_pm, (PAIR, D(20), (K_SYMBOL,))])
        assert node.ledger_report is not None and node.ledger_report.ok

    node, events = await _start(cfg)
    try:
        check(node)
        await _venues_agree(node)
        kinds = {e.kind for e in events}
        assert not kinds & {EventKind.ARB_EXECUTION, EventKind.ARB_HELD}, kinds
    finally:
        await node.stop()
        node.close()
    await _twice(cfg, check)
