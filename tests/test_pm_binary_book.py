from decimal import Decimal

import pytest

from tradeguard.model.outcome import Outcome
from tradeguard.sandbox.binary_book import FOK, IOC, BinaryBook, BinaryOrder, BookReject

D = Decimal


def order(oid, account, outcome, buy, price, size, **kw):
    return BinaryOrder(oid, account, "M", outcome, buy, D(price), D(size), **kw)


def book():
    b = BinaryBook()
    b.add_market("M")
    return b


def test_yes_buyer_meets_no_buyer_at_complementary_price():
    b = book()
    b.submit(order("n1", "a", Outcome.NO, True, "0.55", "10"))  # a YES ask at 0.45
    trades = b.submit(order("y1", "b", Outcome.YES, True, "0.50", "4"))
    assert len(trades) == 1
    t = trades[0]
    assert (t.size, t.yes_price) == (D(4), D("0.45"))
    assert t.taker.cost == D("1.80") and t.maker.cost == D("2.20")  # together they pay 1 each
    assert b.levels("M") == ([], [(D("0.45"), D(6))])


def test_no_seller_is_a_yes_bid():
    b = book()
    b.submit(order("s", "a", Outcome.NO, False, "0.60", "5"))
    assert b.levels("M") == ([(D("0.40"), D(5))], [])


def test_fill_or_kill_without_enough_liquidity_leaves_no_trace():
    b = book()
    b.submit(order("n1", "a", Outcome.NO, True, "0.55", "3"))
    with pytest.raises(BookReject, match="finds only 3"):
        b.submit(order("y", "b", Outcome.YES, True, "0.50", "5", tif=FOK))
    assert "y" not in b.orders and b.levels("M")[1] == [(D("0.45"), D(3))]


def test_immediate_or_cancel_rests_nothing_and_self_trade_stops_the_taker():
    b = book()
    b.submit(order("n1", "a", Outcome.NO, True, "0.55", "3"))
    ioc = order("y", "b", Outcome.YES, True, "0.40", "5", tif=IOC)
    assert b.submit(ioc) == [] and ioc.status == "canceled"
    own = order("y2", "a", Outcome.YES, True, "0.50", "2")
    assert b.submit(own) == [] and own.status == "canceled"


def test_post_only_that_would_cross_is_refused():
    b = book()
    b.submit(order("n1", "a", Outcome.NO, True, "0.55", "3"))
    with pytest.raises(BookReject, match="post-only"):
        b.submit(order("y", "b", Outcome.YES, True, "0.46", "1", post_only=True))
