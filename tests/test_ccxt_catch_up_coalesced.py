"""Catch-ups of any ccxt venue (each user stream back after a drop asks for one) run one at a
time, on the Binance-compatible sandbox through the real ccxt client: catch-ups asked for
together make one REST round, and one asked for while a round runs gets a round of its own
after it, so nothing that happened before it asked is missed. The rounds are counted by the
sandbox's request log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fill_sink import Reports
from test_ccxt_support import SYMBOL, make_venue
from tradeguard.clock import Clock
from tradeguard.model import OrderIntent, OrderType, Side
from tradeguard.model.enums import OrderStatus, TimeInForce
from tradeguard.model.order import Order
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually, seeded_exchange
from tradeguard.venues.ccxt_venue import CcxtVenue

D = Decimal
BALANCES = "/api/v3/account"  # read once per catch-up round
ORDER = "/api/v3/order"  # GET: one order looked up by client id, once per open order per round


@pytest.fixture
def request_log(tmp_path: Path) -> Path:
    return tmp_path / "requests.jsonl"


@pytest.fixture
async def ex(request_log: Path) -> AsyncIterator[SandboxExchange]:
    async with seeded_exchange(SandboxConfig(request_log_path=request_log)) as sandbox:
        yield sandbox


@pytest.fixture
async def venue(ex: SandboxExchange) -> AsyncIterator[CcxtVenue]:
    # No user streams: every catch-up here is one the test asks for.
    v = make_venue(ex, stream_user_data=False)
    await v.connect()
    try:
        yield v
    finally:
        await v.close()


def served(log: Path, method: str, path: str) -> int:
    """How many `method path` requests the sandbox has answered."""
    if not log.exists():
        return 0
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return sum(1 for r in rows if r["method"] == method and r["path"] == path)


def _buy(cid: str) -> Order:
    intent = OrderIntent(
        strategy_id="s1", venue="sbx", symbol=SYMBOL, side=Side.BUY, amount=D("0.01"),
        type=OrderType.LIMIT, price=D("49500"), time_in_force=TimeInForce.GTC,
    )  # fmt: skip
    return Order.from_intent(intent, cid, Clock().now_ms())


async def test_catch_ups_asked_for_together_make_one_rest_round(
    ex: SandboxExchange, venue: CcxtVenue, request_log: Path
) -> None:
    listener = Reports()
    venue.set_listener(listener)  # type: ignore[arg-type]
    await venue.submit(_buy("tgjoin-1"))
    ex.faults.latency_ms_by_endpoint = {BALANCES: 200}  # the round is in flight a while
    assert await asyncio.gather(*(venue._catch_up() for _ in range(4))) == [True] * 4
    assert served(request_log, "GET", BALANCES) == 1
    assert served(request_log, "GET", ORDER) == 1  # the one open order, looked up once
    assert [r.client_order_id for r in listener.reports] == ["tgjoin-1"]
    # nothing in flight: the next request is a round of its own
    assert await venue._catch_up() is True
    assert served(request_log, "GET", BALANCES) == 2


class HeldAfterAnswer:
    """A ccxt method whose answer, once the exchange has given it, is held at a gate."""

    def __init__(self, client: Any, name: str) -> None:
        self.answered = 0
        self.gate = asyncio.Event()
        self._real = getattr(client, name)
        setattr(client, name, self)

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        answer = await self._real(*args, **kwargs)
        self.answered += 1
        await self.gate.wait()
        return answer


async def test_a_catch_up_asked_for_while_a_round_runs_gets_a_round_after_it(
    ex: SandboxExchange, venue: CcxtVenue, request_log: Path
) -> None:
    listener = Reports()
    venue.set_listener(listener)  # type: ignore[arg-type]
    ex.set_book(SYMBOL, bids=[], asks=[("50001", "1")])  # the house takes only our bid
    await venue.submit(_buy("tglate-1"))
    lookup = HeldAfterAnswer(venue.client, "fetch_order")
    first = asyncio.ensure_future(venue._catch_up())
    await eventually(lambda: lookup.answered == 1, timeout_s=10)  # it saw the order open...
    ex.trade_through(SYMBOL, "SELL", "49500", "0.01")  # ...then it fills
    later = [asyncio.ensure_future(venue._catch_up()) for _ in range(3)]
    await asyncio.sleep(0.05)
    assert served(request_log, "GET", BALANCES) == 1  # none starts while one runs
    lookup.gate.set()
    assert await asyncio.gather(first, *later) == [True] * 4
    assert served(request_log, "GET", BALANCES) == 2  # the three asked meanwhile: one round
    assert served(request_log, "GET", ORDER) == 2
    statuses = [r.status for r in listener.reports if r.client_order_id == "tglate-1"]
    assert statuses == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    assert [(f.client_order_id, f.amount) for f in listener.fills] == [("tglate-1", D("0.01"))]


async def test_close_cancels_the_round_in_flight(ex: SandboxExchange, request_log: Path) -> None:
    venue = make_venue(ex, stream_user_data=False)
    await venue.connect()
    venue.set_listener(Reports())  # type: ignore[arg-type]
    await venue.submit(_buy("tgclose-1"))
    lookup = HeldAfterAnswer(venue.client, "fetch_order")
    pending = asyncio.ensure_future(venue._catch_up())
    await eventually(lambda: lookup.answered == 1, timeout_s=10)
    await asyncio.wait_for(venue.close(), 5)  # the held round does not keep it open
    await asyncio.wait([pending], timeout=5)
    assert pending.cancelled()  # cancelled with the venue, not left waiting


class FailsOnce(Reports):
    """A listener whose first balances after `armed` raise (a full disk under its store)."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False

    def on_balances(self, venue: str, balances: object) -> None:
        if self.armed:
            self.armed = False
            raise OSError("no space left on device")


async def test_a_catch_up_that_raises_does_not_end_the_user_streams(
    ex: SandboxExchange, caplog: pytest.LogCaptureFixture
) -> None:
    venue = make_venue(ex, stream_user_data=True, ws_backoff_s=0.05, ws_backoff_max_s=0.05)
    listener = FailsOnce()
    venue.set_listener(listener)  # type: ignore[arg-type]
    await venue.connect()
    try:
        ex.set_book(SYMBOL, bids=[], asks=[("50001", "1")])  # the house takes only our bid
        await venue.submit(_buy("tgraise-1"))
        await eventually(lambda: f"user:{ex.account_id('alice-key')}" in ex.ws_subscriptions())
        listener.armed = True
        assert ex.disconnect_websockets() >= 1
        await eventually(lambda: venue.reconnects >= 1, timeout_s=15)
        await eventually(lambda: f"user:{ex.account_id('alice-key')}" in ex.ws_subscriptions(), 15)
        ex.trade_through(SYMBOL, "SELL", "49500", "0.01")  # its report sets off the catch-up
        await eventually(lambda: not listener.armed, timeout_s=15)  # the catch-up raised
        ex.set_book(SYMBOL, bids=[], asks=[("50001", "1")])
        await venue.submit(_buy("tgraise-2"))
        ex.trade_through(SYMBOL, "SELL", "49500", "0.01")
        # the streams live on: the later fill arrives by them
        await eventually(lambda: "tgraise-2" in {f.client_order_id for f in listener.fills}, 15)
        assert "no space left on device" in caplog.text
    finally:
        await venue.close()
