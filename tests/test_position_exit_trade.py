"""A closed round trip names the trade that closed it (`exit_trade_id`, migration 0010): a
close whose trade FAILED, read after a restart, finds its own row, not another round trip of
the same strategy and market closed in the same second at the same price."""

from __future__ import annotations

from decimal import Decimal

from tradeguard.model.enums import Side
from tradeguard.model.position import ClosedTrade, Position
from tradeguard.storage import Database, Storage
from tradeguard.storage.tables import positions

pytest_plugins = ["storage_fixtures"]

D = Decimal
T, PRICE = 1_796_000_000_000, D("0.55")
KEY = ("polymarket", "m:YES/PUSD", "s1")


def _trip(trade_id: str, amount: Decimal, pnl: Decimal) -> ClosedTrade:
    return ClosedTrade(*KEY, Side.BUY, D("0.50"), PRICE, amount, pnl, D(10), T - 1000, T,
                       trade_id)  # fmt: skip


def _closed(store: Storage) -> list[tuple[Decimal, str | None]]:
    rows = store._read(positions.select().where(positions.c.status == "closed"))
    return sorted((r.quantity, r.exit_trade_id) for r in rows)


def test_a_failed_close_finds_its_own_round_trip_among_two_closed_in_one_second(
    store: Storage,
) -> None:
    """Before, the row was found by its closing time and price alone, the newest first: the
    failed close of 10 (trade tA) found the round trip of 6 closed after it (trade tB), and
    deleted that one."""
    first, second = _trip("tA", D(10), D("0.5")), _trip("tB", D(6), D("0.3"))
    for trip in (first, second):
        store.close_position(trip, Position(*KEY, realized_pnl=trip.pnl))
    found = store.closed_trip(*KEY, T, PRICE, "tA")
    assert found is not None and (found.amount, found.trade_id) == (D(10), "tA")
    assert store.closed_trip(*KEY, T, PRICE, "tZ") is None  # another trade closed neither
    assert store.drop_closed_trip(found)
    assert _closed(store) == [(D(6), "tB")]


def test_a_failed_close_drops_its_own_row_of_two_alike_in_every_figure(store: Storage) -> None:
    """Two round trips alike in every figure closed in one second (trades tA, then tB); tA
    FAILED. Its own row is dropped: the row is matched by the trade that closed it, not by
    its figures alone (the newest such, tB's)."""
    for trade_id in ("tA", "tB"):
        trip = _trip(trade_id, D(10), D("0.5"))
        store.close_position(trip, Position(*KEY, realized_pnl=trip.pnl))
    found = store.closed_trip(*KEY, T, PRICE, "tA")
    assert found is not None and found.trade_id == "tA"
    assert store.drop_closed_trip(found)
    assert _closed(store) == [(D(10), "tB")]


def test_upgrade_from_0009_keeps_closed_rows_found_by_time_and_price(
    storage_db_url: str,
) -> None:
    """A round trip closed before 0010 names no trade: after the upgrade it is still found by
    its closing time and price, and one closed after names its trade."""
    db = Database(storage_db_url)
    db.migrate("0009")
    row = {
        "venue": KEY[0], "symbol": KEY[1], "strategy_id": KEY[2], "side": "long",
        "status": "closed", "quantity": D(10), "entry_price": D("0.50"), "exit_price": PRICE,
        "entry_ts": T - 1000, "exit_ts": T, "realized_pnl": D("0.5"), "fees": D(0),
        "pnl": D("0.5"), "pnl_pct": D(10), "trip_pnl": D("0.5"), "trip_max_qty": D(10),
        "trip_entry": D("0.50"), "last_exit_price": PRICE, "updated_ts": T,
    }  # fmt: skip
    with db.engine.begin() as conn:
        conn.execute(positions.insert().values(**row))
    db.migrate()
    store = Storage(db)
    try:
        old = store.closed_trip(*KEY, T, PRICE, "tA")
        assert old is not None and (old.amount, old.trade_id) == (D(10), "")
        store.close_position(_trip("tB", D(6), D("0.3")), Position(*KEY))
        assert _closed(store) == [(D(6), "tB"), (D(10), None)]
        named = store.closed_trip(*KEY, T, PRICE, "tB")
        assert named is not None and named.amount == D(6)
    finally:
        db.dispose()
