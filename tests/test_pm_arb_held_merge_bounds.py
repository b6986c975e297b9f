"""Which merge or netting sales a start hands to the held legs (`held_merge.unbooked`): only
sales of a lone leg's own venue and symbol, since its held record, that no record names."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from tradeguard.execution.outcome_netting import netting_id
from tradeguard.model.enums import LiquiditySide, OrderType, Side
from tradeguard.model.fill import Fill
from tradeguard.model.order import Order
from tradeguard.model.outcome import Outcome
from tradeguard.strategies.cross_venue.held_merge import (
    is_netting,
    netted_fill,
    netting_sale,
    unbooked,
)
from tradeguard.strategies.cross_venue.limits import LimitBook, OpenPair

D = Decimal
YES = "m:YES/PUSD"


def _cid(seed: str) -> str:
    """The id the node gives a netting order (`net` + 24 hex digits), `seed` its netting."""
    return netting_id("polymarket", seed, Outcome.YES, "pmarb")


def _sale(cid: str, ts: int, symbol: str = YES, venue: str = "polymarket", side=Side.SELL):
    return Fill(venue, symbol, cid, cid, f"net-{cid}", side, D("0.4"), D(5), D(0), "PUSD",
                LiquiditySide.MAKER, ts)  # fmt: skip


def _journal(sales: list[Fill], netting: bool = True) -> dict[str, Any]:
    """Gateways whose journal holds each sale's order: a netting order (signal `netting`, as
    the node stores it) unless `netting` is False (an order of the venue's or a person's)."""
    orders = {
        f.client_order_id: Order(
            f.client_order_id, "pmarb", f.venue, f.symbol, f.side, OrderType.MARKET, f.amount,
            f.price, signal={"netting": "seed"} if netting else {},
        )
        for f in sales
    }  # fmt: skip

    gateway = SimpleNamespace(journaled_order=orders.get)
    return {"polymarket": gateway, "kalshi": gateway}


def _row(rid: int, ts: int, cids: tuple[str, ...] = ()) -> dict[str, Any]:
    legs = [{"client_order_id": c} for c in cids]
    return {"id": rid, "ts": ts, "legs": {"legs": [], "unwinds": legs}}


def test_only_unnamed_sales_of_the_held_leg_since_its_record_are_handed_over() -> None:
    lone = OpenPair("p", "ev", 0, D(10), D(5), 0, ("polymarket",), (YES,), record_id=2)
    rows = [_row(1, 100, (_cid("net-old"),)), _row(2, 200), _row(3, 300, (_cid("net-named"),))]
    asked: list[int] = []
    sales = [
        _sale(_cid("net-named"), 250),  # its record was written: settled before
        _sale(_cid("net-other"), 260, symbol="m:NO/PUSD"),  # not the held leg's symbol
        _sale(_cid("net-kalshi"), 270, venue="kalshi"),  # nor its venue
        _sale(_cid("net-buy"), 280, side=Side.BUY),  # no sale
        _sale(_cid("net-missed"), 290),  # booked, its record lost to a kill
    ]
    executor = SimpleNamespace(book=LimitBook(open=[lone]), gateways=_journal(sales))

    def load(since: int) -> list[Fill]:
        asked.append(since)
        return [f for f in sales if f.ts >= since]

    found = unbooked(executor, rows, load)  # type: ignore[arg-type]
    assert [f.client_order_id for f in found] == [_cid("net-missed")]
    assert asked == [200]  # from the held record on: no earlier sale could be its


def test_nothing_is_read_when_no_leg_is_held_alone() -> None:
    pair = OpenPair("p", "ev", 0, D(10), D(5), 0, ("polymarket", "kalshi"), (YES, "k:NO/USD"))
    executor = SimpleNamespace(book=LimitBook(open=[pair]))

    def load(since: int) -> list[Fill]:
        raise AssertionError("read with nothing held alone")

    assert unbooked(executor, [_row(1, 100)], load) == []  # type: ignore[arg-type]


def test_a_sale_split_over_two_held_records_hands_over_what_a_kill_left_unsettled() -> None:
    # 15 merged over two lone legs of 10 (oldest first): the first's record (10 of the sale)
    # was written, a kill came before the second's. The 5 left are still to settle its leg.
    second = OpenPair("p", "ev", 0, D(10), D(5), 0, ("polymarket",), (YES,), record_id=3)
    sale = dataclasses.replace(_sale(_cid("net-x"), 290), amount=D(15), fee=D("0.01"))
    executor = SimpleNamespace(book=LimitBook(open=[second]), gateways=_journal([sale]))
    settled = {"client_order_id": _cid("net-x"), "filled": "10", "fee": "0.01"}
    rows = [_row(2, 100), _row(3, 200), {"id": 4, "ts": 300, "legs": {"legs": [],
            "unwinds": [settled], "code": "HELD_NETTED", "retry_of": 2}}]  # fmt: skip

    found = unbooked(executor, rows, lambda since: [sale])  # type: ignore[arg-type]
    assert [(f.client_order_id, f.amount, f.fee) for f in found] == [(_cid("net-x"), D(5), D(0))]


def test_a_sale_whose_records_settled_all_of_it_is_not_handed_over_again() -> None:
    lone = OpenPair("p", "ev", 0, D(10), D(5), 0, ("polymarket",), (YES,), record_id=3)
    sale = dataclasses.replace(_sale(_cid("net-x"), 290), amount=D(15))
    executor = SimpleNamespace(book=LimitBook(open=[lone]), gateways=_journal([sale]))
    parts = [{"client_order_id": _cid("net-x"), "filled": q, "fee": "0"} for q in ("10", "5")]
    rows = [_row(3, 200)] + [
        {"id": 4 + i, "ts": 300 + i, "legs": {"legs": [], "unwinds": [p], "code": "HELD_NETTED"}}
        for i, p in enumerate(parts)
    ]
    assert unbooked(executor, rows, lambda since: [sale]) == []  # type: ignore[arg-type]


def test_a_sale_whose_own_order_id_starts_with_net_is_no_netting() -> None:
    # A sale the venue or a person made, whose order and trade ids happen to start with
    # `net-`: its journaled order carries no `netting` signal, so it settles no held leg
    # (before: taken for the node's netting by its id alone, and the held leg closed by it).
    lone = OpenPair("p", "ev", 0, D(10), D(5), 0, ("polymarket",), (YES,), record_id=2)
    sale = _sale("net-by-hand", 290)
    executor = SimpleNamespace(book=LimitBook(open=[lone]), gateways=_journal([sale], False))
    assert unbooked(executor, [_row(2, 200)], lambda since: [sale]) == []  # type: ignore[arg-type]
    assert netted_fill(executor, sale) == []  # type: ignore[arg-type]
    assert executor.book.open == [lone]  # still held
    assert not is_netting(sale, None)  # an order the journal does not know: none either


def test_the_nodes_netting_sale_is_told_by_its_signal_and_own_id_whatever_its_trade_id() -> None:
    sale = dataclasses.replace(_sale(_cid("k9"), 290), trade_id="T-1")  # no `net` trade id
    lone = OpenPair("p", "ev", 0, D(10), D(5), 0, ("polymarket",), (YES,), record_id=2)
    executor = SimpleNamespace(book=LimitBook(open=[lone]), gateways=_journal([sale]))
    assert netting_sale(executor, sale)  # type: ignore[arg-type]
    assert [f.client_order_id for f in unbooked(executor, [_row(2, 200)], lambda s: [sale])] == [
        _cid("k9")
    ]  # type: ignore[arg-type]


def test_a_sent_order_whose_signal_carries_netting_is_no_netting() -> None:
    # a caller's order (an id the order path gives, not a netting's) with a `netting` key in
    # its signal: it settles no held leg
    sale = _sale("tg0abcdefghi-3", 290)
    lone = OpenPair("p", "ev", 0, D(10), D(5), 0, ("polymarket",), (YES,), record_id=2)
    executor = SimpleNamespace(book=LimitBook(open=[lone]), gateways=_journal([sale]))
    assert not netting_sale(executor, sale)  # type: ignore[arg-type]
    assert unbooked(executor, [_row(2, 200)], lambda s: [sale]) == []  # type: ignore[arg-type]
    assert netted_fill(executor, sale) == []  # type: ignore[arg-type]
    assert executor.book.open == [lone]
