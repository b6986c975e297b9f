"""Which merge or netting sales a start hands to the held legs (`held_merge.unbooked`): only
sales of a lone leg's own venue and symbol, since its held record, that no record names."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.model.fill import Fill
from tradeguard.strategies.cross_venue.held_merge import unbooked
from tradeguard.strategies.cross_venue.limits import LimitBook, OpenPair

D = Decimal
YES = "m:YES/PUSD"


def _sale(cid: str, ts: int, symbol: str = YES, venue: str = "polymarket", side=Side.SELL):
    return Fill(venue, symbol, cid, cid, f"net-{cid}", side, D("0.4"), D(5), D(0), "PUSD",
                LiquiditySide.MAKER, ts)  # fmt: skip


def _row(rid: int, ts: int, cids: tuple[str, ...] = ()) -> dict[str, Any]:
    legs = [{"client_order_id": c} for c in cids]
    return {"id": rid, "ts": ts, "legs": {"legs": [], "unwinds": legs}}


def test_only_unnamed_sales_of_the_held_leg_since_its_record_are_handed_over() -> None:
    lone = OpenPair("p", "ev", 0, D(10), D(5), 0, ("polymarket",), (YES,), record_id=2)
    executor = SimpleNamespace(book=LimitBook(open=[lone]))
    rows = [_row(1, 100, ("net-old",)), _row(2, 200), _row(3, 300, ("net-named",))]
    asked: list[int] = []
    sales = [
        _sale("net-named", 250),  # its record was written: settled before
        _sale("net-other", 260, symbol="m:NO/PUSD"),  # not the held leg's symbol
        _sale("net-kalshi", 270, venue="kalshi"),  # nor its venue
        _sale("net-buy", 280, side=Side.BUY),  # no sale
        _sale("net-missed", 290),  # booked, its record lost to a kill
    ]

    def load(since: int) -> list[Fill]:
        asked.append(since)
        return [f for f in sales if f.ts >= since]

    found = unbooked(executor, rows, load)  # type: ignore[arg-type]
    assert [f.client_order_id for f in found] == ["net-missed"]
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
    executor = SimpleNamespace(book=LimitBook(open=[second]))
    settled = {"client_order_id": "net-x", "filled": "10", "fee": "0.01"}
    rows = [_row(2, 100), _row(3, 200), {"id": 4, "ts": 300, "legs": {"legs": [],
            "unwinds": [settled], "code": "HELD_NETTED", "retry_of": 2}}]  # fmt: skip
    sale = dataclasses.replace(_sale("net-x", 290), amount=D(15), fee=D("0.01"))

    found = unbooked(executor, rows, lambda since: [sale])  # type: ignore[arg-type]
    assert [(f.client_order_id, f.amount, f.fee) for f in found] == [("net-x", D(5), D(0))]


def test_a_sale_whose_records_settled_all_of_it_is_not_handed_over_again() -> None:
    lone = OpenPair("p", "ev", 0, D(10), D(5), 0, ("polymarket",), (YES,), record_id=3)
    executor = SimpleNamespace(book=LimitBook(open=[lone]))
    parts = [{"client_order_id": "net-x", "filled": q, "fee": "0"} for q in ("10", "5")]
    rows = [_row(3, 200)] + [
        {"id": 4 + i, "ts": 300 + i, "legs": {"legs": [], "unwinds": [p], "code": "HELD_NETTED"}}
        for i, p in enumerate(parts)
    ]
    sale = dataclasses.replace(_sale("net-x", 290), amount=D(15))
    assert unbooked(executor, rows, lambda since: [sale]) == []  # type: ignore[arg-type]
