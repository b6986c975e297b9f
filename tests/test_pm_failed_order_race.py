"""A Polymarket trade read FAILED before the fill of its match was booked (the match's fill
still on its way to the ledger when the reconciliation listed the trade), and the trades
flagged kept within bounds. The local CLOB, a real node."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pm_merge_support import buy, demo_clob, pm_config, running
from test_pm_node_crash import POLY_YES
from tradeguard.execution.failed_fills import (
    FLAG_KEEP_MS,
    FLAGGED_BEFORE_KEY,
    FLAGGED_KEY,
    flag_failed_fills,
)
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.fill import Fill
from tradeguard.model.order import OrderIntent

D = Decimal


class _Behind:
    """The node's own listener with its fills held back (booked when `release` says)."""

    def __init__(self, listener: Any) -> None:
        self.listener, self.fills = listener, []

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    def release(self) -> None:
        for fill in self.fills:
            self.listener.on_fill(fill)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.listener, name)


async def test_a_trade_read_failed_before_its_fill_was_booked_is_flagged_once_booked(
    tmp_path, monkeypatch
) -> None:
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            venue = node.venues["polymarket"]
            behind = _Behind(venue._listener)
            venue._listener = behind  # the match's fill on its way to the ledger
            quote = await venue.fetch_quote(POLY_YES)
            await node.on_quote(quote)
            await node.submit(OrderIntent(
                "s1", "polymarket", POLY_YES, Side.BUY, D(10), OrderType.LIMIT, quote.ask
            ))  # fmt: skip
            fill = behind.fills[0]  # told by the submit and the channel: one trade
            assert {f.trade_id for f in behind.fills} == {fill.trade_id}
            assert node.storage.load_fills(venue="polymarket") == []
            server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")
            assert await venue.fetch_fills(POLY_YES) == []  # read FAILED first
            assert flag_failed_fills(node, "polymarket", venue) == []  # nothing booked yet
            assert set(venue.failed_fills) == {fill.trade_id}  # looked for again, not dropped
            venue._listener = behind.listener
            behind.release()  # booked now, as the match was streamed
            assert node.storage.load_fills(venue="polymarket") == [fill]
            [row] = flag_failed_fills(node, "polymarket", venue)
            assert row["trade_id"] == fill.trade_id and venue.failed_fills == {}
            again = await reconcile_and_gate(node)
            assert again.fills_failed == []  # told once
            assert node.portfolio.position("polymarket", POLY_YES, "s1").quantity == 0


async def test_the_trades_flagged_are_let_go_a_week_after_their_fill(tmp_path, monkeypatch) -> None:
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            now = node.clock.now_ms()
            old, recent = now - FLAG_KEEP_MS - 1000, now - 86_400_000
            node.storage.kv_set(FLAGGED_KEY, {"polymarket": {"t-old": old, "t-day": recent}})
            await buy(node, POLY_YES)
            (fill,) = node.storage.load_fills(venue="polymarket")
            server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")
            report = await reconcile_and_gate(node)
            assert [f["trade_id"] for f in report.fills_failed] == [fill.trade_id]
            kept = node.storage.kv_get(FLAGGED_KEY)["polymarket"]
            assert kept == {"t-day": recent, fill.trade_id: fill.ts}  # the week-old one let go
            assert node.storage.kv_get(FLAGGED_BEFORE_KEY) == {"polymarket": old}


async def test_ids_stored_before_times_were_kept_are_dated_at_the_next_flag(
    tmp_path, monkeypatch
) -> None:
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            node.storage.kv_set(FLAGGED_KEY, {"polymarket": ["t-listed"]})
            await buy(node, POLY_YES)
            (fill,) = node.storage.load_fills(venue="polymarket")
            server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")
            before = node.clock.now_ms()
            report = await reconcile_and_gate(node)
            assert [f["trade_id"] for f in report.fills_failed] == [fill.trade_id]
            kept = node.storage.kv_get(FLAGGED_KEY)["polymarket"]
            assert set(kept) == {"t-listed", fill.trade_id} and kept["t-listed"] >= before


async def test_a_failed_trade_never_booked_is_let_go_past_the_listing_window(
    tmp_path, monkeypatch
) -> None:
    """A trade read FAILED whose fill was never booked is looked for again only while within
    the listing window (at least PENDING_MIN_MS): the venue's record does not grow."""
    from tradeguard.execution.failed_fills import PENDING_MIN_MS
    from tradeguard.model.enums import LiquiditySide

    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            venue = node.venues["polymarket"]
            now = node.clock.now_ms()
            window = max(int(cfg.reconcile.fills_lookback_s * 1000), PENDING_MIN_MS)

            def failed(trade_id: str, ts: int) -> Fill:
                return Fill("polymarket", POLY_YES, "", "h", trade_id, Side.BUY, D("0.5"),
                            D(1), D(0), "PUSD", LiquiditySide.TAKER, ts)  # fmt: skip

            venue.failed_fills.update({
                "t-old": failed("t-old", now - window - 60_000),
                "t-new": failed("t-new", now - 60_000),
            })  # fmt: skip
            assert flag_failed_fills(node, "polymarket", venue) == []
            assert set(venue.failed_fills) == {"t-new"}


async def test_a_trade_failing_after_the_let_go_mark_is_still_told(tmp_path, monkeypatch) -> None:
    """Before, a fill no newer than the mark of the ids let go was skipped as told already,
    though its trade was never told: a trade FAILED a week after its match raised no alert.
    It is told now (a critical `fill.failed` event, in the report), its position left for a
    person (whether it was handled before its id was let go cannot be known)."""
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            await buy(node, POLY_YES)
            (fill,) = node.storage.load_fills(venue="polymarket")
            node.storage.kv_set(FLAGGED_BEFORE_KEY, {"polymarket": fill.ts})  # ids let go since
            server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")
            report = await reconcile_and_gate(node)
            assert [f["trade_id"] for f in report.fills_failed] == [fill.trade_id]
            told = [e for e in node.storage.load_events(limit=500) if e.kind == "fill.failed"]
            assert [e.data["trade_id"] for e in told] == [fill.trade_id]
            assert told[0].severity == "critical" and "let go" in told[0].data["reason"]
            position = node.portfolio.position("polymarket", POLY_YES, "s1").quantity
            assert position == fill.amount  # not reversed: it may have been, before
            assert (await reconcile_and_gate(node)).fills_failed == []  # told once


async def test_a_trade_told_past_the_let_go_mark_is_not_told_again_at_the_next_listing(
    tmp_path, monkeypatch
) -> None:
    """A trade whose fill is older than the mark of the ids let go (FLAG_KEEP_MS) is told
    once, however many listings read it FAILED again. Before, its id was let go in the very
    commit that told it (kept by its fill's time, already past FLAG_KEEP_MS): every listing
    reading the row told it again, a critical alert and a report line each time."""
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            venue = node.venues["polymarket"]
            await buy(node, POLY_YES)
            (fill,) = node.storage.load_fills(venue="polymarket")
            server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")
            node.storage.kv_set(FLAGGED_BEFORE_KEY, {"polymarket": fill.ts})  # ids let go since
            later = node.clock.now_ms() + FLAG_KEEP_MS + 60_000  # the match a week old and more
            monkeypatch.setattr(node.clock, "now_ms", lambda: later)
            told = []
            for _ in range(3):  # each listing reads the row FAILED
                assert await venue.fetch_fills(POLY_YES) == []
                told += [f["trade_id"] for f in flag_failed_fills(node, "polymarket", venue)]
            assert told == [fill.trade_id]
            events = [e for e in node.storage.load_events(limit=500) if e.kind == "fill.failed"]
            assert [e.data["trade_id"] for e in events] == [fill.trade_id]
