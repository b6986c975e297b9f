"""A catch-up books each open order's fills from that order's own trades (Binance myTrades with
`orderId`, weight 5), not from the symbol's history since the order was made: with the latest
page full, that read walked the history day by day from the order's creation (weight 20 each)
and paged through every trade of the symbol after it. Orders that filled while the stream was
down (no longer open) still have their fills found. Requests are counted by the sandbox's log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from fill_sink import Reports
from test_ccxt_support import SYMBOL, make_venue
from tradeguard.model.enums import OrderStatus
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.ratelimit import request_weight
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, seeded_exchange
from tradeguard.venues.ccxt_venue import CcxtVenue

D = Decimal
DAY = 86_400_000
TRADES = "/api/v3/myTrades"


@pytest.fixture
def request_log(tmp_path: Path) -> Path:
    return tmp_path / "requests.jsonl"


@pytest.fixture
async def ex(request_log: Path) -> AsyncIterator[SandboxExchange]:
    async with seeded_exchange(SandboxConfig(request_log_path=request_log)) as sandbox:
        yield sandbox


@pytest.fixture
async def venue(ex: SandboxExchange) -> AsyncIterator[CcxtVenue]:
    v = make_venue(ex, stream_user_data=False)
    await v.connect()
    try:
        yield v
    finally:
        await v.close()


def _trade_reads(log: Path) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [r["params"] for r in rows if r["method"] == "GET" and r["path"] == TRADES]


def _rest(ex: SandboxExchange, venue: CcxtVenue, cid: str, price: str, at_ms: int) -> None:
    """An order of ours resting since `at_ms`, as the venue knows it from before the drop."""
    account = ex.auth.keys[ALICE_KEY].account_id
    ex.engine.place(
        account, "BTCUSDT", "BUY", "LIMIT", at_ms, qty=D("0.003"), price=D(price),
        time_in_force="GTC", client_order_id=cid,
    )  # fmt: skip
    venue._open[cid] = (SYMBOL, at_ms)


async def test_a_catch_up_reads_each_open_order_s_fills_by_its_id(
    ex: SandboxExchange, venue: CcxtVenue, request_log: Path
) -> None:
    now = ex.now_ms()
    ex.set_book("BTCUSDT", bids=[], asks=[("50001", "100")])
    _rest(ex, venue, "tgcost-rest", "49000", now - 4 * DAY)
    _rest(ex, venue, "tgcost-done", "49500", now - 4 * DAY)
    ex.trade_through(SYMBOL, "SELL", "49500", "0.003", at_ms=now - 2 * DAY)  # done: whole
    ex.trade_through(SYMBOL, "SELL", "49000", "0.001", at_ms=now - 2 * DAY + 5)  # rest: part
    account = ex.auth.keys[ALICE_KEY].account_id
    for _ in range(1001):  # the symbol's latest page is full of other trades
        ex.engine.place(account, "BTCUSDT", "BUY", "MARKET", now, qty=D("0.001"))
    listener = Reports()
    venue.set_listener(listener)  # type: ignore[arg-type]
    before = len(_trade_reads(request_log))
    assert await venue._catch_up() is True
    reads = _trade_reads(request_log)[before:]
    weight = sum(request_weight("GET", TRADES, q) for q in reads)
    fills: dict[str, Decimal] = {}
    for f in listener.fills:
        fills[f.client_order_id] = fills.get(f.client_order_id, D(0)) + f.amount
    assert fills == {"tgcost-rest": D("0.001"), "tgcost-done": D("0.003")}
    ends = {r.client_order_id: r.status for r in listener.reports}
    assert ends == {
        "tgcost-rest": OrderStatus.PARTIALLY_FILLED, "tgcost-done": OrderStatus.FILLED,
    }  # fmt: skip
    assert "tgcost-done" not in venue._open
    # one read per order, by its id (the symbol's history cost 4 reads each, weight 80)
    assert (len(reads), weight) == (2, 10)
    assert all("orderId" in q for q in reads)
