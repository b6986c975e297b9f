"""Balance sync: venue balances polled from the sandbox, stored, compared and corrected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from test_ccxt_support import make_venue
from tradeguard.bus import EventBus
from tradeguard.clock import Clock
from tradeguard.execution.balance_sync import BalanceSync
from tradeguard.execution.ledger_audit import (
    record_start_balances,
    stored_start_balances,
    venue_ledger,
)
from tradeguard.model import Event, EventKind
from tradeguard.node.cash_flows import flow_kind
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, BOB_KEY, BOB_SECRET
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from tradeguard.venues.ccxt_venue import CcxtVenue


@pytest.fixture
async def venues(ex: SandboxExchange) -> AsyncIterator[dict[str, CcxtVenue]]:
    out = {
        "alice": make_venue(ex, name="alice", stream_user_data=False),
        "bob": make_venue(ex, BOB_KEY, BOB_SECRET, name="bob", stream_user_data=False),
    }
    yield out
    for v in out.values():
        await v.close()


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    db = Database(f"sqlite:///{tmp_path / 'tg.db'}")
    db.migrate()
    return Storage(db)


def _sync(
    venues: dict[str, CcxtVenue], storage: Storage, portfolio: Portfolio, events: list[Event]
) -> BalanceSync:
    bus = EventBus()
    bus.subscribe(events.append, EventKind.BALANCE_DISCREPANCY)
    return BalanceSync(
        venues, portfolio, storage, bus, Clock(), tolerance_pct=Decimal("0.1"),
        tolerance_abs=Decimal("0.01"),
    )  # fmt: skip


async def test_discrepancy_is_recorded_announced_and_ledger_set_to_venue(
    venues: dict[str, CcxtVenue], storage: Storage
) -> None:
    portfolio = Portfolio("USDT")
    portfolio.mark("BTC/USDT", Decimal(50000))
    portfolio.book("alice").set("USDT", Decimal(90000))
    portfolio.book("alice").set("BTC", Decimal(1))
    events: list[Event] = []
    found = await _sync(venues, storage, portfolio, events).sync_once("alice")
    assert [(d.asset, d.ledger_total, d.venue_total) for d in found] == [
        ("USDT", Decimal(90000), Decimal(100000))
    ]
    [adj] = storage.load_balance_adjustments("alice")
    assert (adj["asset"], adj["difference"]) == ("USDT", Decimal(10000))
    [event] = events
    assert event.severity == "warning"
    assert Decimal(event.data["difference"]) == 10000
    assert portfolio.book("alice").total("USDT") == Decimal(100000)
    stored = {r["asset"]: r for r in storage.load_balance_rows("alice")}
    assert stored["BTC"]["usd_value"] == Decimal(50000)
    assert stored["USDT"]["usd_value"] == Decimal(100000)


async def test_difference_within_tolerance_is_not_a_discrepancy(
    venues: dict[str, CcxtVenue], storage: Storage
) -> None:
    portfolio = Portfolio("USDT")
    portfolio.book("alice").set("USDT", Decimal("99999.995"))
    portfolio.book("alice").set("BTC", Decimal(1))
    events: list[Event] = []
    assert await _sync(venues, storage, portfolio, events).sync_once("alice") == []
    assert events == []
    # recorded all the same (the ledger equals its fills plus its adjustments), as no cash flow
    [adj] = storage.load_balance_adjustments("alice")
    assert (adj["asset"], adj["difference"]) == ("USDT", Decimal("0.005"))
    assert flow_kind(adj["reason"]) == ""
    assert portfolio.book("alice").total("USDT") == Decimal(100000)


async def test_money_gone_within_the_tolerance_keeps_the_ledger_equal_to_its_fills(
    ex: SandboxExchange, venues: dict[str, CcxtVenue], storage: Storage
) -> None:
    # Walked: 50 USDT withdrawn from a 100,000 USDT account while the node ran, inside the
    # default 0.1 % tolerance. The sync took the venue's figure and recorded nothing, so the
    # ledger no longer equalled start + fills - fees + adjustments: `doctor` said MISMATCH -50
    # and the next start halted trading, calling it a withdrawal made while the node was down.
    portfolio = Portfolio("USDT")
    opening = await venues["alice"].fetch_balances()
    portfolio.set_balances("alice", opening)
    with storage.transaction():
        record_start_balances(storage, "alice", {b.asset: b.total for b in opening})
    ex.engine.accounts[ex.account_id(ALICE_KEY)].bal("USDT").free -= Decimal(50)
    events: list[Event] = []
    assert await _sync(venues, storage, portfolio, events).sync_once("alice") == []
    assert portfolio.book("alice").total("USDT") == Decimal(99950)
    moved, _ = venue_ledger(storage, "alice")
    start = stored_start_balances(storage)["alice"]
    assert start["USDT"] + moved["USDT"] == Decimal(99950)


async def test_money_moved_within_the_tolerance_is_announced_apart_from_dust(
    ex: SandboxExchange, venues: dict[str, CcxtVenue], storage: Storage
) -> None:
    # 50 USDT withdrawn inside the 0.1 % tolerance counts as a trading loss: it was booked
    # without a word, so nothing told it from a fill's rounding nor named `tradeguard transfer`
    portfolio = Portfolio("USDT")
    portfolio.mark("BTC/USDT", Decimal(50000))
    portfolio.set_balances("alice", await venues["alice"].fetch_balances())
    ex.engine.accounts[ex.account_id(ALICE_KEY)].bal("USDT").free -= Decimal(50)
    ex.engine.accounts[ex.account_id(ALICE_KEY)].bal("BTC").free -= Decimal("0.000000004")
    sync = _sync(venues, storage, portfolio, [])
    seen: list[Event] = []
    sync.bus.subscribe(seen.append, "balance.within_tolerance")
    assert await sync.sync_once("alice") == []
    [event] = seen  # the BTC dust (within the absolute tolerance) is no news
    assert (event.severity, event.data["asset"]) == ("info", "USDT")
    assert Decimal(event.data["difference"]) == -50
    assert Decimal(event.data["value"]) == -50  # in the valuation asset
    assert "tradeguard transfer" in event.data["hint"]


async def test_asset_gone_from_the_venue_is_adjusted_to_zero(
    venues: dict[str, CcxtVenue], storage: Storage
) -> None:
    portfolio = Portfolio("USDT")
    portfolio.book("alice").set("ETH", Decimal(2))
    events: list[Event] = []
    found = await _sync(venues, storage, portfolio, events).sync_once("alice")
    assert ("ETH", Decimal(0)) in [(d.asset, d.venue_total) for d in found]
    assert portfolio.book("alice").total("ETH") == 0


async def test_venue_with_orders_in_flight_is_skipped(
    venues: dict[str, CcxtVenue], storage: Storage
) -> None:
    portfolio = Portfolio("USDT")
    portfolio.book("alice").set("USDT", Decimal(1))
    sync = _sync(venues, storage, portfolio, [])
    sync.in_flight = lambda venue: venue == "alice"
    await sync.sync_once()
    assert sync.skipped == ["alice"]
    assert portfolio.book("alice").total("USDT") == Decimal(1)
    assert portfolio.book("bob").total("USDT") == Decimal(100000)


async def test_skipped_venue_says_which_orders_it_waits_for(
    venues: dict[str, CcxtVenue], storage: Storage
) -> None:
    portfolio = Portfolio("USDT")
    portfolio.book("alice").set("USDT", Decimal(1))
    sync = _sync(venues, storage, portfolio, [])
    sync.in_flight = lambda venue: (
        "order(s) not finished: c1 (accepted)" if venue == "alice" else ""
    )
    found = await sync.sync_once()
    assert sync.waiting == {"alice": "order(s) not finished: c1 (accepted)"}
    assert "alice" not in {d.venue for d in found} and "bob" in {d.venue for d in found}
    assert storage.load_balance_adjustments("alice") == []
    assert portfolio.book("alice").total("USDT") == Decimal(1)


async def test_aggregate_sums_assets_across_venues_in_usd(
    venues: dict[str, CcxtVenue], storage: Storage
) -> None:
    portfolio = Portfolio("USDT")
    portfolio.mark("BTC/USDT", Decimal(50000))
    sync = _sync(venues, storage, portfolio, [])
    await sync.sync_once()
    view = sync.aggregate()
    assert view["BTC"].total == Decimal(2)
    assert view["BTC"].usd_value == Decimal(100000)
    assert view["BTC"].by_venue == {"alice": Decimal(1), "bob": Decimal(1)}
    assert view["USDT"].usd_value == Decimal(200000)
