"""Balance sync against a venue whose balances answer is hostile: a negative, absurd or
non-numeric figure, an asset gone from the list, a venue down for one pass. The real ccxt
client talks to the sandbox through a loopback proxy that rewrites `GET /api/v3/account`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from rigs import answering
from test_ccxt_support import RIG_TIMEOUT_MS, make_venue
from tradeguard.bus import EventBus
from tradeguard.clock import Clock
from tradeguard.execution.balance_sync import BalanceSync
from tradeguard.model import Event, EventKind
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, BOB_KEY, BOB_SECRET
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from tradeguard.venues.ccxt_clients import ccxt_client_factory
from tradeguard.venues.ccxt_venue import CcxtVenue


class Rewriter:
    """A loopback proxy to the sandbox: `rows` replaces (or, None, drops) an asset's row of the
    account answer; `down` answers every request 503."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.rows: dict[str, dict[str, Any] | None] = {}
        self.down = False
        self.http = aiohttp.ClientSession()

    async def handle(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=503, text="maintenance")
        url = self.target + request.path_qs
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host",)}
        async with self.http.request(request.method, url, data=body, headers=headers) as r:
            data = await r.read()
            status, ctype = r.status, r.headers.get("Content-Type", "application/json")
        if request.path == "/api/v3/account" and status == 200 and self.rows:
            doc = json.loads(data)
            out = []
            for row in doc["balances"]:
                if row["asset"] in self.rows:
                    new = self.rows[row["asset"]]
                    if new is not None:
                        out.append({"asset": row["asset"], **new})
                else:
                    out.append(row)
            doc["balances"] = out
            data = json.dumps(doc).encode()
        return web.Response(status=status, body=data, content_type=ctype.split(";")[0])


Rig = tuple[Rewriter, BalanceSync, Portfolio, list[Event]]


@pytest.fixture
async def rig(ex: SandboxExchange, tmp_path: Path) -> AsyncIterator[Rig]:
    proxy = Rewriter(ex.rest_url.removesuffix("/api/v3"))
    runner, url = await answering(proxy.handle)
    keys = {"apiKey": ALICE_KEY, "secret": ALICE_SECRET}
    factory = ccxt_client_factory(
        "binance", keys, rest_url=url + "/api/v3", ws_url=ex.ws_url, timeout_ms=RIG_TIMEOUT_MS
    )
    hostile = CcxtVenue("alice", factory, Clock(), stream_user_data=False)
    bob = make_venue(ex, BOB_KEY, BOB_SECRET, name="bob", stream_user_data=False)
    venues: dict[str, CcxtVenue] = {"alice": hostile, "bob": bob}
    db = Database(f"sqlite:///{tmp_path / 'tg.db'}")
    db.migrate()
    portfolio = Portfolio("USDT")
    events: list[Event] = []
    bus = EventBus()
    bus.subscribe(events.append, EventKind.BALANCE_DISCREPANCY)
    try:
        for v in venues.values():
            await v.connect()
            portfolio.set_balances(v.name, await v.fetch_balances())
        sync = BalanceSync(venues, portfolio, Storage(db), bus, Clock())
        yield proxy, sync, portfolio, events
    finally:
        for v in venues.values():
            await v.close()
        await proxy.http.close()
        await runner.cleanup()


def _deposit(ex: SandboxExchange, key: str, usdt: int) -> None:
    ex.engine.add_account(ex.account_id(key), {"USDT": Decimal(usdt)})


@pytest.mark.parametrize("figure", ["-5", "1e40", "abc", "NaN", "Infinity"])
async def test_a_hostile_balance_figure_is_refused_and_the_other_venue_still_syncs(
    rig: Rig, ex: SandboxExchange, tmp_path: Path, figure: str
) -> None:
    # A negative or absurd figure was set as the ledger's and booked as an adjustment; a text
    # where a number belongs escaped as a ValueError and ended the pass for every venue.
    proxy, sync, portfolio, events = rig
    proxy.rows = {"USDT": {"free": figure, "locked": "0"}}
    _deposit(ex, ALICE_KEY, 500)
    _deposit(ex, BOB_KEY, 250)
    found = await sync.sync_once()
    assert [(d.venue, d.asset, d.difference) for d in found] == [("bob", "USDT", Decimal(250))]
    assert portfolio.book("alice").total("USDT") == Decimal(100_000)  # left as it was
    assert "its balances could not be read" in sync.waiting["alice"], sync.waiting
    assert sync.storage.load_balance_adjustments("alice") == []
    assert [e.venue for e in events] == ["bob"]
    proxy.rows = {}  # the venue answers sensibly again: the next pass takes its figure
    found = await sync.sync_once()
    assert [(d.venue, d.asset, d.difference) for d in found] == [("alice", "USDT", Decimal(500))]
    assert sync.waiting == {}


async def test_a_refused_figure_is_named_with_its_asset_and_the_limit(
    rig: Rig, ex: SandboxExchange
) -> None:
    proxy, sync, _, _ = rig
    proxy.rows = {"USDT": {"free": "-5.00000000", "locked": "0"}}
    await sync.sync_once()
    why = sync.waiting["alice"]
    assert "USDT free -5.0 is not an amount from 0 to 1000000000000000000" in why, why


async def test_a_venue_down_for_one_pass_is_synced_by_the_next(
    rig: Rig, ex: SandboxExchange
) -> None:
    proxy, sync, portfolio, _ = rig
    proxy.down = True
    _deposit(ex, ALICE_KEY, 500)  # made on the venue side while it is unreachable
    assert await sync.sync_once() == []
    assert "its balances could not be read" in sync.waiting["alice"]
    assert portfolio.book("alice").total("USDT") == Decimal(100_000)
    proxy.down = False
    found = await sync.sync_once()
    assert [(d.venue, d.asset, d.difference) for d in found] == [("alice", "USDT", Decimal(500))]
    assert sync.waiting == {}
    assert len(sync.storage.load_balance_adjustments("alice")) == 1
