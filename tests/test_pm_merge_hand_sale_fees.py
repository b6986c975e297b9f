"""Sales by hand of n YES and n NO on the venue that paid the taker fee: the proceeds are n
less the fees, so the balances show no merge's shape (YES -n, NO -n, pUSD +n exactly), yet the
CLOB lists both sales as the account's trades. The sync books them as fills with their fees
(fees paid, the cash less them), never as adjustments that lose the fees.

The local CLOB and the official py-clob-client (the "hand") on the node's own account."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from pm_merge_support import MARKET, POLY_NO, buy, demo_clob, held, holding_a_pair, merge, synced
from test_pm_merge_hand_sales import _hand, _sell_by_hand
from test_pm_node_crash import POLY_YES
from tradeguard.model.outcome import polymarket_fee
from tradeguard.sandbox.polymarket import streams

D = Decimal
RATE = D("0.02")  # the market's taker fee rate while the hand sells


async def _sell_the_pair_by_hand_paying_fees(server, keys, monkeypatch) -> None:
    client = await _hand(server, keys)  # the market's fee is set to 0 there: set it again
    (cid,) = [c for c, m in server.markets.items() if m.slug == MARKET]
    server.markets[cid].fee_rate = RATE
    with monkeypatch.context() as m:  # the node's user channel misses them
        m.setattr(streams, "publish_trades", lambda *_: None)
        server.seed_book(MARKET, yes_bids=[("0.45", "10")], yes_asks=[])
        await _sell_by_hand(client, "yes", "0.45")
        server.seed_book(MARKET, yes_bids=[], yes_asks=[("0.45", "10")])  # a NO bid at 0.55
        await _sell_by_hand(client, "no", "0.55")


async def test_hand_sales_that_paid_fees_are_booked_as_trades_with_their_fees(
    tmp_path: Path, monkeypatch
) -> None:
    async with (
        demo_clob() as (server, keys),
        holding_a_pair(tmp_path, monkeypatch, server, keys) as (node, _),
    ):
        book = node.portfolio.book("polymarket")
        cash_before, fees_before = book.total("PUSD"), node.portfolio.fees_paid
        await asyncio.sleep(1.1)  # the CLOB dates trades to the second
        await _sell_the_pair_by_hand_paying_fees(server, keys, monkeypatch)
        fees = {p: polymarket_fee(D(10), D(p), RATE, D(1)) for p in ("0.45", "0.55")}
        assert all(f > 0 for f in fees.values()), fees
        paid = sum(fees.values(), D(0))
        account = server.accounts[keys["address"].lower()]
        assert account.cash == cash_before + 10 - paid  # no merge's shape in the balances

        sync, found = await synced(node)
        assert "booked as fills with their fees" in sync.waiting["polymarket"], sync.waiting
        sync, found = await synced(node, sync)  # the pass after the trades are booked
        assert sync.waiting == {} and found == [], (sync.waiting, found)
        # before: no trade read, the drops and the cash booked as adjustments, the fees lost
        assert node.storage.load_balance_adjustments("polymarket") == []
        sales = [f for f in node.storage.load_fills(venue="polymarket") if f.side.value == "sell"]
        assert sorted((f.symbol, f.price, f.amount, f.fee) for f in sales) == [
            (POLY_NO, D("0.55"), D(10), fees["0.55"]), (POLY_YES, D("0.45"), D(10), fees["0.45"]),
        ]  # fmt: skip
        assert node.portfolio.fees_paid == fees_before + paid
        assert book.total("PUSD") == cash_before + 10 - paid
        assert held(node)[(POLY_YES, "s1")] == 10 and held(node)[(POLY_NO, "s1")] == 10


async def test_a_fill_booked_while_the_trades_of_a_sale_are_read_makes_the_venue_wait(
    tmp_path: Path, monkeypatch
) -> None:
    # YES and NO fell with the cash up, no merge's shape (4 pairs gone, 0.01 short) and no
    # trade lists them: the venue's trades are read, then the balances applied. Meanwhile the
    # strategy's buy of 5 YES fills and is booked: the balances were read before it, and
    # applying them would undo the buy by an adjustment (and the next pass book it back).
    async with (
        demo_clob() as (server, keys),
        holding_a_pair(tmp_path, monkeypatch, server, keys) as (node, _),
    ):
        await merge(server.url, keys["address"], "4")
        account = server.accounts[keys["address"].lower()]
        account.cash -= D("0.01")  # short of the pairs' sum: read as sales, not a merge
        venue = node.venues["polymarket"]
        real = venue.fetch_fills_part  # the check's read of the venue's trades
        bought: list[str] = []

        async def read_while_a_buy_fills(symbol: str) -> tuple[list, bool]:
            answer = await real(symbol)
            if not bought:
                bought.append(symbol)
                await buy(node, POLY_YES, D(5))
            return answer

        monkeypatch.setattr(venue, "fetch_fills_part", read_while_a_buy_fills)
        sync, _ = await synced(node)
        assert bought, "the trades were not read"
        # before: the balances read before the buy applied, the buy undone (YES 15 -> 6)
        assert "while the venue's trades were read" in sync.waiting.get("polymarket", ""), (
            sync.waiting
        )
        assert held(node)[(POLY_YES, "s1")] == 15
        sync, _ = await synced(node, sync)  # balances read after the buy
        assert sync.waiting == {}, sync.waiting
        moved = sorted(
            (a["asset"], a["difference"])
            for a in node.storage.load_balance_adjustments("polymarket")
        )
        assert node.portfolio.book("polymarket").total("PUSD") == account.cash
        assert node.portfolio.book("polymarket").total(f"{MARKET}:YES") == 11, moved
        # YES -4, NO -4 and the cash once each: nothing undone, nothing booked back
        assert [a for a, _ in moved] == sorted([f"{MARKET}:NO", f"{MARKET}:YES", "PUSD"]), moved
        assert dict(moved)[f"{MARKET}:YES"] == -4, moved
