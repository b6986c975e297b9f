"""The balances the paper venue pushes to its listener after each order and fill: what each push
says stays what it said, whatever the venue does next, and an asset that did not move is pushed
as the same copy again."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tradeguard.clock import SimulatedClock
from tradeguard.model.balance import Balance
from tradeguard.model.enums import LiquiditySide, OrderType, Side
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Candle
from tradeguard.model.order import Order
from tradeguard.model.reports import OrderReport
from tradeguard.venues.fill_model import FillConfig
from tradeguard.venues.paper import PaperVenue

SPOT = Instrument(
    venue="paper", symbol="BTC/USDT", base="BTC", quote="USDT", price_tick=D("0.01"),
    amount_step=D("0.0001"), min_notional=D("5"), maker_fee=D("0.001"), taker_fee=D("0.001"),
)  # fmt: skip
MIN = 60_000


class Pushes:
    """Keeps every pushed list and, beside it, the figures it held when it arrived."""

    def __init__(self) -> None:
        self.lists: list[list[Balance]] = []
        self.seen: list[dict[str, tuple[D, D]]] = []

    def on_order_report(self, report: OrderReport) -> None:
        pass

    def on_fill(self, fill: Fill) -> None:
        pass

    def on_balances(self, venue: str, balances: list[Balance]) -> None:
        self.lists.append(balances)
        self.seen.append({b.asset: (b.free, b.locked) for b in balances})


def candle(i: int, price: str) -> Candle:
    p = D(price)
    return Candle("BTC/USDT", i * MIN, p, p, p, p, D("100"))


async def test_a_pushed_balance_never_changes_after_later_orders_and_fills() -> None:
    clock = SimulatedClock(0)
    v = PaperVenue(
        "paper", {"BTC/USDT": SPOT}, {"USDT": D(10_000), "BTC": D(0), "ETH": D(3)}, clock,
        FillConfig(slippage_bps=D(0), impact_bps_per_pct=D(0)),
    )  # fmt: skip
    rec = Pushes()
    v.set_listener(rec)
    v.on_candle(candle(0, "100"))
    for i in range(1, 5):
        clock.advance_to(i * MIN)
        side = Side.BUY if i % 2 else Side.SELL
        await v.submit(Order(f"o{i}", "s", "paper", "BTC/USDT", side, OrderType.LIMIT, D("1"),
                             price=D("100")))  # fmt: skip
        v.on_candle(candle(i, "99" if side is Side.BUY else "101"))
    assert len(rec.lists) >= 8
    # every list still says what it said when it arrived
    for pushed, seen in zip(rec.lists, rec.seen, strict=True):
        assert {b.asset: (b.free, b.locked) for b in pushed} == seen
    # the last push is the venue's account now, and none of it is the venue's own object
    assert rec.seen[-1] == {b.asset: (b.free, b.locked) for b in v.balances()}
    own = {id(b) for b in v._balances.values()}
    assert not any(id(b) in own for pushed in rec.lists for b in pushed)
    # ETH never moved: one copy, pushed every time; USDT moved with every order
    assert len({id(b) for pushed in rec.lists for b in pushed if b.asset == "ETH"}) == 1
    assert len({id(b) for pushed in rec.lists for b in pushed if b.asset == "USDT"}) > 4


@pytest.mark.parametrize(
    ("symbol", "base", "quote"),
    [
        ("BTC/USDT", "BTC", "USDT"),
        ("BTC/USDT:USDT", "BTC", "USDT"),  # a perpetual: the settle asset is not the quote
        ("0xTOKEN", "0xTOKEN", ""),  # an outcome token: no pair
        ("A/B/C", "A", "B/C"),
        ("/X", "", "X"),
        ("", "", ""),
    ],
)
def test_a_fill_names_its_base_and_quote_from_its_symbol(
    symbol: str, base: str, quote: str
) -> None:
    f = Fill("v", symbol, "c", "o", "t", Side.BUY, D(1), D(1), D(0), "X", LiquiditySide.TAKER, 0)
    assert (f.base, f.quote) == (base, quote)
    assert (f.base, f.quote) == (base, quote)  # read again: the same answer
