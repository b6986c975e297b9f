"""Orders, their transitions and their fills in the journal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from tradeguard.model import ZERO, Fill, Order
from tradeguard.model.fill import fee_in_quote
from tradeguard.storage.rows import (
    OPEN_STATUSES,
    fill_from_row,
    fill_row,
    order_from_row,
    order_row,
)
from tradeguard.storage.tables import fills, order_transitions, orders
from tradeguard.storage.unit_of_work import StorageCore

_IN_CHUNK = 500


class OrderStore(StorageCore):
    """Read and write orders, transitions and fills."""

    # orders ------------------------------------------------------------------------------------
    def upsert_order(self, order: Order) -> None:
        """Insert or replace the journal row of `order` (keyed by client order id)."""
        batch = self._batch()
        if batch is not None:
            # Only the last state of an order reaches the commit; its row holds plain values.
            batch.add_keyed(
                self._upsert_order_stmt, order.client_order_id, order_row(order), snapshot=False
            )
            self._tx.dirty = True
            return
        self._run(self._upsert_order_stmt, order_row(order))

    def get_order(self, client_order_id: str) -> Order | None:
        """Return the journaled order, with its trade ids rebuilt from fills, or None."""
        rows = self._read(select(orders).where(orders.c.client_order_id == client_order_id))
        if not rows:
            return None
        return self._with_trade_ids([order_from_row(rows[0])])[0]

    def get_order_alone(self, client_order_id: str) -> Order | None:
        """Return the journaled order as its row holds it, or None: one read, no fill (its
        trade ids stay empty; `get_order` rebuilds them)."""
        rows = self._read(select(orders).where(orders.c.client_order_id == client_order_id))
        return order_from_row(rows[0]) if rows else None

    def load_orders(
        self,
        *,
        open_only: bool = False,
        venue: str | None = None,
        symbol: str | None = None,
        strategy_id: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Order]:
        """Return journaled orders, newest first, with trade ids rebuilt from fills."""
        stmt = select(orders)
        if open_only:
            stmt = stmt.where(orders.c.status.in_(OPEN_STATUSES))
        if venue is not None:
            stmt = stmt.where(orders.c.venue == venue)
        if symbol is not None:
            stmt = stmt.where(orders.c.symbol == symbol)
        if strategy_id is not None:
            stmt = stmt.where(orders.c.strategy_id == strategy_id)
        stmt = stmt.order_by(orders.c.created_ts.desc(), orders.c.client_order_id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        if offset:
            stmt = stmt.offset(offset)
        return self._with_trade_ids([order_from_row(r) for r in self._read(stmt)])

    def count_orders(self) -> int:
        """Return how many orders the journal holds."""
        return int(self._read(select(func.count()).select_from(orders))[0][0])

    def _with_trade_ids(self, loaded: list[Order]) -> list[Order]:
        by_cid = {o.client_order_id: o for o in loaded}
        cids = list(by_cid)
        for start in range(0, len(cids), _IN_CHUNK):
            chunk = cids[start : start + _IN_CHUNK]
            stmt = select(fills.c.client_order_id, fills.c.trade_id).where(
                fills.c.client_order_id.in_(chunk)
            )
            for cid, trade_id in self._read(stmt):
                by_cid[cid].trade_ids.add(trade_id)
        return loaded

    def record_transition(
        self, client_order_id: str, from_status: str, to_status: str, ts: int, reason: str = ""
    ) -> None:
        """Journal one state change of an order (the order row must exist)."""
        self._run(
            self._insert_transition_stmt,
            {
                "client_order_id": client_order_id,
                "ts": ts,
                "from_status": str(from_status),
                "to_status": str(to_status),
                "reason": reason,
            },
        )

    def load_transitions(self, client_order_id: str) -> list[dict[str, Any]]:
        """Return the journaled state changes of one order, oldest first."""
        stmt = (
            select(order_transitions)
            .where(order_transitions.c.client_order_id == client_order_id)
            .order_by(order_transitions.c.id)
        )
        return [dict(r._mapping) for r in self._read(stmt)]

    # fills -------------------------------------------------------------------------------------
    def insert_fill(self, fill: Fill, strategy_id: str = "") -> bool:
        """Store a fill once; return False (writing nothing) if its trade id is already stored."""
        row = fill_row(fill, strategy_id)
        batch = self._batch()
        if batch is not None:
            keys = batch.fill_keys
            if keys is None:
                keys = batch.fill_keys = self._stored_fill_keys()
            key = (row["venue"], row["symbol"], row["trade_id"], row["side"])
            if key in keys:
                return False
            keys.add(key)
            self._run(self._insert_fill_batch_stmt, row)
            return True
        new_id = self._run(self._insert_fill_stmt, row)
        return new_id is not None

    def _stored_fill_keys(self) -> set[tuple[str, str, str, str]]:
        stmt = select(fills.c.venue, fills.c.symbol, fills.c.trade_id, fills.c.side)
        return {(r[0], r[1], r[2], r[3]) for r in self._read(stmt)}

    def load_fills(
        self,
        *,
        venue: str | None = None,
        symbol: str | tuple[str, ...] | None = None,
        client_order_id: str | None = None,
        strategy_id: str | None = None,
        since_ts: int | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[Fill]:
        """Return stored fills, oldest first (the order to replay them in) unless newest_first."""
        stmt = _fills_query(venue, symbol, since_ts)
        if client_order_id is not None:
            stmt = stmt.where(fills.c.client_order_id == client_order_id)
        if strategy_id is not None:
            stmt = stmt.where(fills.c.strategy_id == strategy_id)
        if newest_first:
            stmt = stmt.order_by(fills.c.ts.desc(), fills.c.id.desc())
        else:
            stmt = stmt.order_by(fills.c.ts, fills.c.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        if offset:
            stmt = stmt.offset(offset)
        return [fill_from_row(r) for r in self._read(stmt)]

    def fill_pages(
        self,
        *,
        venue: str | None = None,
        symbol: str | None = None,
        since_ts: int | None = None,
        until_ts: int | None = None,
        page: int = 5000,
    ) -> Any:
        """Yield (fill, strategy id) oldest first, `page` rows a query (an export of any size)."""
        stmt = _fills_query(venue, symbol, since_ts)
        if until_ts is not None:
            stmt = stmt.where(fills.c.ts < until_ts)
        stmt = stmt.order_by(fills.c.ts, fills.c.id)
        after: tuple[int, int] | None = None
        while True:
            query = (
                stmt
                if after is None
                else stmt.where(
                    (fills.c.ts > after[0]) | ((fills.c.ts == after[0]) & (fills.c.id > after[1]))
                )
            )
            rows = self._read(query.limit(page))
            for r in rows:
                yield fill_from_row(r), r.strategy_id
            if len(rows) < page:
                return
            after = (rows[-1].ts, rows[-1].id)

    def fill_fees(self) -> tuple[int, Decimal]:
        """Return how many fills are stored and the sum of their fees, each in its quote asset."""
        stmt = select(
            fills.c.symbol, fills.c.price, fills.c.fee, fills.c.fee_asset, fills.c.fee_quote
        ).order_by(fills.c.ts, fills.c.id)
        n, total = 0, ZERO
        for symbol, price, fee, fee_asset, fee_quote in self._read(stmt):
            n += 1
            total += (
                fee_quote if fee_quote is not None else fee_in_quote(symbol, price, fee, fee_asset)
            )
        return n, total

    def count_fills(self) -> int:
        """Return how many fills are stored."""
        return int(self._read(select(func.count()).select_from(fills))[0][0])

    def fill_keys(self, venue: str, symbol: str) -> set[tuple[str, str]]:
        """Return every stored (trade id, side) of one venue and symbol (for replay dedup)."""
        stmt = select(fills.c.trade_id, fills.c.side).where(
            fills.c.venue == venue, fills.c.symbol == symbol
        )
        return {(r[0], r[1]) for r in self._read(stmt)}


def _fills_query(
    venue: str | None, symbol: str | tuple[str, ...] | None, since_ts: int | None
) -> Any:
    """The fills of a venue and symbol (either may be None: all; a tuple: any of those
    symbols) from `since_ts` on."""
    stmt = select(fills)
    if venue is not None:
        stmt = stmt.where(fills.c.venue == venue)
    if isinstance(symbol, tuple):
        stmt = stmt.where(fills.c.symbol.in_(symbol))
    elif symbol is not None:
        stmt = stmt.where(fills.c.symbol == symbol)
    if since_ts is not None:
        stmt = stmt.where(fills.c.ts >= since_ts)
    return stmt
