"""A cross-venue node SIGKILLed the instant the venue has answered its first leg, before the
answer is read: the journal holds the order as submitted, its end and fills unknown (a leg
unresolved across the kill). Real processes on both local servers: the next start finds the
leg on the venue by query, books what it filled, and takes it up (unwound within the cap, or
held), one record naming it; the node's books agree with the venue's account and a second
start sends and records nothing more."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rigs import killed_child
from test_pm_arb_book_crash import BOOK_MOVES, CHILD, PAIR, PM_YES, _book, _twice, servers
from test_pm_arb_interrupted import _start
from test_pm_arb_node import arb_config
from tradeguard.model.enums import OrderStatus
from tradeguard.model.events import EventKind
from tradeguard.model.outcome import Outcome
from tradeguard.sandbox.outcome_accounts import HOUSE
from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
from tradeguard.sandbox.pm_serve import paired_markets
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

D = Decimal
__all__ = ["servers"]  # the fixture: both local servers, both demo accounts in the vault
SYMBOL = PM_YES + "/PUSD"


def _venue_holds(pm, market: str) -> tuple[Decimal, Decimal]:
    """The CLOB's own figures for the demo wallet: YES contracts of `market` and cash."""
    [acct] = [a for a in pm.accounts.values() if a.account_id != HOUSE]
    cid = next(m.condition_id for m in pm.markets.values() if m.slug == market)
    return acct.tokens.get((cid, Outcome.YES), Decimal(0)), acct.cash


@pytest.mark.parametrize("cap, outcome", [("1.5", "unwound"), ("0.01", "held")])
async def test_a_first_leg_killed_before_its_answer_is_read_is_found_and_taken_up_once(
    tmp_path, servers, cap, outcome, monkeypatch
):
    kalshi, pm = servers
    if outcome == "held":  # at that cap no size is sent unless the book moves after sizing
        monkeypatch.setenv(BOOK_MOVES, "1")
    cfg = arb_config(tmp_path, kalshi, pm, {"max_unwind_loss_usd": cap},
                     {"max_position_usd": "200"})  # fmt: skip
    arb = ArbScenario(pm.book, paired_markets("polymarket", pm)[:1], ArbScenarioConfig(size=D(20)))
    arb.appear(arb.markets[0])  # a thin cheap Polymarket ask: Polymarket's leg goes first
    [died] = await killed_child(CHILD, tmp_path, cfg, "first_sent", timeout_s=150)
    assert died.get("step") == "first_sent", died
    if outcome == "unwound":  # the book went back while the node was down: the bid covers it
        arb.vanish(arb.markets[0])
    first = died["first"]
    journal = Storage(Database(cfg.node.database_url))
    try:  # what the kill left: the order sent, its answer never read
        [left] = journal.load_orders(strategy_id="pmarb")
        assert (left.client_order_id, left.status) == (first, OrderStatus.SUBMITTED), left
        assert left.filled == 0 and journal.count_fills() == 0
    finally:
        journal.db.dispose()
    assert died["venue"] == "polymarket" and "'success': True" in died["answered"], died

    def check(node) -> None:
        order = node.storage.get_order(first)
        assert order is not None and order.status is OrderStatus.FILLED, order
        assert order.filled == 20  # found by query at the venue, its fills booked: not lost
        [rec] = load_arb_executions(node.storage, strategy_id="pmarb")
        assert rec["outcome"] == outcome and rec["cycle"]["pair_id"] == PAIR, str(rec["legs"])
        assert rec["legs"]["legs"][0]["client_order_id"] == first
        holds = node.portfolio.book("polymarket").total(PM_YES)
        venue_yes, venue_cash = _venue_holds(pm, "fed-above-4pct-dec")
        assert holds == venue_yes  # the node's book is the venue's account
        assert node.portfolio.book("polymarket").total("PUSD") == venue_cash
        if outcome == "unwound":
            assert venue_yes == 0 and _book(node) == [], (venue_yes, _book(node))
        else:  # held at its full size under its pair, for the limits, a retry, the settlement
            assert venue_yes == 20 and _book(node) == [(PAIR, Decimal(20), (SYMBOL,))]
            assert rec["legs"]["held"] == {SYMBOL: "20"}, rec["legs"]

    node, events = await _start(cfg)
    try:
        check(node)
        kinds = [e.kind for e in events]
        assert kinds.count(EventKind.ARB_EXECUTION) + kinds.count(EventKind.ARB_HELD) >= 1
        if outcome == "held":
            assert kinds.count(EventKind.ARB_HELD) == 1
    finally:
        await node.stop()
        node.close()
    await _twice(cfg, check)
