"""Position P&L against hand-computed cases: long, short, partial closes, flips, fees."""

from decimal import Decimal as D

from tradeguard.model import Side
from tradeguard.model.position import Position, leaves_dust


def test_long_round_trip_net_of_fees():
    p = Position("v", "BTC/USDT", "s")
    assert p.apply(Side.BUY, D("100"), D("2"), D("0.2"), 1) is None
    assert p.quantity == D("2") and p.avg_entry == D("100")
    assert p.unrealized_pnl(D("110")) == D("20")
    closed = p.apply(Side.SELL, D("110"), D("2"), D("0.22"), 2)
    # gross +20, fees 0.2 + 0.22
    assert closed is not None
    assert closed.pnl == D("19.58")
    assert p.realized_pnl == D("19.58")
    assert p.fees == D("0.42")
    assert p.is_flat and p.avg_entry == 0
    # pnl % over entry notional 200
    assert closed.pnl_pct == D("9.79")
    assert closed.side is Side.BUY and closed.entry_price == D("100")


def test_short_profit_when_price_falls():
    p = Position("v", "BTC/USDT", "s")
    p.apply(Side.SELL, D("50"), D("3"), D("0"), 1)
    assert p.quantity == D("-3")
    assert p.unrealized_pnl(D("40")) == D("30")
    closed = p.apply(Side.BUY, D("40"), D("3"), D("0"), 2)
    assert closed is not None and closed.pnl == D("30") and closed.side is Side.SELL


def test_partial_close_keeps_average_entry_and_books_part():
    p = Position("v", "ETH/USDT", "s")
    p.apply(Side.BUY, D("100"), D("1"), D("0"), 1)
    p.apply(Side.BUY, D("130"), D("2"), D("0"), 2)
    assert p.avg_entry == D("120")  # (100 + 260) / 3
    assert p.apply(Side.SELL, D("150"), D("1"), D("0.15"), 3) is None
    assert p.quantity == D("2")
    assert p.avg_entry == D("120")
    assert p.realized_pnl == D("29.85")  # 30 gross - 0.15
    closed = p.apply(Side.SELL, D("90"), D("2"), D("0"), 4)
    assert closed is not None
    assert closed.pnl == D("-30.15")  # 29.85 - 60
    assert closed.amount == D("3")


def test_flip_from_long_to_short_splits_fee_and_opens_new_trip():
    p = Position("v", "BTC/USDT", "s")
    p.apply(Side.BUY, D("10"), D("1"), D("0"), 1)
    closed = p.apply(Side.SELL, D("12"), D("3"), D("0.3"), 2)
    assert closed is not None
    assert closed.pnl == D("1.9")  # +2 gross, 1/3 of the fee
    assert p.quantity == D("-2")
    assert p.avg_entry == D("12")
    assert p.trip_pnl == D("-0.2")  # the rest of the fee belongs to the new short
    assert p.realized_pnl == D("1.7")


def test_would_reduce():
    p = Position("v", "BTC/USDT", "s")
    assert not p.would_reduce(Side.SELL, D("1"))
    p.apply(Side.BUY, D("10"), D("2"), D("0"), 1)
    assert p.would_reduce(Side.SELL, D("2"))
    assert not p.would_reduce(Side.SELL, D("2.1"))
    assert not p.would_reduce(Side.BUY, D("1"))


def test_a_reduction_leaving_less_than_the_lot_step_closes_the_trip():
    p = Position("v", "BTC/USDT", "s")
    # bought 0.0004 at 100 with the 0.1% fee kept in BTC: 0.0003996 held, fee 0.00004 USDT
    p.apply(Side.BUY, D("100"), D("0.0003996"), D("0.00004"), 1)
    closed = p.apply(Side.SELL, D("110"), D("0.00039"), D("0.0000429"), 2, dust=D("0.00001"))
    assert closed is not None and p.is_flat and p.avg_entry == 0
    assert closed.amount == D("0.0003996")
    # P&L on what was sold; the 0.0000096 left stays in the balance (and in equity)
    assert closed.pnl == D("0.00039") * 10 - D("0.00004") - D("0.0000429")


def test_a_remainder_of_a_lot_step_or_more_stays_open():
    p = Position("v", "BTC/USDT", "s")
    p.apply(Side.BUY, D("100"), D("0.0003996"), D("0"), 1)
    assert p.apply(Side.SELL, D("110"), D("0.00038"), D("0"), 2, dust=D("0.00001")) is None
    assert p.quantity == D("0.0000196")


def test_dust_never_flattens_an_increase_or_an_unreduced_position():
    assert not leaves_dust(D("0"), D("0.000005"), D("0.00001"))  # an opening fill
    assert not leaves_dust(D("0.000002"), D("0.000005"), D("0.00001"))  # an increase
    assert not leaves_dust(D("0.0004"), D("-0.000005"), D("0.00001"))  # a flip
    assert leaves_dust(D("-0.0004"), D("-0.000005"), D("0.00001"))  # a short's remainder
    assert not leaves_dust(D("0.0004"), D("0.000005"), D("0"))  # no known step
