"""The Kraken venue reads every fill of an order, however many: QueryTrades in batches (ccxt
sends a trailing empty batch when the trade ids fill its batches of 20 exactly) and the order's
own trade ids when polling (TradesHistory answers the newest 50 trades of the account only)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from kraken_support import Reports, carol_venue
from tradeguard.clock import Clock
from tradeguard.model import OrderIntent, OrderStatus, OrderType, Side
from tradeguard.model.enums import TimeInForce
from tradeguard.model.order import Order
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.kraken.testing import CAROL_KEY, CAROL_SECRET, seeded_kraken
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.ccxt_clients import ccxt_client_factory
from tradeguard.venues.ccxt_kraken import KrakenCcxtVenue

D = Decimal
PIECE = D("0.0001")


@pytest.fixture
async def venue(kx: KrakenSandbox) -> AsyncIterator[KrakenCcxtVenue]:
    async with carol_venue(kx) as v:
        yield v


def _buy(cid: str, pieces: int) -> Order:
    intent = OrderIntent(
        strategy_id="s1", venue="kraken", symbol="BTC/USD", side=Side.BUY,
        amount=PIECE * pieces, type=OrderType.LIMIT, price=D("50000"),
        time_in_force=TimeInForce.GTC,
    )  # fmt: skip
    return Order.from_intent(intent, cid, Clock().now_ms())


@pytest.mark.parametrize("pieces", [19, 20, 40])
async def test_every_fill_of_an_order_is_read_whatever_its_count(
    kx: KrakenSandbox, venue: KrakenCcxtVenue, pieces: int
) -> None:
    report = await venue.submit(_buy("tgmany-1", pieces))
    for _ in range(pieces):
        kx.trade_through("BTC/USD", "SELL", "50000", str(PIECE))
    fills = await venue.fetch_order_fills("tgmany-1", report.venue_order_id, "BTC/USD")
    assert len({f.trade_id for f in fills}) == pieces
    assert sum((f.amount for f in fills), D(0)) == PIECE * pieces


async def test_polling_reports_every_fill_of_an_order_with_more_than_a_page_of_trades(
    kx: KrakenSandbox, venue: KrakenCcxtVenue
) -> None:
    listener = Reports()
    venue.set_listener(listener)  # type: ignore[arg-type]
    venue.order_poll_s = 0.05
    report = await venue.submit(_buy("tgpage-1", 60))
    assert report.status is OrderStatus.ACCEPTED
    for _ in range(60):  # no await in between: the poller sees the order filled in 60 trades
        kx.trade_through("BTC/USD", "SELL", "50000", str(PIECE))
    await eventually(
        lambda: any(r.status is OrderStatus.FILLED for r in listener.reports), timeout_s=30
    )
    mine = {f.trade_id for f in listener.fills if f.client_order_id == "tgpage-1"}
    assert len(mine) == 60


async def test_polling_goes_on_after_an_answer_it_cannot_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tradeguard.sandbox.kraken.private import KrakenPrivate

    answered = KrakenPrivate.balance_ex
    calls: list[str] = []

    def garbled_once(self: KrakenPrivate, account: str, fields: dict[str, str]) -> object:
        calls.append(account)
        if len(calls) == 1:  # a balance that is not a number (ccxt raises ValueError on it)
            return {"ZUSD": {"balance": "abc", "hold_trade": "0"}}
        return answered(self, account, fields)

    monkeypatch.setattr(KrakenPrivate, "balance_ex", garbled_once)
    async with seeded_kraken() as kx:
        factory = ccxt_client_factory(
            "kraken", {"apiKey": CAROL_KEY, "secret": CAROL_SECRET}, rest_url=kx.base_url
        )
        v = KrakenCcxtVenue("kraken", factory, Clock(), stream_user_data=False)
        listener = Reports()
        v.set_listener(listener)  # type: ignore[arg-type]
        v.order_poll_s = 0.05
        await v.connect()
        try:
            await v.submit(_buy("tggarble-1", 20))
            await eventually(lambda: len(calls) >= 2, timeout_s=30)  # polled past the garble
            kx.trade_through("BTC/USD", "SELL", "50000", "0.002")
            await eventually(lambda: bool(listener.fills), timeout_s=30)
            assert [f.client_order_id for f in listener.fills] == ["tggarble-1"]
        finally:
            await v.close()


async def test_an_order_resting_from_before_a_restart_is_polled_too(
    kx: KrakenSandbox, venue: KrakenCcxtVenue
) -> None:
    report = await venue.submit(_buy("tgkept-1", 20))
    factory = ccxt_client_factory(
        "kraken", {"apiKey": CAROL_KEY, "secret": CAROL_SECRET}, rest_url=kx.base_url
    )
    fresh = KrakenCcxtVenue("kraken", factory, Clock(), stream_user_data=False)  # restarted
    listener = Reports()
    fresh.set_listener(listener)  # type: ignore[arg-type]
    fresh.order_poll_s = 0.05
    await fresh.connect()
    try:
        # start-up reconciliation lists the open orders and finds ours still resting
        [listed] = await fresh.fetch_open_orders()
        assert listed.venue_order_id == report.venue_order_id
        kx.trade_through("BTC/USD", "SELL", "50000", "0.001")
        await eventually(lambda: bool(listener.fills), timeout_s=30)
        assert [(f.client_order_id, f.amount) for f in listener.fills] == [("tgkept-1", D("0.001"))]
    finally:
        await fresh.close()


async def test_polling_asks_for_an_orders_trades_once(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    async with seeded_kraken(SandboxConfig(request_log_path=log)) as kx:
        factory = ccxt_client_factory(
            "kraken", {"apiKey": CAROL_KEY, "secret": CAROL_SECRET}, rest_url=kx.base_url
        )
        v = KrakenCcxtVenue("kraken", factory, Clock(), stream_user_data=False)
        listener = Reports()
        v.set_listener(listener)  # type: ignore[arg-type]
        v.order_poll_s = 0.05
        await v.connect()

        def calls(path: str) -> int:
            return sum(1 for line in log.read_text().splitlines() if f'"{path}"' in line)

        try:
            await v.submit(_buy("tgonce-1", 60))
            for _ in range(40):  # 40 of its 60 pieces: it stays open and polled
                kx.trade_through("BTC/USD", "SELL", "50000", str(PIECE))
            await eventually(lambda: len({f.trade_id for f in listener.fills}) == 40, 30)
            asked = calls("/0/private/QueryTrades")
            polls = calls("/0/private/OpenOrders")
            await eventually(lambda: calls("/0/private/OpenOrders") >= polls + 5, 30)
            assert calls("/0/private/QueryTrades") == asked  # nothing new: no trades asked
            kx.trade_through("BTC/USD", "SELL", "50000", str(PIECE))
            await eventually(lambda: len({f.trade_id for f in listener.fills}) == 41, 30)
        finally:
            await v.close()


async def test_an_accepted_order_whose_follow_up_answer_is_unreadable_stays_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # AddOrder accepted it; the trades queried right after come back with a price that is not
    # a number: the order was sent all the same, and is reported accepted, not an error.
    from tradeguard.sandbox.kraken.private import KrakenPrivate

    answered = KrakenPrivate.query_trades

    def garbled(self: KrakenPrivate, account: str, fields: dict[str, str]) -> object:
        rows: dict[str, dict[str, object]] = answered(self, account, fields)
        return {tid: {**row, "price": "abc"} for tid, row in rows.items()}

    monkeypatch.setattr(KrakenPrivate, "query_trades", garbled)
    async with seeded_kraken() as kx:
        factory = ccxt_client_factory(
            "kraken", {"apiKey": CAROL_KEY, "secret": CAROL_SECRET}, rest_url=kx.base_url
        )
        v = KrakenCcxtVenue("kraken", factory, Clock(), stream_user_data=False)
        listener = Reports()
        v.set_listener(listener)  # type: ignore[arg-type]
        await v.connect()
        try:
            intent = OrderIntent(
                strategy_id="s1", venue="kraken", symbol="BTC/USD", side=Side.BUY,
                amount=D("0.002"), type=OrderType.LIMIT, price=D("50010"),
                time_in_force=TimeInForce.IOC,
            )  # fmt: skip
            report = await v.submit(Order.from_intent(intent, "tgunread-1", Clock().now_ms()))
            assert report.status is OrderStatus.ACCEPTED and report.venue_order_id
            assert report.client_order_id == "tgunread-1" and listener.fills == []
        finally:
            await v.close()
