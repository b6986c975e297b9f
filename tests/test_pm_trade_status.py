"""A Polymarket trade's settlement status (`MATCHED`, `MINED`, `CONFIRMED`, `RETRYING`,
`FAILED`) on the listing and the `user` channel. A FAILED trade never settled on chain: it is
never booked, from the listing or the channel, before or after a restart; one booked while it
was MATCHED is flagged by the reconciliation (`fills_failed`, a critical `fill.failed` event)
and the ledger takes the venue's figures, which no longer hold it. RETRYING stays booked.

The local CLOB (its `set_trade_status` hook), the venue, and the official py-clob-client."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account

from pm_merge_support import buy, demo_clob, pm_config, running
from test_pm_maker_fills import _client, _hand_buys, _maker_and_hand
from test_pm_node_crash import POLY_YES
from test_polymarket_venue import NO, Recorder, make_order
from tradeguard.clock import Clock
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.polymarket.venue import PolymarketVenue

D = Decimal


async def _our_maker_fill(ex: PolymarketExchange) -> tuple[PolymarketVenue, Recorder, Any, str]:
    """Our NO bid met by the hand's YES buy (py-clob-client): streamed as MATCHED. The venue,
    its recorder, the hand's client and the match's id."""
    venue, rec, hand = await _maker_and_hand(ex)
    report = await venue.submit(make_order("tg1-1", NO, Side.BUY, "10", "0.54"))
    assert report.filled == 0
    await _hand_buys(hand, "1001", "0.46")
    await eventually(lambda: len(rec.fills) == 1)
    return venue, rec, hand, rec.fills[0].trade_id.rsplit("-", 1)[0]


async def test_a_failed_trade_is_never_booked_from_the_channel_nor_the_listing() -> None:
    async with PolymarketExchange() as ex:
        venue, rec, hand, match = await _our_maker_fill(ex)
        again = PolymarketVenue("polymarket", ex.url, venue._key, Clock())  # a restart's
        try:
            booked = rec.fills[0]
            cash = ex.accounts[venue.signer.address.lower()].cash
            assert ex.set_trade_status(match, "FAILED") == 2  # each side's row
            (row,) = await asyncio.to_thread(hand.get_trades)
            assert row["status"] == "FAILED"  # the official client reads it so
            await eventually(lambda: booked.trade_id in venue.failed_fills)
            assert rec.fills == [booked]  # the FAILED message books nothing
            assert ex.accounts[venue.signer.address.lower()].cash == cash + D("5.4")
            assert await venue.fetch_fills(NO) == []
            await again.connect()
            assert await again.fetch_fills(NO) == []
            assert await again.fetch_fills_part(NO) == ([], True)
            assert await again.traded_symbols() == set()
            assert set(again.failed_fills) == {booked.trade_id}
            failed = again.failed_fills[booked.trade_id]
            assert (failed.symbol, failed.amount, failed.price) == (NO, D(10), D("0.54"))
        finally:
            await venue.close()
            await again.close()


@pytest.mark.parametrize("status", ["MINED", "RETRYING"])
async def test_a_trade_pending_or_settled_stays_booked(status: str) -> None:
    async with PolymarketExchange() as ex:
        venue, rec, _, match = await _our_maker_fill(ex)
        try:
            ex.set_trade_status(match, status)
            await eventually(lambda: len(rec.fills) == 2)  # told again: the same trade
            assert {f.trade_id for f in rec.fills} == {rec.fills[0].trade_id}
            (listed,) = await venue.fetch_fills(NO)
            assert listed.trade_id == rec.fills[0].trade_id and venue.failed_fills == {}
        finally:
            await venue.close()


def test_each_venue_is_told_of_an_unknown_status_once_whatever_ran_before(caplog) -> None:
    """Before, the statuses told were one set for the whole process: a venue (or a test) that
    had been told of a status silenced every later venue's warning of it, so the tests
    expecting one warning passed or failed by the order they ran in."""
    from tradeguard.venues.polymarket.trade_rows import kept_fills

    first = PolymarketVenue("polymarket", "http://127.0.0.1:9", Account.create().key.hex(), Clock())
    again = PolymarketVenue("polymarket", "http://127.0.0.1:9", first._key, Clock())  # a restart
    with caplog.at_level("WARNING"):
        for venue in (first, first, again, again):
            for status in ("LOST", "SETTLING"):  # what the tests below expect told once
                assert kept_fills(venue, {"id": "t-1", "status": status}, []) == []
    for status in ("'LOST'", "'SETTLING'"):
        told = [r for r in caplog.records if status in r.getMessage()]
        assert len(told) == 2, [r.getMessage() for r in told]  # once by each venue


def test_a_status_no_clob_sends_yet_is_a_pending_trade_told_once(caplog) -> None:
    from tradeguard.venues.polymarket.trade_rows import trade_failed

    assert trade_failed({"status": "FAILED"}) and not trade_failed({"status": "RETRYING"})
    assert not trade_failed({})  # a row naming no status names no failure
    told: set[str] = set()  # a venue's
    with caplog.at_level("WARNING"):
        assert not trade_failed({"id": "t-1", "status": "LOST"}, told=told)
        assert not trade_failed({"id": "t-2", "status": "LOST"}, told=told)
    [told] = [r.getMessage() for r in caplog.records if "'LOST'" in r.getMessage()]
    assert "is not one of MATCHED, MINED, CONFIRMED, RETRYING, FAILED" in told, told
    assert "taken as pending" in told and "trade t-1" in told, told


async def test_a_row_of_an_unknown_status_is_booked_as_pending_and_never_escalates(
    caplog,
) -> None:
    """Before, a status no CLOB sends made the whole row unreadable: its fill was never booked
    and its order was escalated as one whose fills cannot be read, at every listing."""
    async with PolymarketExchange() as ex:
        venue, rec, _, match = await _our_maker_fill(ex)
        try:
            booked = rec.fills[0]
            for row in ex.trades[venue.signer.address.lower()]:
                if str(row["id"]).startswith(f"{match}-"):
                    row["status"] = "SETTLING"  # a status the CLOB may send one day
            with caplog.at_level("WARNING"):
                for _ in range(2):
                    (listed,) = await venue.fetch_fills(NO)
                    assert listed.trade_id == booked.trade_id and listed.amount == D(10)
            assert venue.unreadable_fills == {} and venue.failed_fills == {}
            told = [r for r in caplog.records if "'SETTLING'" in r.getMessage()]
            assert len(told) == 1, [r.getMessage() for r in told]
        finally:
            await venue.close()


async def test_a_match_read_after_its_trade_failed_is_stale_and_never_booked() -> None:
    """The `user` channel's MATCHED message of a trade reaches the venue after a listing read
    the trade FAILED (no status follows FAILED): it books nothing, whichever came first."""
    async with PolymarketExchange() as ex:
        venue, _rec, _hand, match = await _our_maker_fill(ex)
        again = PolymarketVenue("polymarket", ex.url, venue._key, Clock())  # a restart's
        try:
            [ours] = [
                dict(r) for r in ex.trades[venue.signer.address.lower()]
                if str(r["id"]).startswith(f"{match}-")
            ]  # fmt: skip
            ex.set_trade_status(match, "FAILED")
            await again.connect()
            assert await again.fetch_fills(NO) == []  # read FAILED: kept apart
            [failed] = again.failed_fills.values()
            assert again.fills_from({**ours, "status": "MATCHED"}) == []  # late: stale
            assert again.fills_from({**ours, "status": "MINED"}) == []
            assert failed.trade_id in again.failed_fills
        finally:
            await venue.close()
            await again.close()


async def test_a_fill_booked_then_failed_is_flagged_and_the_ledger_takes_the_venue_s_figures(
    tmp_path, monkeypatch
) -> None:
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            book = node.portfolio.book("polymarket")
            cash = book.total("PUSD")
            await buy(node, POLY_YES)
            (fill,) = node.storage.load_fills(venue="polymarket")
            assert book.total(POLY_YES.split("/")[0]) == 10
            server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")
            report = await reconcile_and_gate(node)
            assert [f["trade_id"] for f in report.fills_failed] == [fill.trade_id]
            assert book.total(POLY_YES.split("/")[0]) == 0 and book.total("PUSD") == cash
            kinds = [e.kind for e in node.storage.load_events(limit=500)]
            assert kinds.count("fill.failed") == 1
            again = await reconcile_and_gate(node)
            assert again.fills_failed == [] and again.balance_adjustments == []
        async with running(cfg) as node:  # a restart: listed FAILED, never booked again
            assert node.storage.load_fills(venue="polymarket") == [fill]
            book = node.portfolio.book("polymarket")
            assert book.total(POLY_YES.split("/")[0]) == 0 and book.total("PUSD") == cash
            report = node.storage.kv_get("reconcile.report")
            assert report["ledger_differences"] == [] and report["ok"]


async def test_an_order_whose_only_trade_failed_before_it_was_read_ends_with_nothing_filled() -> (
    None
):
    """Our resting bid matched and its trade FAILED while no one read it (the node down): the
    CLOB's order still counts the match (`size_matched`); the venue reports it ended with
    nothing filled, so no fill is waited for and none is booked."""
    async with PolymarketExchange() as ex:
        venue, rec, hand = await _maker_and_hand(ex)
        try:
            order = make_order("tg1-1", NO, Side.BUY, "10", "0.54")
            report = await venue.submit(order)
            await venue.close()  # down: the match and its failure go unread
            await _hand_buys(hand, "1001", "0.46")
            (match,) = {str(r["id"]).rsplit("-", 1)[0] for r in ex.trades[hand_address(ex, venue)]}
            ex.set_trade_status(match, "FAILED")
            venue = PolymarketVenue("polymarket", ex.url, venue._key, Clock())
            await venue.connect()
            venue.adopt(order)
            assert await venue.fetch_fills(NO) == []
            seen = await venue.fetch_order("tg1-1", NO)
            assert seen is not None and seen.venue_order_id == report.venue_order_id
            assert (seen.status, seen.filled) == (OrderStatus.CANCELLED, 0)
            assert rec.fills == []
        finally:
            await venue.close()


def hand_address(ex: PolymarketExchange, ours: PolymarketVenue) -> str:
    (hand,) = set(ex.trades) - {ours.signer.address.lower()}
    return hand


async def test_a_resting_order_whose_match_failed_while_the_node_was_down_books_nothing(
    tmp_path, monkeypatch
) -> None:
    """Our bid rests; the node stops; a hand (py-clob-client) meets it and the trade FAILS.
    At the next start the order ends with nothing filled, no fill is booked, and the ledger
    agrees with the venue (no difference, no balance read left waiting)."""
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            venue = node.venues["polymarket"]
            quote = await venue.fetch_quote(POLY_YES)
            await node.on_quote(quote)
            bid = quote.bid + D("0.01")
            placed = await node.submit(
                OrderIntent("s1", "polymarket", POLY_YES, Side.BUY, D(10), OrderType.LIMIT, bid)
            )
            assert placed.order is not None and placed.order.status is OrderStatus.ACCEPTED
            cid = placed.order.client_order_id
            no_token = venue.token_id(POLY_YES.replace(":YES/", ":NO/"))
        hand = Account.create()
        server.add_account(hand.address, D(1000))
        client = await _client(server, hand.key.hex())
        await _hand_buys(client, no_token, str(1 - bid))
        (row,) = await asyncio.to_thread(client.get_trades)
        server.set_trade_status(row["id"].rsplit("-", 1)[0], "FAILED")
        async with running(cfg) as node:
            report = node.storage.kv_get("reconcile.report")
            assert report["ok"] and report["balances_deferred"] == [], report
            assert report["ledger_differences"] == [] and report["fills_failed"] == []
            assert node.storage.load_fills(venue="polymarket") == []
            order = node.storage.get_order(cid)
            assert (order.status, order.filled) == (OrderStatus.CANCELLED, 0)


def test_an_order_s_failed_sizes_are_let_go_a_week_after_its_newest_failed_fill() -> None:
    """Before, the venue kept every order's FAILED sizes for the life of the process: one
    entry per order with a FAILED trade, never let go."""
    from decimal import Decimal

    from tradeguard.clock import SimulatedClock
    from tradeguard.model.enums import LiquiditySide, Side
    from tradeguard.model.fill import Fill
    from tradeguard.venues.polymarket.trade_rows import FAILED_OF_KEEP_MS, kept_fills

    clock = SimulatedClock(1_000_000)
    venue = PolymarketVenue("polymarket", "http://127.0.0.1:9", Account.create().key.hex(), clock)

    def failed(trade: str, order_hash: str) -> None:
        fill = Fill("polymarket", "m:YES/PUSD", "c", order_hash, trade, Side.BUY,
                    Decimal("0.5"), Decimal(5), Decimal(0), "PUSD", LiquiditySide.TAKER,
                    clock.now_ms())  # fmt: skip
        assert kept_fills(venue, {"id": trade, "status": "FAILED"}, [fill]) == []

    failed("t-1", "h-1")
    assert venue._failed_of == {"h-1": {"t-1": Decimal(5)}}
    clock.advance_to(clock.now_ms() + FAILED_OF_KEEP_MS - 1)  # within the week: kept
    failed("t-2", "h-2")
    assert set(venue._failed_of) == {"h-1", "h-2"}
    clock.advance_to(clock.now_ms() + 2)  # h-1's FAILED fill is past the week
    failed("t-3", "h-3")
    assert set(venue._failed_of) == {"h-2", "h-3"}


async def test_a_resting_order_keeps_its_failed_size_off_what_it_filled_past_a_week() -> None:
    """Our NO bid of 12 rests; the hand (py-clob-client) meets 5 of it and that trade FAILS:
    the CLOB's order still counts the 5 matched, the venue takes them off (0 filled). The bid
    rests on; a week later another order's trade is read FAILED. Before, that read let go of
    the resting bid's FAILED size too (a week after its FAILED fill): its next query reported
    5 filled that never settled (the order manager waits for fills no listing will give)."""
    from tradeguard.clock import SimulatedClock
    from tradeguard.model.enums import LiquiditySide
    from tradeguard.model.fill import Fill
    from tradeguard.venues.polymarket.trade_rows import FAILED_OF_KEEP_MS, kept_fills

    async with PolymarketExchange() as ex:
        venue, rec, hand = await _maker_and_hand(ex)
        try:
            report = await venue.submit(make_order("tg1-1", NO, Side.BUY, "12", "0.54"))
            assert report.filled == 0 and report.status.is_open
            await _hand_buys(hand, "1001", "0.46", size="5")
            await eventually(lambda: len(rec.fills) == 1)
            ex.set_trade_status(rec.fills[0].trade_id.rsplit("-", 1)[0], "FAILED")
            await eventually(lambda: rec.fills[0].trade_id in venue.failed_fills)
            seen = await venue.fetch_order("tg1-1", NO)
            assert seen is not None and (seen.status, seen.filled) == (OrderStatus.ACCEPTED, 0)
            real = venue.clock
            later = real.now_ms() + FAILED_OF_KEEP_MS + 3_600_000  # a week and an hour on
            venue.clock = SimulatedClock(later)
            other = Fill("polymarket", NO, "tg1-9", "h-other", "t-other", Side.BUY, D("0.5"),
                         D(5), D(0), "PUSD", LiquiditySide.TAKER, later)  # fmt: skip
            assert kept_fills(venue, {"id": "t-other", "status": "FAILED"}, [other]) == []
            venue.clock = real
            seen = await venue.fetch_order("tg1-1", NO)  # still resting: 5 never settled
            assert seen is not None and (seen.status, seen.filled) == (OrderStatus.ACCEPTED, 0)
        finally:
            await venue.close()
