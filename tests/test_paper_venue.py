"""The paper venue on real recorded data: book walks, candle fills, limits, TIF, rejects, funds."""

from __future__ import annotations

import functools
import os
from decimal import Decimal
from pathlib import Path

import pytest

from tradeguard.clock import SimulatedClock
from tradeguard.marketdata.book import OrderBook
from tradeguard.marketdata.events import BookSnapshot
from tradeguard.marketdata.loaders import load_book_events, load_candles, load_quotes, load_trades
from tradeguard.model.balance import Balance
from tradeguard.model.enums import LiquiditySide, OrderStatus, OrderType, Side, TimeInForce
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Candle, Quote, TradeTick
from tradeguard.model.money import ZERO, quantize_down
from tradeguard.model.order import Order
from tradeguard.model.reports import OrderReport
from tradeguard.venues.fill_model import FillConfig
from tradeguard.venues.paper import PaperVenue

D = Decimal
DATA = Path(
    os.environ.get("TG_DATA_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)
DEPTH = DATA / "orderbook" / "binance_BTCUSDT_depth_snapshot.csv"
CANDLES = DATA / "candles" / "BTC-PERP_1m_20211231-20220201.csv"
TRADES = DATA / "trades" / "binance_BTCUSDT_trades.parquet"
QUOTES = DATA / "orderbook" / "binance_BTCUSDT_quotes.parquet"

SPOT = Instrument(
    venue="paper",
    symbol="BTC/USDT",
    base="BTC",
    quote="USDT",
    price_tick=D("0.01"),
    amount_step=D("0.000001"),
    min_notional=D("5"),
    maker_fee=D("0.0002"),
    taker_fee=D("0.0004"),
)
PERP = Instrument(
    venue="paper",
    symbol="BTC/USD",
    base="BTC",
    quote="USD",
    price_tick=D("0.5"),
    amount_step=D("0.0001"),
    min_notional=D("10"),
    maker_fee=D("0.0002"),
    taker_fee=D("0.0007"),
)


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"recorded data file {path} is missing; set TG_DATA_DIR (see shared/data)")
    return path


class Recorder:
    """A VenueListener that keeps everything it is told."""

    def __init__(self) -> None:
        self.fills: list[Fill] = []
        self.reports: list[OrderReport] = []
        self.balances: list[list[Balance]] = []

    def on_order_report(self, report: OrderReport) -> None:
        self.reports.append(report)

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    def on_balances(self, venue: str, balances: list[Balance]) -> None:
        self.balances.append(balances)

    def fills_of(self, cid: str) -> list[Fill]:
        return [f for f in self.fills if f.client_order_id == cid]


def make_venue(
    inst: Instrument, balances: dict[str, str], clock: SimulatedClock, **cfg: object
) -> tuple[PaperVenue, Recorder]:
    venue = PaperVenue(
        "paper",
        {inst.symbol: inst},
        {k: D(v) for k, v in balances.items()},
        clock,
        FillConfig(**cfg) if cfg else None,  # type: ignore[arg-type]
    )
    rec = Recorder()
    venue.set_listener(rec)
    return venue, rec


def order(
    cid: str,
    side: str,
    amount: str | Decimal,
    price: str | Decimal | None = None,
    *,
    symbol: str = "BTC/USDT",
    tif: TimeInForce = TimeInForce.GTC,
    reduce_only: bool = False,
) -> Order:
    return Order(
        client_order_id=cid,
        strategy_id="test",
        venue="paper",
        symbol=symbol,
        side=Side(side),
        type=OrderType.MARKET if price is None else OrderType.LIMIT,
        amount=D(amount),
        price=None if price is None else D(price),
        time_in_force=tif,
        reduce_only=reduce_only,
    )


def free(venue: PaperVenue, asset: str) -> Decimal:
    return venue._balances.free(asset)


def locked(venue: PaperVenue, asset: str) -> Decimal:
    return venue._balances.get(asset).locked


# --- real order book ----------------------------------------------------------------------------
def depth_book() -> OrderBook:
    snap = load_book_events(_need(DEPTH), "BTC/USDT")[0]
    assert isinstance(snap, BookSnapshot)
    book = OrderBook("BTC/USDT")
    book.apply_snapshot(snap.bids, snap.asks, snap.ts, snap.seq)
    return book


def book_venue(
    balances: dict[str, str] | None = None,
) -> tuple[PaperVenue, Recorder, OrderBook, SimulatedClock]:
    book = depth_book()
    clock = SimulatedClock(book.ts)
    inst = Instrument(
        "paper", "BTC/USDT", "BTC", "USDT", D("0.1"), D("0.001"), min_notional=D("5"),
        maker_fee=D("0.0002"), taker_fee=D("0.0004"),
    )  # fmt: skip
    venue, rec = make_venue(inst, balances or {"BTC": "1000", "USDT": "0"}, clock)
    venue.on_book(book)
    return venue, rec, book, clock


async def test_market_order_beyond_the_whole_book_walks_every_level_and_expires_the_rest() -> None:
    venue, rec, book, _ = book_venue()
    levels = book.bids()
    depth = sum((q for _, q in levels), ZERO)
    amount = depth + D("5")

    report = await venue.submit(order("c1", "sell", amount))

    fills = rec.fills_of("c1")
    book_prices = {p for p, _ in levels}
    assert all(f.price in book_prices for f in fills)
    assert [f.price for f in fills] == sorted((f.price for f in fills), reverse=True)
    assert len({f.price for f in fills}) == len(fills) == len(levels)
    assert [(f.price, f.amount) for f in fills] == levels
    assert report.status is OrderStatus.EXPIRED
    assert report.filled == depth
    assert report.amount == amount
    assert all(f.liquidity is LiquiditySide.TAKER for f in fills)
    proceeds = sum((f.price * f.amount for f in fills), ZERO)
    assert free(venue, "USDT") == proceeds - proceeds * D("0.0004")
    assert free(venue, "BTC") == D("1000") - depth
    assert locked(venue, "BTC") == 0


async def test_two_orders_never_take_the_same_book_liquidity_until_the_book_updates() -> None:
    venue, rec, book, clock = book_venue()
    levels = dict(book.bids())

    await venue.submit(order("a", "sell", "3"))
    await venue.submit(order("b", "sell", "3"))

    taken: dict[Decimal, Decimal] = {}
    for f in rec.fills:
        taken[f.price] = taken.get(f.price, ZERO) + f.amount
    assert all(taken[p] <= levels[p] for p in taken)
    assert max(f.price for f in rec.fills_of("b")) <= min(f.price for f in rec.fills_of("a"))

    clock.advance_to(book.ts + 100)
    book.apply_delta("bid", book.bids(1)[0][0], book.bids(1)[0][1], clock.now_ms())
    venue.on_book(book)
    await venue.submit(order("c", "sell", "0.5"))
    assert rec.fills_of("c")[0].price == book.bids(1)[0][0]


async def test_market_buy_against_a_book_without_asks_expires_unfilled() -> None:
    venue, rec, _, _ = book_venue({"USDT": "100000"})

    report = await venue.submit(order("c1", "buy", "0.01"))

    assert report.status is OrderStatus.EXPIRED
    assert report.filled == 0
    assert rec.fills == []
    assert free(venue, "USDT") == D("100000")


async def test_a_stale_book_is_not_used_and_the_order_waits_for_candles() -> None:
    venue, rec, book, clock = book_venue()
    clock.advance_to(book.ts + 60_000)

    report = await venue.submit(order("c1", "sell", "1"))

    assert report.status is OrderStatus.ACCEPTED
    assert rec.fills == []


async def test_resting_limit_fills_at_its_price_when_the_book_trades_through_it() -> None:
    venue, rec, book, clock = book_venue()
    best_bid = book.bids(1)[0][0]
    price = best_bid + D("10")  # above every bid: not marketable, rests
    report = await venue.submit(order("s1", "sell", "2", price))
    assert report.status is OrderStatus.ACCEPTED

    clock.advance_to(book.ts + 10)
    book.apply_delta("bid", price, D("0.7"), clock.now_ms())  # touches: no fill
    venue.on_book(book)
    assert rec.fills == []

    book.apply_delta("bid", price + D("0.1"), D("0.5"), clock.now_ms())  # through by 0.5
    venue.on_book(book)
    fills = rec.fills_of("s1")
    assert [(f.price, f.amount, f.liquidity) for f in fills] == [
        (price, D("0.5"), LiquiditySide.MAKER)
    ]
    assert fills[0].fee == price * D("0.5") * D("0.0002")


async def test_ioc_limit_takes_what_the_book_holds_up_to_its_price_and_expires_the_rest() -> None:
    venue, rec, book, _ = book_venue()
    levels = book.bids()
    limit = levels[4][0]
    available = sum((q for _, q in levels[:5]), ZERO)

    report = await venue.submit(order("i1", "sell", available + 1, limit, tif=TimeInForce.IOC))

    assert [(f.price, f.amount) for f in rec.fills_of("i1")] == levels[:5]
    assert report.status is OrderStatus.EXPIRED
    assert report.filled == available
    assert locked(venue, "BTC") == 0
    assert await venue.fetch_open_orders() == []


async def test_fok_fills_all_at_once_or_expires_untouched() -> None:
    venue, rec, book, _ = book_venue()
    levels = book.bids()
    limit = levels[4][0]
    available = sum((q for _, q in levels[:5]), ZERO)

    too_big = await venue.submit(order("f1", "sell", available + 1, limit, tif=TimeInForce.FOK))
    assert too_big.status is OrderStatus.EXPIRED
    assert too_big.filled == 0
    assert rec.fills == []
    assert free(venue, "BTC") == D("1000")

    fits = await venue.submit(order("f2", "sell", available, limit, tif=TimeInForce.FOK))
    assert fits.status is OrderStatus.FILLED
    assert sum((f.amount for f in rec.fills_of("f2")), ZERO) == available


# --- real candles -------------------------------------------------------------------------------
@functools.cache
def _all_perp_candles() -> tuple[Candle, ...]:
    return tuple(load_candles(_need(CANDLES), "BTC/USD"))


def perp_candles(n: int = 3000) -> list[Candle]:
    return list(_all_perp_candles()[:n])


def feed(venue: PaperVenue, clock: SimulatedClock, candles: list[Candle]) -> None:
    for c in candles:
        clock.advance_to(c.close_ts)
        venue.on_candle(c)


def candle_venue(
    balances: dict[str, str], **cfg: object
) -> tuple[PaperVenue, Recorder, SimulatedClock]:
    clock = SimulatedClock()
    venue, rec = make_venue(PERP, balances, clock, **cfg)
    return venue, rec, clock


async def test_candle_only_market_order_fills_on_the_next_candle_within_its_range() -> None:
    candles = perp_candles(10)
    venue, rec, clock = candle_venue({"USD": "100000"})
    feed(venue, clock, candles[:1])

    report = await venue.submit(order("m1", "buy", "0.5", symbol="BTC/USD"))
    assert report.status is OrderStatus.ACCEPTED
    assert rec.fills == []

    nxt = candles[1]
    feed(venue, clock, [nxt])
    (fill,) = rec.fills_of("m1")
    assert nxt.low <= fill.price <= nxt.high
    assert fill.amount <= nxt.volume * D("0.1")
    bps = D(5) + D(2) * (D("0.5") / nxt.volume * 100)
    expected = min(max(nxt.open * (1 + bps / 10_000), nxt.low), nxt.high)
    assert fill.price - expected < PERP.price_tick and fill.price >= expected
    assert fill.ts == nxt.ts
    assert fill.liquidity is LiquiditySide.TAKER
    assert fill.fee == fill.price * D("0.5") * D("0.0007")
    assert free(venue, "USD") == D("100000") - fill.price * D("0.5") - fill.fee
    assert (await venue.fetch_order("m1", "BTC/USD")) is not None
    final = await venue.fetch_order("m1", "BTC/USD")
    assert final is not None and final.status is OrderStatus.FILLED


async def test_candle_only_market_order_takes_at_most_the_participation_and_expires_the_rest() -> (
    None
):
    candles = perp_candles(10)
    venue, rec, clock = candle_venue({"BTC": "100"})
    feed(venue, clock, candles[:1])

    await venue.submit(order("m1", "sell", "50", symbol="BTC/USD"))
    assert locked(venue, "BTC") == D("50")
    nxt = candles[1]
    feed(venue, clock, [nxt])

    (fill,) = rec.fills_of("m1")
    assert fill.amount == quantize_down(nxt.volume * D("0.1"), PERP.amount_step)
    assert nxt.low <= fill.price <= nxt.high
    last = rec.reports[-1]
    assert last.client_order_id == "m1"
    assert last.status is OrderStatus.EXPIRED
    assert last.filled == fill.amount
    assert locked(venue, "BTC") == 0
    assert free(venue, "BTC") == D("100") - fill.amount


async def test_a_candle_seen_before_the_order_never_fills_it() -> None:
    candles = perp_candles(5)
    venue, rec, clock = candle_venue({"USD": "100000"})
    feed(venue, clock, candles[:2])
    await venue.submit(order("m1", "buy", "0.1", symbol="BTC/USD"))

    venue.on_candle(candles[1])  # the same bar again (a replay glitch) is not "later"
    assert rec.fills == []
    feed(venue, clock, candles[2:3])
    assert len(rec.fills_of("m1")) == 1


def touch_then_through(candles: list[Candle]) -> tuple[int, int, list[int]]:
    """Find i: after bar i a buy limit at the next bar's low is touched, then traded through."""
    for i in range(len(candles) - 40):
        price = candles[i + 1].low
        if price >= candles[i].close:
            continue
        j = i + 2
        while j < len(candles) and candles[j].low >= price:
            j += 1
        later = [k for k in range(j + 1, j + 30) if candles[k].low < price]
        if j < len(candles) and len(later) >= 2:
            return i, j, later
    raise AssertionError("no touch-then-through sequence in the data")


async def test_limit_buy_ignores_touches_and_fills_partially_across_trade_through_candles() -> None:
    candles = perp_candles()
    i, j, later = touch_then_through(candles)
    price = candles[i + 1].low
    step = PERP.amount_step
    cap_j = quantize_down(candles[j].volume * D("0.1"), step)
    cap_next = quantize_down(candles[later[0]].volume * D("0.1"), step)
    amount = cap_j + cap_next + step  # needs three trade-through candles
    venue, rec, clock = candle_venue({"USD": "10000000"})
    feed(venue, clock, candles[: i + 1])

    report = await venue.submit(order("l1", "buy", amount, price, symbol="BTC/USD"))
    assert report.status is OrderStatus.ACCEPTED
    lock = price * amount * (1 + D("0.0007"))
    assert locked(venue, "USD") == lock

    feed(venue, clock, candles[i + 1 : j])  # these only touch the price
    assert rec.fills == []
    feed(venue, clock, candles[j : later[1] + 1])

    fills = rec.fills_of("l1")
    assert [f.amount for f in fills] == [cap_j, cap_next, step]
    assert all(f.price == price for f in fills)
    assert all(f.liquidity is LiquiditySide.MAKER for f in fills)
    assert [f.ts for f in fills] == [
        candles[j].close_ts,
        candles[later[0]].close_ts,
        candles[later[1]].close_ts,
    ]
    assert sum((f.fee for f in fills), ZERO) == price * amount * D("0.0002")
    statuses = [r.status for r in rec.reports if r.client_order_id == "l1"]
    assert statuses == [
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
    ]
    assert locked(venue, "USD") == 0
    assert free(venue, "USD") == D("10000000") - price * amount * (1 + D("0.0002"))
    assert free(venue, "BTC") == amount


async def test_limit_sell_does_not_fill_when_the_high_only_touches_its_price() -> None:
    candles = perp_candles(200)
    k = next(
        k for k in range(1, 199) if candles[k + 1].high > candles[k].close
        and candles[k + 1].high == max(c.high for c in candles[k + 1 : k + 3])
        and candles[k + 2].high == candles[k + 1].high
    )  # fmt: skip
    price = candles[k + 1].high
    venue, rec, clock = candle_venue({"BTC": "1"})
    feed(venue, clock, candles[: k + 1])

    await venue.submit(order("s1", "sell", "0.1", price, symbol="BTC/USD"))
    feed(venue, clock, candles[k + 1 : k + 3])

    assert rec.fills == []
    assert locked(venue, "BTC") == D("0.1")


async def test_limit_buy_marketable_against_the_last_close_takes_on_the_next_candle() -> None:
    candles = perp_candles(5)
    venue, rec, clock = candle_venue({"USD": "1000000"})
    feed(venue, clock, candles[:1])
    price = candles[0].close + 500

    await venue.submit(order("l1", "buy", "0.2", price, symbol="BTC/USD"))
    feed(venue, clock, candles[1:2])

    (fill,) = rec.fills_of("l1")
    assert fill.liquidity is LiquiditySide.TAKER
    assert candles[1].low <= fill.price <= min(price, candles[1].high)
    # a limit buy locks for the worst fee; what it did not spend comes back
    assert locked(venue, "USD") == 0
    assert free(venue, "USD") == D("1000000") - fill.price * D("0.2") - fill.fee


async def test_candle_fok_larger_than_participation_expires_untouched_and_ioc_keeps_its_part() -> (
    None
):
    candles = perp_candles(5)
    venue, rec, clock = candle_venue({"USD": "100000000"})
    feed(venue, clock, candles[:1])
    nxt = candles[1]
    cap = quantize_down(nxt.volume * D("0.1"), PERP.amount_step)

    await venue.submit(order("fok", "buy", cap + 1, tif=TimeInForce.FOK, symbol="BTC/USD"))
    await venue.submit(
        order("ioc", "buy", cap + 1, nxt.high, tif=TimeInForce.IOC, symbol="BTC/USD")
    )
    feed(venue, clock, [nxt])

    assert rec.fills_of("fok") == []
    (ioc_fill,) = rec.fills_of("ioc")
    assert ioc_fill.amount == cap
    final = {r.client_order_id: r for r in rec.reports}
    assert final["fok"].status is OrderStatus.EXPIRED and final["fok"].filled == 0
    assert final["ioc"].status is OrderStatus.EXPIRED and final["ioc"].filled == cap
    assert locked(venue, "USD") == 0


async def test_orders_on_one_candle_share_its_participation() -> None:
    candles = perp_candles(5)
    venue, rec, clock = candle_venue({"USD": "100000000"})
    feed(venue, clock, candles[:1])
    nxt = candles[1]
    cap = quantize_down(nxt.volume * D("0.1"), PERP.amount_step)

    await venue.submit(order("a", "buy", cap, symbol="BTC/USD"))
    await venue.submit(order("b", "buy", cap, symbol="BTC/USD"))
    feed(venue, clock, [nxt])

    assert sum((f.amount for f in rec.fills), ZERO) == cap
    assert rec.fills_of("b") == []


# --- real trades and quotes ---------------------------------------------------------------------
async def test_limit_buy_fills_only_on_trades_printing_strictly_through_it() -> None:
    trades = load_trades(_need(TRADES), "BTC/USDT")
    # A new low of the tape that is later undercut: printed exactly first, crossed afterwards.
    lows: list[int] = []
    for k, t in enumerate(trades):
        if not lows or t.price < trades[lows[-1]].price:
            lows.append(k)
    price = trades[lows[1]].price
    clock = SimulatedClock(trades[0].ts)
    venue, rec = make_venue(SPOT, {"USDT": "1000000"}, clock)
    amount = D("0.5")

    await venue.submit(order("t1", "buy", amount, price))
    through: list[TradeTick] = []
    touches_before_first_fill = 0
    for t in trades:
        clock.advance_to(t.ts)
        filled_before = sum((f.amount for f in rec.fills), ZERO)
        venue.on_trade(t)
        if t.price == price and not rec.fills:
            touches_before_first_fill += 1
        if t.price < price and filled_before < amount:
            through.append(t)

    fills = rec.fills_of("t1")
    assert touches_before_first_fill > 0, "the price is printed exactly before it is crossed"
    assert fills, "later trades print below the price"
    assert len(fills) == len(through)
    remaining = amount
    for f, t in zip(fills, through, strict=True):
        assert (f.price, f.ts, f.liquidity) == (price, t.ts, LiquiditySide.MAKER)
        assert f.amount == min(remaining, t.amount)
        remaining -= f.amount


async def test_quote_only_market_buy_fills_up_to_the_quoted_size_and_expires_the_rest() -> None:
    quotes = load_quotes(_need(QUOTES), "BTC/USDT")
    q = quotes[0]
    clock = SimulatedClock(q.ts)
    venue, rec = make_venue(SPOT, {"USDT": "1000000"}, clock)
    venue.on_quote(q)

    report = await venue.submit(order("q1", "buy", q.ask_size + 1))

    assert [(f.price, f.amount) for f in rec.fills] == [(q.ask, q.ask_size)]
    assert report.status is OrderStatus.EXPIRED
    again = await venue.submit(order("q2", "buy", "0.01"))
    assert again.filled == 0  # the quoted size is spent until the next quote
    venue.on_quote(quotes[1])
    third = await venue.submit(order("q3", "buy", "0.01"))
    assert third.status is OrderStatus.FILLED


async def test_resting_limit_fills_when_the_opposite_quote_crosses_strictly() -> None:
    quotes = load_quotes(_need(QUOTES), "BTC/USDT")
    q0 = quotes[0]
    clock = SimulatedClock(q0.ts)
    venue, rec = make_venue(SPOT, {"USDT": "1000000"}, clock)
    venue.on_quote(q0)
    price = q0.bid  # below the ask: rests
    await venue.submit(order("r1", "buy", "0.01", price))

    touch = Quote("BTC/USDT", q0.ts + 1, price - 1, D("1"), price, D("5"))
    venue.on_quote(touch)
    assert rec.fills == []
    through = Quote("BTC/USDT", q0.ts + 2, price - 1, D("1"), price - D("0.01"), D("5"))
    venue.on_quote(through)
    (fill,) = rec.fills
    assert (fill.price, fill.amount, fill.liquidity) == (price, D("0.01"), LiquiditySide.MAKER)


# --- rejects ------------------------------------------------------------------------------------
def _spot_venue() -> tuple[PaperVenue, Recorder, SimulatedClock]:
    clock = SimulatedClock(1_000)
    venue, rec = make_venue(SPOT, {"USDT": "1000", "BTC": "0.01"}, clock)
    venue.on_quote(Quote("BTC/USDT", 1_000, D("20000"), D("1"), D("20001"), D("1")))
    return venue, rec, clock


@pytest.mark.parametrize(
    ("o", "code", "words"),
    [
        (order("x", "buy", "0.001", "20000.001"), "PRICE_FILTER", "20000.001"),
        (order("x", "buy", "0.0000015", "20000"), "LOT_SIZE", "0.0000015"),
        (order("x", "buy", "0.0001", "20000"), "MIN_NOTIONAL", "2.0000"),
        (order("x", "buy", "0.0002"), "MIN_NOTIONAL", "last price"),
        (order("x", "buy", "0.1", "20000"), "INSUFFICIENT_BALANCE", "2000.8"),
        (order("x", "buy", "0.1"), "INSUFFICIENT_BALANCE", "free is 1000"),
        (order("x", "sell", "0.02", "20000"), "INSUFFICIENT_BALANCE", "0.01 BTC"),
        (order("x", "buy", "1", "1", symbol="ETH/USDT"), "UNKNOWN_SYMBOL", "ETH/USDT"),
        (order("x", "sell", "0.001", reduce_only=True), "REDUCE_ONLY_REJECTED", "net position 0"),
    ],
)
async def test_submit_refuses_with_a_binance_like_code_naming_value_and_limit(
    o: Order, code: str, words: str
) -> None:
    venue, rec, _ = _spot_venue()
    with pytest.raises(DefinitiveVenueError) as err:
        await venue.submit(o)
    assert err.value.code == code
    assert words in str(err.value)
    assert rec.fills == []
    assert await venue.fetch_order("x", o.symbol) is None


async def test_duplicate_client_order_id_is_refused_even_after_the_first_closed() -> None:
    venue, _, _ = _spot_venue()
    await venue.submit(order("dup", "buy", "0.001"))
    with pytest.raises(DefinitiveVenueError) as err:
        await venue.submit(order("dup", "buy", "0.001", "19000"))
    assert err.value.code == "DUPLICATE_CLIENT_ORDER_ID"


async def test_cancel_of_an_unknown_or_closed_order_is_unknown_order() -> None:
    venue, _, _ = _spot_venue()
    with pytest.raises(DefinitiveVenueError) as err:
        await venue.cancel(order("nope", "buy", "0.001", "19000"))
    assert err.value.code == "UNKNOWN_ORDER"
    o = order("done", "buy", "0.001")
    await venue.submit(o)
    with pytest.raises(DefinitiveVenueError) as err2:
        await venue.cancel(o)
    assert err2.value.code == "UNKNOWN_ORDER"
    assert "filled" in str(err2.value)


async def test_reduce_only_passes_when_it_shrinks_the_venue_position_and_refuses_a_flip() -> None:
    venue, _, _ = _spot_venue()
    await venue.submit(order("b", "buy", "0.002"))
    assert venue.net_position("BTC/USDT") == D("0.002")
    with pytest.raises(DefinitiveVenueError) as err:
        await venue.submit(order("r1", "sell", "0.003", reduce_only=True))
    assert err.value.code == "REDUCE_ONLY_REJECTED"
    with pytest.raises(DefinitiveVenueError):
        await venue.submit(order("r2", "buy", "0.001", reduce_only=True))
    ok = await venue.submit(order("r3", "sell", "0.002", reduce_only=True))
    assert ok.status is OrderStatus.FILLED
    assert venue.net_position("BTC/USDT") == 0


async def test_reset_balances_starts_the_account_over_and_is_refused_while_an_order_works() -> None:
    venue, rec, _ = _spot_venue()
    await venue.submit(order("b", "buy", "0.002"))
    resting = order("l", "buy", "0.001", "19000")
    await venue.submit(resting)
    with pytest.raises(DefinitiveVenueError) as refused:
        venue.reset_balances({"USDT": D("5000")})
    assert refused.value.code == "ORDERS_WORKING" and "l" in str(refused.value)
    assert locked(venue, "USDT") > 0  # nothing changed
    await venue.cancel(resting)
    with pytest.raises(ValueError, match="USDT = -1"):
        venue.reset_balances({"USDT": D("-1")})

    restored = venue.reset_balances({"USDT": D("5000")})

    assert {b.asset: (b.free, b.locked) for b in restored} == {
        "USDT": (D("5000"), 0),
        "BTC": (0, 0),
    }
    nonzero = {b.asset: b.total for b in await venue.fetch_balances() if b.total}
    assert nonzero == {"USDT": D("5000")}
    assert {b.asset: b.total for b in rec.balances[-1]} == {"USDT": D("5000"), "BTC": 0}
    assert venue.net_position("BTC/USDT") == 0
    with pytest.raises(DefinitiveVenueError) as flip:  # the old long no longer backs a reduce
        await venue.submit(order("r", "sell", "0.001", reduce_only=True))
    assert flip.value.code == "REDUCE_ONLY_REJECTED"
    again = await venue.submit(order("b2", "buy", "0.001"))
    assert again.status is OrderStatus.FILLED and again.venue_order_id == "paper-o3"


# --- balances and fees --------------------------------------------------------------------------
async def test_limit_orders_lock_funds_and_cancel_releases_them() -> None:
    venue, rec, _ = _spot_venue()
    buy = order("b1", "buy", "0.01", "19000")
    await venue.submit(buy)
    lock = D("19000") * D("0.01") * (1 + D("0.0004"))
    assert locked(venue, "USDT") == lock
    assert free(venue, "USDT") == D("1000") - lock
    sell = order("s1", "sell", "0.004", "25000")
    await venue.submit(sell)
    assert (locked(venue, "BTC"), free(venue, "BTC")) == (D("0.004"), D("0.006"))
    open_ids = [r.client_order_id for r in await venue.fetch_open_orders("BTC/USDT")]
    assert open_ids == ["b1", "s1"]

    cancelled = await venue.cancel(buy)
    await venue.cancel(sell)

    assert cancelled.status is OrderStatus.CANCELLED
    assert (free(venue, "USDT"), locked(venue, "USDT")) == (D("1000"), 0)
    assert (free(venue, "BTC"), locked(venue, "BTC")) == (D("0.01"), 0)
    assert await venue.fetch_open_orders() == []
    pushed = {b.asset: b for b in rec.balances[-1]}
    assert pushed["USDT"].free == D("1000") and pushed["BTC"].free == D("0.01")


async def test_maker_and_taker_fees_are_exact_and_charged_in_quote() -> None:
    venue, rec, clock = _spot_venue()
    await venue.submit(order("t", "buy", "0.003"))  # takes the ask
    await venue.submit(order("m", "buy", "0.002", "19999.99"))  # rests
    clock.advance_to(2_000)
    venue.on_quote(Quote("BTC/USDT", 2_000, D("19000"), D("1"), D("19999.98"), D("1")))

    (taker,) = rec.fills_of("t")
    (maker,) = rec.fills_of("m")
    assert (taker.liquidity, taker.fee, taker.fee_asset) == (
        LiquiditySide.TAKER,
        D("20001") * D("0.003") * D("0.0004"),
        "USDT",
    )
    assert (maker.liquidity, maker.fee, maker.fee_asset) == (
        LiquiditySide.MAKER,
        D("19999.99") * D("0.002") * D("0.0002"),
        "USDT",
    )
    spent = taker.notional + taker.fee + maker.notional + maker.fee
    assert free(venue, "USDT") == D("1000") - spent
    assert locked(venue, "USDT") == 0
    assert free(venue, "BTC") == D("0.015")
    balances = {b.asset: b.total for b in await venue.fetch_balances()}
    assert balances == {"USDT": D("1000") - spent, "BTC": D("0.015")}


# --- listener, ids, restart ---------------------------------------------------------------------
async def scripted_run() -> tuple[list[Fill], Recorder, PaperVenue]:
    candles = perp_candles(60)
    venue, rec, clock = candle_venue({"USD": "10000000", "BTC": "10"})
    feed(venue, clock, candles[:1])
    await venue.submit(order("a", "buy", "3", symbol="BTC/USD"))
    await venue.submit(order("b", "buy", "20", candles[0].low - 20, symbol="BTC/USD"))
    await venue.submit(order("c", "sell", "5", candles[0].high + 20, symbol="BTC/USD"))
    feed(venue, clock, candles[1:])
    return await venue.fetch_fills("BTC/USD"), rec, venue


async def test_every_fill_reaches_the_listener_exactly_once() -> None:
    fetched, rec, _ = await scripted_run()
    ids = [f.trade_id for f in rec.fills]
    assert len(ids) > 3
    assert len(set(ids)) == len(ids)
    assert rec.fills == fetched


async def test_a_replay_reproduces_the_same_ids_and_fills() -> None:
    first, _, _ = await scripted_run()
    second, _, _ = await scripted_run()
    assert first == second
    assert first[0].trade_id == "paper-t1"
    assert first[0].venue_order_id.startswith("paper-o")


async def test_fetch_fills_filters_by_time() -> None:
    fetched, _, venue = await scripted_run()
    cut = fetched[len(fetched) // 2].ts
    later = await venue.fetch_fills("BTC/USD", cut)
    assert later == [f for f in fetched if f.ts >= cut]
    assert len(later) < len(fetched)


async def test_restored_order_is_locked_again_and_new_trade_ids_continue() -> None:
    clock = SimulatedClock(1_000)
    venue, _ = make_venue(SPOT, {"USDT": "1000"}, clock)
    o = order("old", "buy", "0.01", "19000")
    o.status = OrderStatus.PARTIALLY_FILLED
    o.filled = D("0.004")
    o.avg_price = D("19000")
    o.venue_order_id = "paper-o7"
    o.trade_ids = {"paper-t12"}

    venue.restore_order(o)

    assert locked(venue, "USDT") == D("19000") * D("0.006") * (1 + D("0.0004"))
    report = await venue.fetch_order("old", "BTC/USDT")
    assert report is not None and report.filled == D("0.004")
    assert report.status is OrderStatus.PARTIALLY_FILLED
    clock.advance_to(2_000)
    venue.on_trade(TradeTick("BTC/USDT", 2_000, "x", D("18999"), D("1"), "sell"))
    fills = await venue.fetch_fills("BTC/USDT")
    assert [(f.trade_id, f.amount) for f in fills] == [("paper-t13", D("0.006"))]
    new = await venue.submit(order("new", "buy", "0.001", "18000"))
    assert new.venue_order_id == "paper-o8"  # as if never restarted: restoring takes no number


async def test_market_data_for_symbols_not_listed_is_ignored() -> None:
    venue, rec, _ = _spot_venue()
    venue.on_candle(Candle("ETH/USDT", 0, D(1), D(1), D(1), D(1), D(1)))
    venue.on_trade(TradeTick("ETH/USDT", 0, "1", D(1), D(1), "buy"))
    assert rec.fills == []
    assert await venue.load_instruments() == {"BTC/USDT": SPOT}


# --- a market order's protective bound (risk.market_slippage_cap_pct) --------------------------
async def test_a_market_order_walks_the_book_no_further_than_its_bound() -> None:
    venue, rec, book, _ = book_venue()
    levels = book.bids()
    bound = levels[2][0]  # the third bid: a sell may take the first three levels, no more
    o = order("c1", "sell", "1000")
    o.price_bound = bound
    report = await venue.submit(o)
    assert [(f.price, f.amount) for f in rec.fills_of("c1")] == levels[:3]
    assert report.status is OrderStatus.EXPIRED
    assert report.filled == sum((q for _, q in levels[:3]), ZERO)


async def test_a_market_order_whose_next_candle_opens_beyond_its_bound_expires_unfilled() -> None:
    candles = perp_candles(10)
    venue, rec, clock = candle_venue({"USD": "100000"})
    feed(venue, clock, candles[:1])
    gap = candles[1].open * D("0.999")  # the next open is above what this buy may pay
    capped = order("m1", "buy", "0.5", symbol="BTC/USD")
    capped.price_bound = gap
    free_buy = order("m2", "buy", "0.5", symbol="BTC/USD")  # no bound: fills as before
    await venue.submit(capped)
    await venue.submit(free_buy)
    feed(venue, clock, [candles[1]])
    assert rec.fills_of("m1") == [] and len(rec.fills_of("m2")) == 1
    final = await venue.fetch_order("m1", "BTC/USD")
    assert final is not None and final.status is OrderStatus.EXPIRED and final.filled == 0
