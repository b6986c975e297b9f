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


class LaterPushes(Pushes):
    """A listener that writes only the last report before a commit: it takes the copies then."""

    def __init__(self, defer: bool = True) -> None:
        super().__init__()
        self.defer = defer
        self.takes: list[object] = []

    def on_balances_later(self, venue: str, take: object) -> bool:
        if self.defer:
            self.takes.append(take)
        return self.defer


async def _trade(v: PaperVenue, clock: SimulatedClock) -> None:
    v.on_candle(candle(0, "100"))
    for i in range(1, 5):
        clock.advance_to(i * MIN)
        side = Side.BUY if i % 2 else Side.SELL
        await v.submit(Order(f"o{i}", "s", "paper", "BTC/USDT", side, OrderType.MARKET, D("1")))
        v.on_candle(candle(i, "99" if side is Side.BUY else "101"))


def _venue(clock: SimulatedClock) -> PaperVenue:
    return PaperVenue(
        "paper", {"BTC/USDT": SPOT}, {"USDT": D(10_000), "BTC": D(0), "ETH": D(3)}, clock,
        FillConfig(slippage_bps=D(0), impact_bps_per_pct=D(0)),
    )  # fmt: skip


async def test_a_listener_writing_the_last_report_takes_the_copies_when_it_writes() -> None:
    # The same orders pushed eagerly and to a listener that defers: no list is built per push
    # for the deferring one, and what it takes at its write is what the eager one got last.
    eager_clock, later_clock = SimulatedClock(0), SimulatedClock(0)
    eager, later = _venue(eager_clock), _venue(later_clock)
    got, deferred = Pushes(), LaterPushes()
    eager.set_listener(got)
    later.set_listener(deferred)
    await _trade(eager, eager_clock)
    await _trade(later, later_clock)
    assert deferred.lists == [] and len(deferred.takes) == len(got.lists) >= 8
    taken = deferred.takes[-1]()  # type: ignore[operator]
    assert {b.asset: (b.free, b.locked) for b in taken} == got.seen[-1]
    assert {b.asset: (b.free, b.locked) for b in taken} == {
        b.asset: (b.free, b.locked) for b in later.balances()
    }
    own = {id(b) for b in later._balances.values()}
    assert not any(id(b) in own for b in taken)


async def test_a_listener_that_does_not_defer_gets_every_list_at_once() -> None:
    clock = SimulatedClock(0)
    v = _venue(clock)
    rec = LaterPushes(defer=False)
    v.set_listener(rec)
    await _trade(v, clock)
    assert len(rec.lists) >= 8 and rec.takes == []
    assert rec.seen[-1] == {b.asset: (b.free, b.locked) for b in v.balances()}


async def test_an_outcome_venue_pushes_its_lists_at_once_even_to_a_deferring_listener() -> None:
    # Its settlements and nettings change balances without a push of their own: a list taken
    # later would hold them before the venue reported them.
    from tradeguard.model.outcome import Outcome, outcome_instrument
    from tradeguard.venues.outcome_paper import OutcomePaperVenue

    clock = SimulatedClock(1_700_000_000_000)
    inst = outcome_instrument("k", "FED", Outcome.YES, "USD", D("0.01"), D(1), D(1), D("0.07"))
    v = OutcomePaperVenue("k", {inst.symbol: inst}, {"USD": D(100)}, clock, dialect="kalshi")
    rec = LaterPushes()
    v.set_listener(rec)
    await v.submit(
        Order("p1", "s", "k", inst.symbol, Side.BUY, OrderType.LIMIT, D("10"), price=D("0.05"))
    )
    assert rec.takes == [] and rec.lists
    assert rec.seen[-1] == {b.asset: (b.free, b.locked) for b in v.balances()}
