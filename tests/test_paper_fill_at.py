"""Candle fills at the next open or inside the candle, with per-instrument slippage, by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradeguard.clock import SimulatedClock
from tradeguard.model.balance import Balance
from tradeguard.model.enums import LiquiditySide, OrderStatus, OrderType, Side
from tradeguard.model.errors import ConfigError
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Candle
from tradeguard.model.order import Order
from tradeguard.model.reports import OrderReport
from tradeguard.venues.fill_model import FillConfig
from tradeguard.venues.paper import PaperVenue

D = Decimal
MIN = 60_000


def _inst(symbol: str) -> Instrument:
    base, quote = symbol.split("/")
    return Instrument(
        venue="paper",
        symbol=symbol,
        base=base,
        quote=quote,
        price_tick=D("0.01"),
        amount_step=D("0.001"),
        maker_fee=D("0.001"),
        taker_fee=D("0.002"),
    )


class Recorder:
    def __init__(self) -> None:
        self.fills: list[Fill] = []

    def on_order_report(self, report: OrderReport) -> None:
        pass

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    def on_balances(self, venue: str, balances: list[Balance]) -> None:
        pass


def _venue(fill_at: str, **cfg: object) -> tuple[PaperVenue, Recorder, SimulatedClock]:
    clock = SimulatedClock(0)
    settings: dict[str, object] = {
        "slippage_bps": D(10),
        "impact_bps_per_pct": D(0),
        "max_participation": D(1),
        "fill_at": fill_at,
    }
    config = FillConfig(**(settings | cfg))  # type: ignore[arg-type]
    venue = PaperVenue(
        "paper",
        {"X/USDT": _inst("X/USDT"), "Y/USDT": _inst("Y/USDT")},
        {"USDT": D(10_000), "X": D(10), "Y": D(10)},
        clock,
        config,
    )
    rec = Recorder()
    venue.set_listener(rec)
    return venue, rec, clock


def _bar(symbol: str, n: int, o: str, h: str, lo: str, c: str, v: str = "1000") -> Candle:
    return Candle(symbol, n * MIN, D(o), D(h), D(lo), D(c), D(v))


def _order(
    cid: str, side: str, amount: str, price: str | None = None, sym: str = "X/USDT"
) -> Order:
    return Order(
        client_order_id=cid,
        strategy_id="t",
        venue="paper",
        symbol=sym,
        side=Side(side),
        type=OrderType.MARKET if price is None else OrderType.LIMIT,
        amount=D(amount),
        price=None if price is None else D(price),
    )


async def _on_close(venue: PaperVenue, clock: SimulatedClock, bar: Candle, o: Order) -> None:
    """Feed `bar`, move the clock to its close and place `o` there (a strategy on the close)."""
    clock.advance_to(bar.close_ts)
    venue.on_candle(bar)
    await venue.submit(o)


async def _status(venue: PaperVenue, cid: str) -> OrderStatus:
    report = await venue.fetch_order(cid, "X/USDT")
    assert report is not None
    return report.status


def _prices(rec: Recorder) -> list[tuple[Decimal, Decimal, int, LiquiditySide]]:
    return [(f.price, f.amount, f.ts, f.liquidity) for f in rec.fills]


# bar 0 is the signal bar, bar 1 the next one
BAR0 = ("100", "105", "95", "102")
BAR1 = ("103", "110", "101", "108")


async def test_next_open_market_buy_fills_at_the_next_open_with_the_instruments_slippage() -> None:
    venue, rec, clock = _venue("next_open", instrument_slippage_bps={"X/USDT": D(50)})
    await _on_close(venue, clock, _bar("X/USDT", 0, *BAR0), _order("m", "buy", "1"))
    assert rec.fills == []
    venue.on_candle(_bar("X/USDT", 1, *BAR1))
    # 103 * (1 + 50 / 10000) = 103.515, rounded up to the tick
    assert _prices(rec) == [(D("103.52"), D("1"), MIN, LiquiditySide.TAKER)]
    assert rec.fills[0].fee == D("103.52") * D("0.002")


async def test_in_candle_market_buy_fills_at_once_at_the_signal_close_with_its_slippage() -> None:
    venue, rec, clock = _venue("in_candle", instrument_slippage_bps={"X/USDT": D(50)})
    await _on_close(venue, clock, _bar("X/USDT", 0, *BAR0), _order("m", "buy", "1"))
    # 102 * 1.005 = 102.51, at the order's own time (the bar's close), never before it
    assert _prices(rec) == [(D("102.51"), D("1"), MIN, LiquiditySide.TAKER)]
    assert await _status(venue, "m") is OrderStatus.FILLED
    venue.on_candle(_bar("X/USDT", 1, *BAR1))
    assert len(rec.fills) == 1


async def test_an_instrument_without_its_own_slippage_uses_the_venues() -> None:
    venue, rec, clock = _venue("in_candle", instrument_slippage_bps={"X/USDT": D(50)})
    await _on_close(venue, clock, _bar("Y/USDT", 0, *BAR0), _order("s", "sell", "2", sym="Y/USDT"))
    # 102 * (1 - 10 / 10000) = 101.898, rounded down to the tick
    assert _prices(rec) == [(D("101.89"), D("2"), MIN, LiquiditySide.TAKER)]


@pytest.mark.parametrize(
    ("side", "bar", "price"),
    [
        ("buy", ("100", "102.2", "95", "102"), D("102.2")),  # 102.51 capped at the high
        ("sell", ("100", "105", "101.8", "102"), D("101.8")),  # 101.49 lifted to the low
    ],
)
async def test_in_candle_price_stays_inside_the_signal_bar(
    side: str, bar: tuple[str, str, str, str], price: Decimal
) -> None:
    venue, rec, clock = _venue("in_candle", instrument_slippage_bps={"X/USDT": D(50)})
    await _on_close(venue, clock, _bar("X/USDT", 0, *bar), _order("m", side, "1"))
    assert _prices(rec) == [(price, D("1"), MIN, LiquiditySide.TAKER)]


async def test_marketable_limit_takes_in_candle_but_rests_to_a_maker_fill_at_next_open() -> None:
    limit = "103"
    fills = {}
    for mode in ("next_open", "in_candle"):
        venue, rec, clock = _venue(mode, instrument_slippage_bps={"X/USDT": D(50)})
        await _on_close(venue, clock, _bar("X/USDT", 0, *BAR0), _order("l", "buy", "1", limit))
        venue.on_candle(_bar("X/USDT", 1, *BAR1))
        fills[mode] = _prices(rec)
    # in the candle: 102.51 <= 103, taken at once
    assert fills["in_candle"] == [(D("102.51"), D("1"), MIN, LiquiditySide.TAKER)]
    # next open: 103.52 > 103, so it rests; bar 1 trades through 103 (low 101): maker at 103
    assert fills["next_open"] == [(D("103"), D("1"), 2 * MIN, LiquiditySide.MAKER)]


async def test_limit_beyond_the_slipped_close_rests_and_fills_when_a_bar_trades_through() -> None:
    venue, rec, clock = _venue("in_candle", instrument_slippage_bps={"X/USDT": D(50)})
    # crosses the close 102 but 102.51 is above its price: no taker fill, it rests
    await _on_close(venue, clock, _bar("X/USDT", 0, *BAR0), _order("l", "buy", "1", "102.3"))
    assert rec.fills == []
    venue.on_candle(_bar("X/USDT", 1, "103", "110", "102.3", "108"))  # touches only
    assert rec.fills == []
    venue.on_candle(_bar("X/USDT", 2, "103", "110", "102.29", "108"))
    assert _prices(rec) == [(D("102.3"), D("1"), 3 * MIN, LiquiditySide.MAKER)]


@pytest.mark.parametrize("mode", ["next_open", "in_candle"])
async def test_a_non_marketable_limit_fills_the_same_in_both_modes(mode: str) -> None:
    venue, rec, clock = _venue(mode)
    await _on_close(venue, clock, _bar("X/USDT", 0, *BAR0), _order("l", "sell", "1", "106"))
    venue.on_candle(_bar("X/USDT", 1, "103", "106", "101", "104"))  # touches 106 only
    assert rec.fills == []
    venue.on_candle(_bar("X/USDT", 2, "104", "107", "103", "105"))
    assert _prices(rec) == [(D("106"), D("1"), 3 * MIN, LiquiditySide.MAKER)]


async def test_in_candle_orders_share_the_signal_bars_participation() -> None:
    venue, rec, clock = _venue("in_candle", max_participation=D("0.1"))
    bar = _bar("X/USDT", 0, "100", "105", "95", "102", v="20")  # 10% of 20 = 2
    await _on_close(venue, clock, bar, _order("a", "buy", "1.5"))
    await venue.submit(_order("b", "buy", "1.5"))
    assert [(f.client_order_id, f.amount) for f in rec.fills] == [("a", D("1.5")), ("b", D("0.5"))]
    assert await _status(venue, "b") is OrderStatus.EXPIRED


@pytest.mark.parametrize("mode", ["next_open", "in_candle"])
async def test_no_fill_on_a_bar_that_opened_before_the_order(mode: str) -> None:
    venue, rec, clock = _venue(mode, stale_after_ms=5_000)
    venue.on_candle(_bar("X/USDT", 0, *BAR0))
    clock.advance_to(MIN + 30_000)  # mid bar 1, the close of bar 0 is 30 s old: stale
    await venue.submit(_order("m", "buy", "1"))
    venue.on_candle(_bar("X/USDT", 1, *BAR1))
    assert rec.fills == []
    venue.on_candle(_bar("X/USDT", 2, "107", "109", "104", "105"))
    # 107 * 1.001 = 107.107 -> 107.11, at bar 2's open, after the order was placed
    assert _prices(rec) == [(D("107.11"), D("1"), 2 * MIN, LiquiditySide.TAKER)]


def test_fill_config_refuses_an_unknown_mode_and_out_of_range_instrument_slippage() -> None:
    with pytest.raises(ConfigError, match=r"fill_model.fill_at='at_close' is not one of"):
        FillConfig(fill_at="at_close")
    with pytest.raises(ConfigError, match=r"instruments\[X/USDT\].slippage_bps=1001 is outside"):
        FillConfig(instrument_slippage_bps={"X/USDT": D(1001)})
