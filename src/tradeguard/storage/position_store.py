"""Positions, balances and balance adjustments."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, delete, select, update

from tradeguard.model import ZERO, Balance, ClosedTrade, Position
from tradeguard.model.enums import Side
from tradeguard.storage.rows import (
    POSITION_CLOSED,
    POSITION_OPEN,
    flat_position_from_row,
    new_id,
    now_ms,
    position_from_row,
    position_row,
    side_name,
)
from tradeguard.storage.tables import balance_adjustments, positions
from tradeguard.storage.tables import balances as balances_table
from tradeguard.storage.unit_of_work import StorageCore
from tradeguard.storage.write_batch import WriteBatch


class PositionStore(StorageCore):
    """Read and write positions and balances."""

    # balance adjustments this process recorded: the node counts them before its next equity
    adjustments_recorded = 0

    # positions ---------------------------------------------------------------------------------
    def save_position(self, pos: Position, mark: Decimal | None = None) -> None:
        """Upsert the open row of `pos`'s (venue, symbol, strategy); a flat one only updates it."""
        row = position_row(pos, mark)
        if pos.quantity == ZERO:
            # Flat: refresh an existing open row (closing is close_position's job), never create.
            row["key_venue"], row["key_symbol"] = pos.venue, pos.symbol
            row["key_strategy_id"] = pos.strategy_id
            self._run(self._flat_position_stmt, row)
            return
        batch = self._batch()
        if batch is not None:
            self._open_position_keys(batch).add((pos.venue, pos.symbol, pos.strategy_id))
        self._run(self._save_position_stmt, row)

    def _open_position_keys(self, batch: WriteBatch) -> set[tuple[str, str, str]]:
        """The keys with an open row, as a write batch tracks them (read when first needed)."""
        keys = batch.open_positions
        if keys is None:
            stmt = select(positions.c.venue, positions.c.symbol, positions.c.strategy_id).where(
                positions.c.status == POSITION_OPEN
            )
            keys = batch.open_positions = {(r[0], r[1], r[2]) for r in self._read(stmt)}
        return keys

    def close_position(self, trade: ClosedTrade, pos: Position) -> None:
        """Mark the open row of the trade's key closed with exit price, time and P&L."""
        values: dict[str, Any] = {
            "status": POSITION_CLOSED,
            "side": side_name(trade.side),
            "quantity": trade.amount,
            "entry_price": trade.entry_price,
            "entry_ts": trade.opened_ts,
            "exit_price": trade.exit_price,
            "exit_ts": trade.closed_ts,
            "pnl": trade.pnl,
            "pnl_pct": trade.pnl_pct,
            "realized_pnl": pos.realized_pnl,
            "fees": pos.fees,
            "current_price": trade.exit_price,
            "unrealized_pnl": ZERO,
            "last_exit_price": trade.exit_price,
            "updated_ts": trade.closed_ts,
            "exit_trade_id": trade.trade_id or None,
        }
        key = {
            "key_venue": trade.venue,
            "key_symbol": trade.symbol,
            "key_strategy_id": trade.strategy_id,
        }
        batch = self._batch()
        if batch is not None:
            open_keys = self._open_position_keys(batch)
            trip = (trade.venue, trade.symbol, trade.strategy_id)
            if trip in open_keys:
                open_keys.discard(trip)
                self._run(self._close_position_stmt, {**values, **key})
                return
        elif self._run(self._close_position_stmt, {**values, **key}):
            return
        # The position opened and closed without an open row being saved: record the trip anyway.
        row = {
            "venue": trade.venue,
            "symbol": trade.symbol,
            "strategy_id": trade.strategy_id,
            "stop_loss": None,
            "take_profit": None,
            "trip_pnl": trade.pnl,
            "trip_max_qty": trade.amount,
            "trip_entry": trade.entry_price,
            **values,
        }
        self._write(positions.insert(), row)

    def drop_open_position(self, venue: str, symbol: str, strategy_id: str) -> None:
        """Delete the open row of (venue, symbol, strategy): a position that never existed (its
        only fill failed at the venue), so no round trip closed; earlier closed rows stay."""
        batch = self._batch()
        if batch is not None:
            self._open_position_keys(batch).discard((venue, symbol, strategy_id))
        self._write(
            delete(positions).where(
                (positions.c.status == POSITION_OPEN)
                & (positions.c.venue == venue)
                & (positions.c.symbol == symbol)
                & (positions.c.strategy_id == strategy_id)
            )
        )

    def load_open_positions(self) -> list[Position]:
        """Return every open position as a model Position (signed quantity)."""
        stmt = select(positions).where(positions.c.status == POSITION_OPEN).order_by(positions.c.id)
        return [position_from_row(r) for r in self._read(stmt)]

    def load_flat_positions(self) -> list[Position]:
        """Return, for each key with no open row, its position as its last close left it (flat,
        with the running realized P&L and fees)."""
        open_keys = {(p.venue, p.symbol, p.strategy_id) for p in self.load_open_positions()}
        stmt = (
            select(positions).where(positions.c.status == POSITION_CLOSED).order_by(positions.c.id)
        )
        last: dict[tuple[str, str, str], Row[Any]] = {}
        for r in self._read(stmt):
            key = (r.venue, r.symbol, r.strategy_id)
            if key not in open_keys:
                last[key] = r
        return [flat_position_from_row(r) for r in last.values()]

    def closed_trip(
        self,
        venue: str,
        symbol: str,
        strategy_id: str,
        exit_ts: int,
        exit_price: Decimal,
        trade_id: str = "",
    ) -> ClosedTrade | None:
        """The round trip of (venue, symbol, strategy) the trade `trade_id` closed at `exit_ts`
        and `exit_price`, or None: what a restart leaves of a trip closed before it. A row
        naming its closing trade is matched by it; one naming none (closed before the rows
        named it) by its time and price, the newest such."""
        stmt = (
            select(positions)
            .where(
                (positions.c.status == POSITION_CLOSED)
                & (positions.c.venue == venue)
                & (positions.c.symbol == symbol)
                & (positions.c.strategy_id == strategy_id)
                & (positions.c.exit_ts == exit_ts)
            )
            .order_by(positions.c.id.desc())
        )
        rows = self._read(stmt)
        named = [r for r in rows if trade_id and r.exit_trade_id == trade_id]
        for r in named or [r for r in rows if r.exit_trade_id is None]:
            if r.exit_price == exit_price:
                return ClosedTrade(
                    venue=r.venue, symbol=r.symbol, strategy_id=r.strategy_id,
                    side=Side.SELL if r.side == "short" else Side.BUY,
                    entry_price=r.entry_price, exit_price=r.exit_price, amount=r.quantity,
                    pnl=r.pnl, pnl_pct=r.pnl_pct or ZERO, opened_ts=r.entry_ts,
                    closed_ts=r.exit_ts, trade_id=r.exit_trade_id or "",
                )  # fmt: skip
        return None

    def drop_closed_trip(self, trip: ClosedTrade) -> bool:
        """Delete the closed row of the round trip `trip` (a close whose fill FAILED at the
        venue: it never happened), matched on every figure stored of it (another trip closed
        in the same second at the same price differs in one; rows alike in all are the same
        trip's twins); tell whether one was deleted."""
        c = positions.c
        stmt = (
            select(positions)
            .where(
                (c.status == POSITION_CLOSED)
                & (c.venue == trip.venue)
                & (c.symbol == trip.symbol)
                & (c.strategy_id == trip.strategy_id)
                & (c.exit_ts == trip.closed_ts)
                & (c.entry_ts == trip.opened_ts)
                & (c.side == side_name(trip.side))
            )
            .order_by(c.id.desc())
        )
        for r in self._read(stmt):
            if r.exit_trade_id and trip.trade_id and r.exit_trade_id != trip.trade_id:
                continue  # another trade's close
            if (r.exit_price, r.entry_price, r.quantity, r.pnl) == (
                trip.exit_price, trip.entry_price, trip.amount, trip.pnl
            ):  # fmt: skip
                self._write(delete(positions).where(c.id == r.id))
                return True
        return False

    def closed_pnls(self, strategy_id: str | None = None) -> list[Decimal]:
        """Return the P&L of every closed position that has one, newest first."""
        stmt = select(positions.c.pnl).where(
            positions.c.status == POSITION_CLOSED, positions.c.pnl.is_not(None)
        )
        if strategy_id is not None:
            stmt = stmt.where(positions.c.strategy_id == strategy_id)
        return [r[0] for r in self._read(stmt.order_by(positions.c.id.desc()))]

    def load_position_rows(
        self,
        status: str | None = None,
        strategy_id: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Return position rows as dicts (Decimals intact), newest first; status open|closed."""
        stmt = select(positions)
        if status is not None:
            stmt = stmt.where(positions.c.status == status)
        if strategy_id is not None:
            stmt = stmt.where(positions.c.strategy_id == strategy_id)
        stmt = stmt.order_by(positions.c.id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        return [dict(r._mapping) for r in self._read(stmt)]

    # balances ----------------------------------------------------------------------------------
    def upsert_balances(
        self,
        venue: str,
        balances: list[Balance],
        usd_values: Mapping[str, Decimal] | None = None,
        ts: int | None = None,
        elsewhere: Collection[str] = (),
    ) -> None:
        """Insert or update one row per asset; without usd_values the stored USD value is kept.

        `elsewhere`: the assets valued at another venue's price (this one had none)."""
        if not balances:
            return
        batch = self._batch()
        if batch is not None:
            self._hold_balances(batch, venue, balances, usd_values, ts, elsewhere)
            return
        now = now_ms() if ts is None else ts
        rows = [
            {
                "venue": venue,
                "asset": b.asset,
                "free": b.free,
                "locked": b.locked,
                "total": b.total,
                "usd_value": usd_values.get(b.asset) if usd_values is not None else None,
                "updated_ts": now,
                "priced_elsewhere": b.asset in elsewhere if usd_values is not None else None,
            }
            for b in balances
        ]
        stmt = (
            self._upsert_balance_stmt
            if usd_values is not None
            else self._upsert_balance_keep_usd_stmt
        )
        self._run_many(stmt, rows)

    def _hold_balances(
        self,
        batch: WriteBatch,
        venue: str,
        balances: list[Balance],
        usd_values: Mapping[str, Decimal] | None,
        ts: int | None,
        elsewhere: Collection[str],
    ) -> None:
        """Hold the last row per (venue, asset); a row keeping the USD value takes the held one."""
        now = now_ms() if ts is None else ts
        full, keep_usd = self._upsert_balance_stmt, self._upsert_balance_keep_usd_stmt
        for b in balances:
            row: dict[str, Any] = {
                "venue": venue, "asset": b.asset, "free": b.free, "locked": b.locked,
                "total": b.total, "usd_value": None, "updated_ts": now, "priced_elsewhere": None,
            }  # fmt: skip
            stmt = full
            if usd_values is not None:
                row["usd_value"] = usd_values.get(b.asset)
                row["priced_elsewhere"] = b.asset in elsewhere
            else:
                stmt = keep_usd
                held = batch.held(balances_table.name, (venue, b.asset))
                if held is not None and held[0] is full:
                    stmt, row["usd_value"] = full, held[1]["usd_value"]
                    row["priced_elsewhere"] = held[1]["priced_elsewhere"]
            batch.add_keyed(stmt, (venue, b.asset), row, snapshot=False)
        self._tx.dirty = True

    def load_balances(self, venue: str | None = None) -> list[Balance]:
        """Return stored balances, by venue then asset."""
        stmt = select(
            balances_table.c.venue,
            balances_table.c.asset,
            balances_table.c.free,
            balances_table.c.locked,
        )
        if venue is not None:
            stmt = stmt.where(balances_table.c.venue == venue)
        stmt = stmt.order_by(balances_table.c.venue, balances_table.c.asset)
        return [Balance(r.venue, r.asset, r.free, r.locked) for r in self._read(stmt)]

    def load_balance_rows(self, venue: str | None = None) -> list[dict[str, Any]]:
        """Return stored balance rows as dicts, including total, usd_value and updated_ts."""
        stmt = select(balances_table)
        if venue is not None:
            stmt = stmt.where(balances_table.c.venue == venue)
        stmt = stmt.order_by(balances_table.c.venue, balances_table.c.asset)
        return [dict(r._mapping) for r in self._read(stmt)]

    def record_balance_adjustment(
        self,
        venue: str,
        asset: str,
        ledger_total: Decimal,
        venue_total: Decimal,
        reason: str,
        ts: int,
        declares: int | None = None,
    ) -> int:
        """Record a reconciliation correction (difference = venue_total - ledger_total);
        `declares`: the adjustment a withdrawal declared after the fact names."""
        result = self._write(
            balance_adjustments.insert(),
            {
                "venue": venue,
                "asset": asset,
                "ledger_total": ledger_total,
                "venue_total": venue_total,
                "difference": venue_total - ledger_total,
                "reason": reason,
                "ts": ts,
                "declares": declares,
            },
        )
        self.adjustments_recorded += 1  # the node counts the new one before its next equity
        return new_id(result)

    def load_uncounted_adjustments(self, after_id: int | None = None) -> list[dict[str, Any]]:
        """Return the balance adjustments whose money is not counted yet (above `after_id`,
        the count's floor), oldest first."""
        c = balance_adjustments.c
        stmt = select(balance_adjustments).where(c.counted_ts.is_(None))
        if after_id is not None:
            stmt = stmt.where(c.id > after_id)
        return [dict(r._mapping) for r in self._read(stmt.order_by(c.id))]

    def mark_adjustments_counted(self, ids: list[int], ts: int) -> None:
        """Mark the adjustments `ids` counted at `ts` (in the caller's transaction)."""
        if ids:
            c = balance_adjustments.c
            self._write(update(balance_adjustments).where(c.id.in_(ids)).values(counted_ts=ts))

    def load_balance_adjustments(
        self, venue: str | None = None, after_id: int | None = None
    ) -> list[dict[str, Any]]:
        """Return recorded balance corrections (those with an id above `after_id`), newest first."""
        stmt = select(balance_adjustments)
        if venue is not None:
            stmt = stmt.where(balance_adjustments.c.venue == venue)
        if after_id is not None:
            stmt = stmt.where(balance_adjustments.c.id > after_id)
        stmt = stmt.order_by(balance_adjustments.c.id.desc())
        return [dict(r._mapping) for r in self._read(stmt)]
