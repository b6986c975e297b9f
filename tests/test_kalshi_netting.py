"""Kalshi nets a YES and a NO contract of one market into 1 USD; the ledger books it too."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kalshi_node_support import (
    NO,
    TICKER,
    YES,
    buy,
    kalshi_node,
    paper_kalshi,
    started_kalshi_node,
)
from rigs import killed_child
from running_support import running
from tradeguard.execution.ledger_audit import audit_storage
from tradeguard.execution.outcome_netting import plan_netting
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.market import Quote
from tradeguard.model.order import OrderIntent
from tradeguard.model.outcome import Outcome, kalshi_fee
from tradeguard.node import TradingNode
from tradeguard.venues.kalshi.venue import KalshiVenue

D = Decimal


async def test_yes_then_no_on_one_market_nets_in_the_ledger_and_the_audit_passes_after_restart(
    tmp_path: Path, monkeypatch
):
    server, cfg, _ = await kalshi_node(tmp_path, monkeypatch)
    async with running(cfg) as node:  # closed on leaving: the process is gone
        yes_ask = (await node.venues["kalshi"].fetch_quote(YES)).ask
        no_ask = (await node.venues["kalshi"].fetch_quote(NO)).ask
        await buy(node, YES, "4", str(yes_ask))
        await buy(node, NO, "20", str(no_ask))
        venue = {b.asset: b.total for b in await node.venues["kalshi"].fetch_balances()}
        assert venue[f"{TICKER}:NO"] == 16 and f"{TICKER}:YES" not in venue
        book = node.portfolio.book("kalshi")
        assert book.total(f"{TICKER}:YES") == 0
        assert book.total(f"{TICKER}:NO") == 16
        assert book.total("USD") == venue["USD"]
        yes_pos = node.portfolio.position("kalshi", YES, "s1")
        no_pos = node.portfolio.position("kalshi", NO, "s1")
        assert yes_pos.quantity == 0 and no_pos.quantity == 16
        # netting 4 YES with 4 NO bought at q is selling the 4 YES at 1 - q
        fee_yes = kalshi_fee(D(4), yes_ask, D("0.07"))
        assert yes_pos.realized_pnl == (1 - no_ask - yes_ask) * 4 - fee_yes

    try:
        async with running(cfg) as node:
            report = node.storage.kv_get("reconcile.report")
            assert report["ok"], report
            assert report["balance_adjustments"] == []
            audit = audit_storage(node.storage, balance_only=node.orders.balance_only)
            assert audit.ok, audit.describe()
            assert node.risk.state.value != "halted"
            venue = {b.asset: b.total for b in await node.venues["kalshi"].fetch_balances()}
            stored = {b.asset: b.total for b in node.storage.load_balances() if b.venue == "kalshi"}
            assert stored.get(f"{TICKER}:YES", D(0)) == 0
            assert stored[f"{TICKER}:NO"] == venue[f"{TICKER}:NO"] == 16
            assert stored["USD"] == venue["USD"]
            assert node.portfolio.position("kalshi", NO, "s1").quantity == 16
            assert node.portfolio.position("kalshi", YES, "s1").quantity == 0
    finally:
        await server.stop()


async def test_pairs_the_ledger_holds_without_their_netting_are_netted_by_the_next_start(
    tmp_path: Path, monkeypatch
):
    # a ledger written before its netting was (an older version, or fills of a crashed run
    # caught up at start while the book lagged): the start's reconciliation books the netting
    server, cfg, _ = await kalshi_node(tmp_path, monkeypatch)
    monkeypatch.setattr(KalshiVenue, "nets_outcome_pairs", False)
    async with running(cfg) as node:
        yes = await buy(node, YES, "4", "0.47")
        no = await buy(node, NO, "20", "0.56")
        assert node.portfolio.book("kalshi").total(f"{TICKER}:YES") == 4  # not netted
    monkeypatch.setattr(KalshiVenue, "nets_outcome_pairs", True)
    try:
        async with running(cfg) as node:
            report = node.storage.kv_get("reconcile.report")
            assert report["ok"], report
            assert report["balance_adjustments"] == [] and report["ledger_differences"] == []
            audit = audit_storage(node.storage, balance_only=node.orders.balance_only)
            assert audit.ok, audit.describe()
            netted = [o for o in node.storage.load_orders() if o.client_order_id.startswith("net")]
            assert sorted((o.symbol, o.amount, o.price) for o in netted) == [
                (NO, 4, no.avg_price),
                (YES, 4, 1 - no.avg_price),
            ]
            assert node.portfolio.position("kalshi", YES, "s1").quantity == 0
            assert node.portfolio.position("kalshi", NO, "s1").quantity == 16
            pnl = node.portfolio.position("kalshi", YES, "s1").realized_pnl
            assert pnl == (1 - no.avg_price - yes.avg_price) * 4 - kalshi_fee(
                D(4), yes.avg_price, D("0.07")
            )
    finally:
        await server.stop()


async def test_paper_kalshi_nets_yes_and_no_as_the_venue_and_the_ledger_follows(tmp_path):
    cfg = paper_kalshi(tmp_path)
    async with running(cfg) as node:
        now = node.clock.now_ms()
        await node.on_quote(Quote("FED:YES/USD", now, D("0.44"), D(500), D("0.46"), D(500)))
        await node.on_quote(Quote("FED:NO/USD", now, D("0.54"), D(500), D("0.56"), D(500)))
        for symbol, amount, price in (("FED:YES/USD", 10, "0.46"), ("FED:NO/USD", 25, "0.56")):
            intent = OrderIntent(
                "s1", "kpaper", symbol, Side.BUY, D(amount), OrderType.LIMIT, D(price)
            )
            result = await node.submit(intent)
            assert result.order is not None and result.order.status is OrderStatus.FILLED
        venue = {b.asset: b.total for b in await node.venues["kpaper"].fetch_balances()}
        book = node.portfolio.book("kpaper")
        assert venue["FED:YES"] == book.total("FED:YES") == 0
        assert venue["FED:NO"] == book.total("FED:NO") == 15
        fees = kalshi_fee(D(10), D("0.46"), D("0.07")) + kalshi_fee(D(25), D("0.56"), D("0.07"))
        assert venue["USD"] == book.total("USD") == D(1000) - D("4.60") - D(14) - fees + 10
        assert node.portfolio.position("kpaper", "FED:NO/USD", "s1").quantity == 15
        report = await reconcile_and_gate(node, "periodic")
        assert report.ok and report.balance_adjustments == []
        assert audit_storage(node.storage, balance_only=node.orders.balance_only).ok
    async with running(cfg) as node:  # the paper venue starts again from the ledger
        assert node.risk.state.value != "halted"
        venue = {b.asset: b.total for b in await node.venues["kpaper"].fetch_balances()}
        assert venue.get("FED:YES", D(0)) == 0 and venue["FED:NO"] == 15
        assert venue["USD"] == D(1000) - D("4.60") - D(14) - fees + 10
        assert audit_storage(node.storage, balance_only=node.orders.balance_only).ok


async def test_contracts_of_a_balance_only_strategy_are_netted_for_it_and_open_no_position(
    tmp_path: Path, monkeypatch
):
    # cross-venue pairs buy either side of one Kalshi market per opportunity: legs, no positions
    server, cfg, _ = await kalshi_node(tmp_path, monkeypatch)
    try:
        async with running(cfg) as node:
            node.orders.balance_only.add("pmarb")
            before = node.portfolio.book("kalshi").total("USD")
            yes = await buy(node, YES, "5", "0.47", sid="pmarb")
            no = await buy(node, NO, "3", "0.56", sid="pmarb")
            netted = [o for o in node.orders.orders.values() if o.client_order_id.startswith("net")]
            assert sorted((o.symbol, o.strategy_id, o.amount) for o in netted) == [
                (NO, "pmarb", 3),
                (YES, "pmarb", 3),
            ]
            assert node.portfolio.open_positions() == []
            book = node.portfolio.book("kalshi")
            assert (book.total(f"{TICKER}:YES"), book.total(f"{TICKER}:NO")) == (2, 0)
            paid = yes.avg_price * 5 + yes.fee + no.avg_price * 3 + no.fee
            assert book.total("USD") == before - paid + 3
            venue = {b.asset: b.total for b in await node.venues["kalshi"].fetch_balances()}
            assert venue["USD"] == book.total("USD") and venue[f"{TICKER}:YES"] == 2
            report = await reconcile_and_gate(node, "periodic")
            assert report.ok and report.balance_adjustments == []
            assert audit_storage(node.storage, balance_only={"pmarb"}).ok
    finally:
        await server.stop()


def test_a_netting_closes_the_bought_side_at_its_price_and_the_other_at_one_minus_it():
    legs = plan_netting(
        "M", "USD", Outcome.NO, D("0.56"),
        {Outcome.YES: D(4), Outcome.NO: D(20)},
        {Outcome.YES: [("a", D(1)), ("b", D(5))], Outcome.NO: [("b", D(20))]},
        {Outcome.YES: "holdings", Outcome.NO: "holdings"},
    )  # fmt: skip
    assert [(leg.symbol, leg.strategy_id, leg.amount, leg.price) for leg in legs] == [
        ("M:YES/USD", "a", 1, D("0.44")),
        ("M:YES/USD", "b", 3, D("0.44")),
        ("M:NO/USD", "b", 4, D("0.56")),
    ]
    none_held = {Outcome.YES: D(4), Outcome.NO: D(0)}
    assert plan_netting("M", "USD", Outcome.YES, D("0.5"), none_held, {}, {}) == []
    # contracts no position holds (the ledger's opening) come from the owner given
    legs = plan_netting(
        "M", "USD", Outcome.NO, D("0.56"), {Outcome.YES: D(2), Outcome.NO: D(20)},
        {Outcome.NO: [("s1", D(20))]}, {Outcome.YES: "holdings", Outcome.NO: "holdings"},
    )  # fmt: skip
    assert [(leg.strategy_id, leg.amount) for leg in legs] == [("holdings", 2), ("s1", 2)]


async def test_yes_held_from_before_the_ledger_opened_nets_with_no_the_node_buys(
    tmp_path: Path, monkeypatch
):
    def bought_by_hand(server: Any, keys: dict[str, str]) -> None:
        server.account_of(keys["key_id"]).tokens[(TICKER, Outcome.YES)] = D(2)

    server, cfg, _ = await kalshi_node(tmp_path, monkeypatch, bought_by_hand)
    async with running(cfg) as node:
        await buy(node, NO, "20", "0.56")
        book = node.portfolio.book("kalshi")
        assert (book.total(f"{TICKER}:YES"), book.total(f"{TICKER}:NO")) == (0, 18)
        assert node.portfolio.position("kalshi", NO, "s1").quantity == 18
    try:
        async with running(cfg) as node:
            report = node.storage.kv_get("reconcile.report")
            assert report["ok"] and report["ledger_differences"] == [], report
            audit = audit_storage(node.storage, balance_only=node.orders.balance_only)
            assert audit.ok, audit.describe()
    finally:
        await server.stop()


@pytest.mark.parametrize("mode", ["after_send", "in_netting"])
async def test_a_kill_before_the_netting_is_kept_comes_back_netted_by_reconciliation(
    tmp_path: Path, monkeypatch, mode: str
):
    server, cfg, _ = await kalshi_node(tmp_path, monkeypatch)
    try:
        docs = await killed_child(Path(__file__).with_name("netting_crash_child.py"), tmp_path,
                                  cfg, mode, timeout_s=90)  # fmt: skip
        assert docs[-1] == {"killed": mode.replace("_", " ")}
        async with running(cfg) as node:
            report = node.storage.kv_get("reconcile.report")
            assert report["ok"] and report["ledger_differences"] == [], report
            assert report["balance_adjustments"] == []
            audit = audit_storage(node.storage, balance_only=node.orders.balance_only)
            assert audit.ok, audit.describe()
            assert node.portfolio.position("kalshi", YES, "s1").quantity == 0
            assert node.portfolio.position("kalshi", NO, "s1").quantity == 16
            venue = {b.asset: b.total for b in await node.venues["kalshi"].fetch_balances()}
            book = node.portfolio.book("kalshi")
            assert book.total(f"{TICKER}:NO") == venue[f"{TICKER}:NO"] == 16
            assert book.total("USD") == venue["USD"]
    finally:
        await server.stop()


async def _yes_held_by_a_resting_sell_then_no(node: TradingNode, venue) -> Any:
    """10 YES bought and offered by a resting sell, then 10 NO bought: the sell's answer."""
    yes_ask = (await venue.fetch_quote(YES)).ask
    await buy(node, YES, "10", str(yes_ask))
    await node.on_quote(await venue.fetch_quote(YES))
    sell = await node.submit(
        OrderIntent("s1", "kalshi", YES, Side.SELL, D(10), OrderType.LIMIT, yes_ask + D("0.03"))
    )
    assert sell.order is not None and sell.order.status is OrderStatus.ACCEPTED, sell
    await buy(node, NO, "10", str((await venue.fetch_quote(NO)).ask))
    return sell


async def test_yes_locked_in_a_resting_sell_is_not_netted_as_the_venue_nets_free_contracts_only(
    tmp_path: Path, monkeypatch
):
    async with started_kalshi_node(tmp_path, monkeypatch) as (server, node, keys):
        venue = node.venues["kalshi"]
        await _yes_held_by_a_resting_sell_then_no(node, venue)
        # the venue nets free contracts only: the 10 YES the sell holds stay, with the 10 NO
        acct = server.account_of(keys["key_id"])
        assert acct.tokens[(TICKER, Outcome.YES)] == 10 and acct.tokens[(TICKER, Outcome.NO)] == 10
        book = node.portfolio.book("kalshi")
        assert book.total(f"{TICKER}:YES") == 10 and book.total(f"{TICKER}:NO") == 10
        assert book.total("USD") == acct.cash  # no 10 USD the venue never paid
        assert not [o for o in node.orders.orders.values() if o.client_order_id.startswith("net")]
        # nor does reconciliation's catch-up net them while the sell rests
        assert node.orders.net_ledger("kalshi") == 0
        assert book.total(f"{TICKER}:YES") == 10 and book.total("USD") == acct.cash
