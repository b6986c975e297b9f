"""Kalshi and Polymarket balances follow fills: a balance read after each fill reaches the
listener (stored like a ccxt venue's balance events) without waiting for reconciliation."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from pm_support import TICKER, rsa_pem, seeded_kalshi
from test_polymarket_venue import maker_and_taker
from tradeguard.clock import Clock
from tradeguard.model.balance import Balance
from tradeguard.model.enums import OrderType, Side, TimeInForce
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.model.fill import Fill
from tradeguard.model.order import Order
from tradeguard.sandbox.kalshi.server import KalshiExchange
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.fill_balances import BalanceReader
from tradeguard.venues.kalshi.venue import KalshiVenue

D = Decimal
K_YES, K_NO = f"{TICKER}:YES/USD", f"{TICKER}:NO/USD"
P_YES, P_NO = "fed-dec:YES/PUSD", "fed-dec:NO/PUSD"


class Recorder:
    def __init__(self) -> None:
        self.fills: list[Fill] = []
        self.balances: list[dict[str, Decimal]] = []

    def on_order_report(self, report: object) -> None: ...

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    def on_balances(self, venue: str, balances: list[Balance]) -> None:
        self.balances.append({b.asset: b.total for b in balances})


def _order(cid: str, venue: str, symbol: str, amount: str, price: str) -> Order:
    return Order(
        cid, "s1", venue, symbol, Side.BUY, OrderType.LIMIT, D(amount), D(price), TimeInForce.GTC,
        created_ts=1_700_000_000_000,
    )  # fmt: skip


async def test_kalshi_balances_follow_a_taker_fill_and_a_resting_fill_from_the_fill_channel():
    async with KalshiExchange() as ex:
        key_id, pem = seeded_kalshi(ex)
        venue = KalshiVenue("kalshi", ex.rest_url, key_id, pem, Clock(), ex.ws_url, True)
        rec = Recorder()
        venue.set_listener(rec)
        await venue.connect()
        other_pem, other_key = rsa_pem()
        other = KalshiVenue("kalshi2", ex.rest_url, ex.add_account(other_key.public_key(),
                            D("100")), other_pem, Clock())  # fmt: skip
        await other.connect()
        try:
            await venue.submit(_order("tg1-1", "kalshi", K_YES, "100", "0.50"))  # takes 0.47
            await venue.balance_reader.idle()
            assert rec.balances[-1] == {"USD": D(1000) - D(47) - D("1.75"), f"{TICKER}:YES": 100}

            await venue.submit(_order("tg1-2", "kalshi", K_YES, "3", "0.46"))  # rests
            await other.submit(_order("tg2-1", "kalshi2", K_NO, "3", "0.54"))
            await eventually(lambda: "tg1-2" in {f.client_order_id for f in rec.fills})
            await eventually(lambda: rec.balances[-1].get(f"{TICKER}:YES") == 103)
            assert rec.balances[-1]["USD"] == D(1000) - D(47) - D("1.75") - D("1.38")
        finally:
            await other.close()
            await venue.close()


async def test_polymarket_balances_follow_a_taker_fill_and_a_user_channel_fill():
    async with PolymarketExchange() as ex:
        rec = Recorder()
        maker, taker = await maker_and_taker(ex, rec)
        try:
            await maker.submit(_order("tg1-1", "polymarket", P_YES, "10", "0.50"))  # takes 0.47
            await maker.balance_reader.idle()
            cash = D(1000) - D("4.7") - D("0.04982")
            assert rec.balances[-1] == {"PUSD": cash, "fed-dec:YES": 10}

            await maker.submit(_order("tg1-2", "polymarket", P_YES, "10", "0.46"))  # rests
            await taker.submit(_order("tg2-1", "pm2", P_NO, "10", "0.54"))
            await eventually(lambda: "tg1-2" in {f.client_order_id for f in rec.fills})
            await eventually(lambda: rec.balances[-1].get("fed-dec:YES") == 20)
            assert rec.balances[-1]["PUSD"] == cash - D("4.6")
        finally:
            await maker.close()
            await taker.close()


async def test_fills_during_a_read_start_one_more_read_and_a_failed_read_is_logged() -> None:
    started: list[int] = []
    gate = asyncio.Event()
    delivered: list[list[Balance]] = []

    async def fetch() -> list[Balance]:
        started.append(len(started))
        if len(started) == 3:
            raise AmbiguousVenueError("v", "fetch_balances failed: timeout", "NETWORK")
        await gate.wait()
        return [Balance("v", "USD", D(len(started)))]

    reader = BalanceReader("v", fetch, lambda _v, b: delivered.append(b))
    reader.after_fill()
    await asyncio.sleep(0)
    reader.after_fill()  # both arrive during the first read
    reader.after_fill()
    gate.set()
    await reader.idle()
    assert started == [0, 1] and [b[0].total for b in delivered] == [1, 2]
    reader.after_fill()  # this read fails: nothing delivered, the reader stays usable
    await reader.idle()
    assert len(delivered) == 2 and reader.reads == 2


async def test_a_read_overlapped_by_another_read_is_made_again_not_delivered() -> None:
    cash = [D(10)]
    gate = asyncio.Event()
    delivered: list[Decimal] = []

    async def fetch() -> list[Balance]:
        reader.read_started()
        seen = cash[0]
        await gate.wait()
        reader.read_finished()
        return [Balance("v", "USD", seen)]

    reader = BalanceReader("v", fetch, lambda _v, b: delivered.append(b[0].total))
    reader.after_fill()
    await asyncio.sleep(0)
    # Reconciliation reads (and stores) fresher figures while our read is on its way.
    cash[0] = D(7)
    reconcile = asyncio.create_task(fetch())
    await asyncio.sleep(0)
    gate.set()
    assert (await reconcile)[0].total == D(7)
    await reader.idle()
    # The stale 10 never reaches storage after the fresher 7 (read again once reconciliation's
    # read, under way when ours was delivered, has ended).
    assert D(10) not in delivered and delivered[-1] == D(7)
