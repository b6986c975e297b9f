"""Paper trading of outcome contracts: honest fills on fed quotes, the venue's own fee model."""

from __future__ import annotations

from decimal import Decimal

from tradeguard.clock import SimulatedClock
from tradeguard.model.enums import OrderStatus, OrderType, Side, TimeInForce
from tradeguard.model.market import Quote
from tradeguard.model.order import Order
from tradeguard.venues.outcome_paper import OutcomePaperVenue, paper_outcome_instruments

D = Decimal


class Recorder:
    def __init__(self) -> None:
        self.fills = []

    def on_order_report(self, report) -> None: ...

    def on_fill(self, fill) -> None:
        self.fills.append(fill)

    def on_balances(self, venue, balances) -> None: ...


def venue_for(dialect: str) -> tuple[OutcomePaperVenue, Recorder, str]:
    clock = SimulatedClock(1_700_000_000_000)
    instruments = paper_outcome_instruments("paper-" + dialect, dialect, ["FED"])
    quote = "USD" if dialect == "kalshi" else "PUSD"
    venue = OutcomePaperVenue(
        "paper-" + dialect, instruments, {quote: D(1000)}, clock, dialect=dialect
    )
    rec = Recorder()
    venue.set_listener(rec)
    symbol = f"FED:YES/{quote}"
    venue.on_quote(Quote(symbol, clock.now_ms(), D("0.44"), D(500), D("0.46"), D(500)))
    return venue, rec, symbol


def order(cid: str, symbol: str, amount: str, price: str) -> Order:
    return Order(cid, "s1", "paper", symbol, Side.BUY, OrderType.LIMIT, D(amount), D(price),
                 TimeInForce.IOC)  # fmt: skip


async def test_kalshi_paper_fill_pays_the_rounded_kalshi_fee():
    venue, rec, symbol = venue_for("kalshi")
    report = await venue.submit(order("p1", symbol, "100", "0.46"))
    assert report.status is OrderStatus.FILLED
    assert [(f.price, f.amount, f.fee) for f in rec.fills] == [(D("0.46"), 100, D("1.74"))]
    balances = {b.asset: b.total for b in await venue.fetch_balances()}
    assert balances == {"USD": D(1000) - D(46) - D("1.74"), "FED:YES": 100}


async def test_polymarket_paper_fill_pays_the_curve_fee_and_refuses_price_one():
    venue, rec, symbol = venue_for("polymarket")
    await venue.submit(order("p1", symbol, "10", "0.46"))
    # 10 * 0.02 * (0.46 * 0.54) ** 1
    assert [(f.price, f.fee) for f in rec.fills] == [(D("0.46"), D("0.049680"))]
    refused = venue.instruments[symbol].violation(D(10), D(1))
    assert refused is not None and refused.code == "PRICE_FILTER"


async def test_a_paper_venue_with_exchange_kalshi_trades_outcomes_through_the_node(tmp_path):
    from tradeguard.config import Config
    from tradeguard.model.order import OrderIntent
    from tradeguard.node import TradingNode

    cfg = Config.model_validate({
        "mode": "paper",
        "node": {"database_url": f"sqlite:///{tmp_path / 'tg.db'}",
                 "kill_sentinel": str(tmp_path / "tg.kill"), "valuation_asset": "USD"},
        "venues": [{
            "name": "kpaper", "kind": "paper", "exchange": "kalshi", "balances": {"USD": "1000"},
            "instruments": [{"symbol": "FED:YES/USD", "price_tick": "0.01", "amount_step": "1",
                             "min_amount": "1", "min_notional": "0"}],
        }],
        "data": [], "strategies": [],
        "risk": {"min_order_notional_usd": "1", "price_band_pct": "10"},
    })  # fmt: skip
    node = TradingNode(cfg)
    await node.start()
    try:
        now = node.clock.now_ms()
        await node.on_quote(Quote("FED:YES/USD", now, D("0.44"), D(500), D("0.46"), D(500)))
        intent = OrderIntent("s1", "kpaper", "FED:YES/USD", Side.BUY, D(20), OrderType.LIMIT,
                             D("0.46"))  # fmt: skip
        result = await node.submit(intent)
        assert result.order is not None and result.order.status is OrderStatus.FILLED
        assert result.order.fee == D("0.35")  # ceil(0.07 * 20 * 0.46 * 0.54 = 0.34776)
        assert node.portfolio.book("kpaper").total("USD") == D(1000) - D("9.20") - D("0.35")
        await node.on_quote(Quote("FED:YES/USD", now, D("0.97"), D(5), D("0.99"), D(5)))
        denied = await node.submit(OrderIntent("s1", "kpaper", "FED:YES/USD", Side.BUY, D(1),
                                               OrderType.LIMIT, D("1.00")))  # fmt: skip
        assert denied.status == "denied" and "must be below 1" in denied.reason
    finally:
        await node.stop()


async def test_a_depth_quote_is_walked_and_kalshi_rounds_the_fee_once_per_order():
    venue, rec, symbol = venue_for("kalshi")
    ts = venue.clock.now_ms()
    asks = ((D("0.10"), D(3)), (D("0.11"), D(3)))
    venue.on_quote(Quote(symbol, ts, D("0.08"), D(5), D("0.10"), D(3), ((D("0.08"), D(5)),), asks))
    fok = order("p2", symbol, "6", "0.11")
    fok.time_in_force = TimeInForce.FOK
    report = await venue.submit(fok)
    assert report.status is OrderStatus.FILLED
    assert [(f.price, f.amount) for f in rec.fills] == [(D("0.10"), 3), (D("0.11"), 3)]
    # ceil(0.07 * (3 * 0.10 * 0.90 + 3 * 0.11 * 0.89)) = ceil(0.039459); per fill it would
    # have been 0.02 + 0.03
    assert sum(f.fee for f in rec.fills) == D("0.04")
    too_many = order("p3", symbol, "1", "0.11")
    too_many.time_in_force = TimeInForce.FOK
    assert (await venue.submit(too_many)).status is OrderStatus.EXPIRED  # the book is taken
