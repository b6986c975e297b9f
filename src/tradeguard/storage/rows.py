"""Row mapping between the domain model and the storage tables, and the run state record."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import CursorResult, Row

from tradeguard.model import (
    ZERO,
    Fill,
    LiquiditySide,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)

OPEN_STATUSES = tuple(s.value for s in OrderStatus if s.is_open)
POSITION_OPEN = "open"
POSITION_CLOSED = "closed"


def now_ms() -> int:
    return int(time.time() * 1000)


def new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("insert returned no primary key")
    return int(key[0])


@dataclass(slots=True)
class RunState:
    """What a strategy has done so far, persisted so a restart resumes where it stopped."""

    strategy_id: str
    status: str = "stopped"
    total_trades: int = 0
    winning_trades: int = 0
    losing_trades: int = 0
    total_pnl: Decimal = ZERO
    daily_pnl: Decimal = ZERO
    daily_pnl_day: str = ""  # ISO date (UTC) that daily_pnl belongs to
    last_signal_ts: int = 0
    last_trade_ts: int = 0
    cursor_ts: int = 0
    state: dict[str, Any] = field(default_factory=dict)
    updated_ts: int = 0


# row mapping -------------------------------------------------------------------------------------
# `member._value_` is `member.value` without the enum property (a Python call): rows of the
# order path are built several times per order.
def order_row(o: Order) -> dict[str, Any]:
    return {
        "client_order_id": o.client_order_id,
        "strategy_id": o.strategy_id,
        "venue": o.venue,
        "symbol": o.symbol,
        "side": o.side._value_,
        "type": o.type._value_,
        "amount": o.amount,
        "price": o.price,
        "time_in_force": o.time_in_force._value_,
        "reduce_only": o.reduce_only,
        "status": o.status._value_,
        "venue_order_id": o.venue_order_id,
        "filled": o.filled,
        "avg_price": o.avg_price,
        "fee": o.fee,
        "price_bound": o.price_bound,
        "stop_loss": o.stop_loss,
        "take_profit": o.take_profit,
        "signal": o.signal,
        "reason": o.reason,
        "created_ts": o.created_ts,
        "updated_ts": o.updated_ts,
        "trigger_price": o.trigger_price,
        "oco_group": o.oco_group,
    }


def _columns(row: Row[Any]) -> SimpleNamespace:
    # A Row answers each attribute through its __getattr__ fallback, at ~1 µs apiece: for the
    # bulk loads (every order and fill of a run) the columns are read out once.
    return SimpleNamespace(**row._asdict())


def order_from_row(row: Row[Any]) -> Order:
    r = _columns(row)
    return Order(
        client_order_id=r.client_order_id,
        strategy_id=r.strategy_id,
        venue=r.venue,
        symbol=r.symbol,
        side=Side(r.side),
        type=OrderType(r.type),
        amount=r.amount,
        price=r.price,
        time_in_force=TimeInForce(r.time_in_force),
        reduce_only=bool(r.reduce_only),
        status=OrderStatus(r.status),
        venue_order_id=r.venue_order_id,
        filled=r.filled,
        avg_price=r.avg_price,
        fee=r.fee,
        created_ts=r.created_ts,
        updated_ts=r.updated_ts,
        reason=r.reason,
        price_bound=r.price_bound,
        stop_loss=r.stop_loss,
        take_profit=r.take_profit,
        signal=dict(r.signal or {}),
        trigger_price=r.trigger_price,
        oco_group=r.oco_group or "",
    )


def fill_row(f: Fill, strategy_id: str) -> dict[str, Any]:
    return {
        "venue": f.venue,
        "symbol": f.symbol,
        "trade_id": f.trade_id,
        "client_order_id": f.client_order_id,
        "venue_order_id": f.venue_order_id,
        "strategy_id": strategy_id,
        "side": f.side._value_,
        "price": f.price,
        "amount": f.amount,
        "fee": f.fee,
        "fee_asset": f.fee_asset,
        "liquidity": f.liquidity._value_,
        "ts": f.ts,
        "fee_quote": f.fee_quote,
    }


def fill_from_row(row: Row[Any]) -> Fill:
    r = _columns(row)
    return Fill(
        venue=r.venue,
        symbol=r.symbol,
        client_order_id=r.client_order_id,
        venue_order_id=r.venue_order_id,
        trade_id=r.trade_id,
        side=Side(r.side),
        price=r.price,
        amount=r.amount,
        fee=r.fee,
        fee_asset=r.fee_asset,
        liquidity=LiquiditySide(r.liquidity),
        ts=r.ts,
        fee_quote=r.fee_quote,
    )


def side_name(side: Side) -> str:
    return "long" if side is Side.BUY else "short"


def position_row(pos: Position, mark: Decimal | None) -> dict[str, Any]:
    return {
        "venue": pos.venue,
        "symbol": pos.symbol,
        "strategy_id": pos.strategy_id,
        "side": "short" if pos.quantity < ZERO else "long",
        "status": POSITION_OPEN,
        "quantity": abs(pos.quantity),
        "entry_price": pos.avg_entry,
        "entry_ts": pos.opened_ts,
        "stop_loss": pos.stop_loss,
        "take_profit": pos.take_profit,
        "realized_pnl": pos.realized_pnl,
        "fees": pos.fees,
        "current_price": mark,
        "unrealized_pnl": pos.unrealized_pnl(mark) if mark is not None else None,
        "exit_price": None,
        "exit_ts": None,
        "pnl": None,
        "pnl_pct": None,
        "trip_pnl": pos.trip_pnl,
        "trip_max_qty": pos.trip_max_qty,
        "trip_entry": pos.trip_entry,
        "last_exit_price": pos.last_exit_price,
        "updated_ts": pos.updated_ts,
        "exit_trade_id": None,  # an open row: no trade closed it yet
    }


def position_from_row(r: Row[Any]) -> Position:
    qty: Decimal = r.quantity
    return Position(
        venue=r.venue,
        symbol=r.symbol,
        strategy_id=r.strategy_id,
        quantity=-qty if r.side == "short" else qty,
        avg_entry=r.entry_price,
        realized_pnl=r.realized_pnl,
        fees=r.fees,
        opened_ts=r.entry_ts,
        updated_ts=r.updated_ts,
        stop_loss=r.stop_loss,
        take_profit=r.take_profit,
        trip_pnl=r.trip_pnl,
        trip_max_qty=r.trip_max_qty,
        trip_entry=r.trip_entry,
        last_exit_price=r.last_exit_price,
    )


def flat_position_from_row(r: Row[Any]) -> Position:
    """The position a closed row leaves behind: flat, with its running P&L, fees, last trip."""
    return Position(
        venue=r.venue, symbol=r.symbol, strategy_id=r.strategy_id,
        realized_pnl=r.realized_pnl, fees=r.fees, opened_ts=r.entry_ts,
        updated_ts=r.updated_ts, stop_loss=r.stop_loss, take_profit=r.take_profit,
        trip_pnl=r.pnl, trip_max_qty=r.quantity, trip_entry=r.trip_entry,
        last_exit_price=r.last_exit_price,
    )  # fmt: skip


def run_state_from_row(r: Row[Any]) -> RunState:
    return RunState(
        strategy_id=r.strategy_id,
        status=r.status,
        total_trades=r.total_trades,
        winning_trades=r.winning_trades,
        losing_trades=r.losing_trades,
        total_pnl=r.total_pnl,
        daily_pnl=r.daily_pnl,
        daily_pnl_day=r.daily_pnl_day,
        last_signal_ts=r.last_signal_ts,
        last_trade_ts=r.last_trade_ts,
        cursor_ts=r.cursor_ts,
        state=dict(r.state or {}),
        updated_ts=r.updated_ts,
    )
