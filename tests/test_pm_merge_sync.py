"""A YES+NO merge done outside the node (polymarket.com, the CTF contract's mergePositions)
reaches the balance sync as YES -n, NO -n, pUSD +n: the sync books it to the strategy that
held the pair (closed at 1.00 per pair, P&L realised), never as outside money."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from pm_merge_support import (
    POLY_NO,
    buy,
    config_after_a_pair,
    demo_clob,
    held,
    holding_a_pair,
    merge,
    running,
    synced,
)
from test_pm_node_crash import POLY_YES
from tradeguard.execution.outcome_merge import merged_pairs
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import OrderIntent


async def test_a_merge_outside_the_node_closes_the_pair_not_a_deposit(
    tmp_path: Path, monkeypatch
) -> None:
    async with (
        demo_clob() as (server, keys),
        holding_a_pair(tmp_path, monkeypatch, server, keys) as (node, start),
    ):
        cash_before = node.portfolio.book("polymarket").total("PUSD")
        merged = await merge(server.url, keys["address"], "10")
        assert (merged["yes"], merged["no"]) == ("0", "0")
        refused = await merge(server.url, keys["address"], "1", status=400)
        assert "0 free pairs held" in str(refused), refused
        sync, found = await synced(node)
        assert sync.waiting == {}, sync.waiting
        assert found == []  # no difference: the merge is booked by fills
        assert node.storage.load_balance_adjustments("polymarket") == []
        assert held(node).get((POLY_YES, "s1"), Decimal(0)) == 0
        assert held(node).get((POLY_NO, "s1"), Decimal(0)) == 0
        assert node.portfolio.book("polymarket").total("PUSD") == cash_before + 10
        realised = sum(
            (p.realized_pnl for (_, _, sid), p in node.portfolio.positions.items()
             if sid == "s1"),
            Decimal(0),
        )  # fmt: skip
        # the pair's whole cost (prices and fees) against the 10.00 the merge paid, realised
        assert realised == node.portfolio.book("polymarket").total("PUSD") - start
        assert realised != 0


async def test_a_merge_while_the_node_is_down_is_booked_once_at_the_next_starts(
    tmp_path: Path, monkeypatch
) -> None:
    # The sync saw the merge and the node died before booking it (or it was down): the next
    # start's reconciliation books it as fills, a later start books nothing more.
    async with demo_clob() as (server, keys):
        cfg = await config_after_a_pair(tmp_path, monkeypatch, server, keys)
        await merge(server.url, keys["address"], "4")
        counts = []
        for _ in range(2):
            async with running(cfg) as node:
                assert node.storage.load_balance_adjustments("polymarket") == []
                assert held(node)[(POLY_YES, "s1")] == 6 and held(node)[(POLY_NO, "s1")] == 6
                counts.append(len(node.storage.load_fills(venue="polymarket")))
                _, found = await synced(node)
                assert found == []
        assert counts == [4, 4]  # two buys, two merge legs: booked once


async def test_a_merge_beside_an_open_order_of_the_market_waits(
    tmp_path: Path, monkeypatch
) -> None:
    async with (
        demo_clob() as (server, keys),
        holding_a_pair(tmp_path, monkeypatch, server, keys) as (node, _),
    ):
        quote = await node.venues["polymarket"].fetch_quote(POLY_YES)
        resting = await node.submit(OrderIntent(
            "s1", "polymarket", POLY_YES, Side.SELL, Decimal(5), OrderType.LIMIT,
            quote.ask + Decimal("0.02"),
        ))  # fmt: skip
        assert resting.order is not None and resting.order.status is OrderStatus.ACCEPTED
        await merge(server.url, keys["address"], "4")
        sync, found = await synced(node)
        assert found == []
        assert "are open there; waits until they end" in sync.waiting["polymarket"]
        assert node.storage.load_balance_adjustments("polymarket") == []
        assert held(node)[(POLY_YES, "s1")] == 10  # nothing booked by guess


class _Book:
    def __init__(self, totals: dict[str, str]) -> None:
        self.totals = {a: Decimal(q) for a, q in totals.items()}

    def assets(self) -> list[str]:
        return list(self.totals)

    def total(self, asset: str) -> Decimal:
        return self.totals.get(asset, Decimal(0))


LEDGER = {"PUSD": "100", "m:YES": "10", "m:NO": "10", "k:YES": "3", "k:NO": "3"}


def _reported(**changes: str) -> dict[str, Decimal]:
    out = {a: Decimal(q) for a, q in LEDGER.items()}
    out.update({a.replace("_", ":"): Decimal(q) for a, q in changes.items()})
    return out


def test_equal_drops_with_their_sum_in_cash_are_merges() -> None:
    found = merged_pairs(_Book(LEDGER), _reported(m_YES="6", m_NO="6", k_YES="1", k_NO="1",
                                                   PUSD="106"))  # fmt: skip
    assert found == ({"m": Decimal(4), "k": Decimal(2)}, "PUSD")


def test_unequal_drops_or_other_cash_are_no_merge_never_a_guess() -> None:
    book = _Book(LEDGER)
    assert merged_pairs(book, _reported(m_YES="6", m_NO="7", PUSD="104")) == ({}, "")
    assert merged_pairs(book, _reported(m_YES="6", m_NO="6", PUSD="105")) == ({}, "")
    assert merged_pairs(book, _reported(m_YES="6", m_NO="6")) == ({}, "")
    assert merged_pairs(book, _reported(PUSD="104")) == ({}, "")


def test_a_cash_rise_off_by_the_stated_micro_units_is_still_a_merge() -> None:
    book = _Book(LEDGER)
    for cash in ("103.999999", "103.999998", "104.000001", "104.000002"):
        assert merged_pairs(book, _reported(m_YES="6", m_NO="6", PUSD=cash)) == (
            {"m": Decimal(4)}, "PUSD",
        ), cash  # fmt: skip
    for cash in ("103.999997", "104.000003"):  # beyond two millionths: no merge
        assert merged_pairs(book, _reported(m_YES="6", m_NO="6", PUSD=cash)) == ({}, ""), cash
    # an unequal drop stays refused whatever the cash
    assert merged_pairs(book, _reported(m_YES="6", m_NO="7", PUSD="103.999999")) == ({}, "")
    assert merged_pairs(book, _reported(m_YES="6", m_NO="6.000001", PUSD="104")) == ({}, "")


async def test_a_merge_paying_a_micro_unit_short_is_booked_with_the_ledger_equal_to_the_venue(
    tmp_path: Path, monkeypatch
) -> None:
    # the chain's 6-decimal pUSD: the venue pays n less a millionth; the millionth is the
    # merge's fee, so the ledger equals the venue exactly, live and at the next start
    async with demo_clob() as (server, keys):
        async with holding_a_pair(tmp_path, monkeypatch, server, keys) as (node, _):
            cash_before = node.portfolio.book("polymarket").total("PUSD")
            await merge(server.url, keys["address"], "4")
            server.accounts[keys["address"].lower()].cash -= Decimal("0.000001")
            _, found = await synced(node)
            assert found == []
            assert node.storage.load_balance_adjustments("polymarket") == []
            assert held(node)[(POLY_YES, "s1")] == 6 and held(node)[(POLY_NO, "s1")] == 6
            expected = cash_before + 4 - Decimal("0.000001")
            assert node.portfolio.book("polymarket").total("PUSD") == expected
            cfg = node.config
        await merge(server.url, keys["address"], "2")  # while the node is down
        server.accounts[keys["address"].lower()].cash -= Decimal("0.000001")
        async with running(cfg) as node:
            report = node.reconcile_report
            assert report is not None and report.ledger_differences == [], report
            assert node.storage.load_balance_adjustments("polymarket") == []
            assert held(node)[(POLY_YES, "s1")] == 4 and held(node)[(POLY_NO, "s1")] == 4


async def test_a_fill_booked_while_the_trades_are_read_makes_the_merge_wait(
    tmp_path: Path, monkeypatch
) -> None:
    # The merge's trade check reads the venue; meanwhile the strategy's buy of 5 YES fills and
    # is booked. The balances were read before it: booking the merge then, and applying them,
    # would read the buy as a fee of the merge and undo it by an adjustment.
    async with (
        demo_clob() as (server, keys),
        holding_a_pair(tmp_path, monkeypatch, server, keys) as (node, _),
    ):
        await merge(server.url, keys["address"], "4")
        venue = node.venues["polymarket"]
        real = venue.fetch_fills_part  # the merge check's read of the venue's trades
        bought: list[str] = []

        async def read_while_a_buy_fills(symbol: str) -> tuple[list, bool]:
            answer = await real(symbol)
            if not bought:
                bought.append(symbol)
                await buy(node, POLY_YES, Decimal(5))
            return answer

        monkeypatch.setattr(venue, "fetch_fills_part", read_while_a_buy_fills)
        sync, found = await synced(node)
        assert found == [], found
        assert "while the venue's trades were read" in sync.waiting["polymarket"], sync.waiting
        sync, found = await synced(node, sync)  # balances read after the buy
        assert sync.waiting == {} and found == [], (sync.waiting, found)
        assert node.storage.load_balance_adjustments("polymarket") == []
        assert held(node)[(POLY_YES, "s1")] == 11 and held(node)[(POLY_NO, "s1")] == 6
        merged = [f for f in node.storage.load_fills(venue="polymarket") if f.side is Side.SELL]
        assert len(merged) == 2 and all(f.fee == 0 for f in merged), merged
        account = server.accounts[keys["address"].lower()]
        assert node.portfolio.book("polymarket").total("PUSD") == account.cash


async def test_two_passes_at_once_book_one_merge(tmp_path: Path, monkeypatch) -> None:
    # The balance sync and a periodic reconciliation run as tasks of their own: both see the
    # drop, both read the venue's trades; the one that resumes second must not book it again.
    async with (
        demo_clob() as (server, keys),
        holding_a_pair(tmp_path, monkeypatch, server, keys) as (node, _),
    ):
        await merge(server.url, keys["address"], "4")
        first, second = node.balance_sync(), node.balance_sync()
        assert first is not None and second is not None
        await asyncio.sleep(2.1)  # past the sync's "changed in the last 2 s" wait
        await asyncio.gather(first.sync_once("polymarket"), second.sync_once("polymarket"))
        _, found = await synced(node)
        assert found == [], found
        assert node.storage.load_balance_adjustments("polymarket") == []
        assert held(node)[(POLY_YES, "s1")] == 6 and held(node)[(POLY_NO, "s1")] == 6
        merged = [f for f in node.storage.load_fills(venue="polymarket") if f.side is Side.SELL]
        assert len(merged) == 2, merged
