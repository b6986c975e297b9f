"""Initial schema: order journal, transitions, fills, positions, balances, runs, audit log, state.

Revision ID: 0001
Revises:
Create Date: 2024-06-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tradeguard.storage.types import DecimalType, JsonType

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of tables.EVENTS_APPEND_ONLY_DDL as of this revision.
_APPEND_ONLY: dict[str, tuple[str, ...]] = {
    "sqlite": (
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events is append-only: UPDATE refused'); END",
        "CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events is append-only: DELETE refused'); END",
    ),
    "postgresql": (
        "CREATE OR REPLACE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION USING MESSAGE = "
        "'events is append-only: ' || TG_OP || ' refused'; END $$",
        "CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events "
        "FOR EACH ROW EXECUTE FUNCTION events_append_only()",
        "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
        "FOR EACH STATEMENT EXECUTE FUNCTION events_append_only()",
    ),
}


def _id() -> sa.Column[int]:
    # BIGINT on PostgreSQL; SQLite autoincrements only an INTEGER PRIMARY KEY.
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        autoincrement=True,
        nullable=False,
    )


def _s(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(), nullable=nullable)


def _d(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, DecimalType(), nullable=nullable)


def _ts(name: str, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def _j(name: str) -> sa.Column[object]:
    return sa.Column(name, JsonType(), nullable=True)


def upgrade() -> None:
    op.create_table(
        "orders",
        _s("client_order_id"),
        _s("strategy_id"),
        _s("venue"),
        _s("symbol"),
        _s("side"),
        _s("type"),
        _d("amount"),
        _d("price", nullable=True),
        _s("time_in_force"),
        sa.Column("reduce_only", sa.Boolean(), nullable=False),
        _s("status"),
        _s("venue_order_id"),
        _d("filled"),
        _d("avg_price"),
        _d("fee"),
        _d("price_bound", nullable=True),
        _d("stop_loss", nullable=True),
        _d("take_profit", nullable=True),
        _j("signal"),
        sa.Column("reason", sa.Text(), nullable=False),
        _ts("created_ts"),
        _ts("updated_ts"),
        sa.PrimaryKeyConstraint("client_order_id", name=op.f("pk_orders")),
    )
    op.create_index(op.f("ix_orders_status"), "orders", ["status"])
    op.create_index(op.f("ix_orders_venue_symbol"), "orders", ["venue", "symbol"])
    op.create_index(op.f("ix_orders_created_ts"), "orders", ["created_ts"])

    op.create_table(
        "order_transitions",
        _id(),
        _s("client_order_id"),
        _ts("ts"),
        _s("from_status"),
        _s("to_status"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_order_id"],
            ["orders.client_order_id"],
            name=op.f("fk_order_transitions_client_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_transitions")),
    )
    op.create_index(
        op.f("ix_order_transitions_client_order_id"), "order_transitions", ["client_order_id"]
    )

    op.create_table(
        "fills",
        _id(),
        _s("venue"),
        _s("symbol"),
        _s("trade_id"),
        _s("client_order_id"),
        _s("venue_order_id"),
        _s("strategy_id"),
        _s("side"),
        _d("price"),
        _d("amount"),
        _d("fee"),
        _s("fee_asset"),
        _s("liquidity"),
        _ts("ts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fills")),
        sa.UniqueConstraint(
            "venue", "symbol", "trade_id", name=op.f("uq_fills_venue_symbol_trade_id")
        ),
    )
    op.create_index(op.f("ix_fills_client_order_id"), "fills", ["client_order_id"])
    op.create_index(op.f("ix_fills_ts"), "fills", ["ts"])

    op.create_table(
        "positions",
        _id(),
        _s("venue"),
        _s("symbol"),
        _s("strategy_id"),
        _s("side"),
        _s("status"),
        _d("quantity"),
        _d("entry_price"),
        _d("exit_price", nullable=True),
        _ts("entry_ts"),
        _ts("exit_ts", nullable=True),
        _d("stop_loss", nullable=True),
        _d("take_profit", nullable=True),
        _d("realized_pnl"),
        _d("fees"),
        _d("pnl", nullable=True),
        _d("pnl_pct", nullable=True),
        _d("current_price", nullable=True),
        _d("unrealized_pnl", nullable=True),
        _d("trip_pnl"),
        _d("trip_max_qty"),
        _d("trip_entry"),
        _d("last_exit_price"),
        _ts("updated_ts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
    )
    op.create_index(
        "uq_positions_open",
        "positions",
        ["venue", "symbol", "strategy_id"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index(op.f("ix_positions_status_strategy_id"), "positions", ["status", "strategy_id"])

    op.create_table(
        "balances",
        _s("venue"),
        _s("asset"),
        _d("free"),
        _d("locked"),
        _d("total"),
        _d("usd_value", nullable=True),
        _ts("updated_ts"),
        sa.PrimaryKeyConstraint("venue", "asset", name=op.f("pk_balances")),
    )

    op.create_table(
        "balance_adjustments",
        _id(),
        _s("venue"),
        _s("asset"),
        _d("ledger_total"),
        _d("venue_total"),
        _d("difference"),
        sa.Column("reason", sa.Text(), nullable=False),
        _ts("ts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_balance_adjustments")),
    )

    op.create_table(
        "strategy_runs",
        _s("strategy_id"),
        _s("status"),
        sa.Column("total_trades", sa.Integer(), nullable=False),
        sa.Column("winning_trades", sa.Integer(), nullable=False),
        sa.Column("losing_trades", sa.Integer(), nullable=False),
        _d("total_pnl"),
        _d("daily_pnl"),
        _s("daily_pnl_day"),
        _ts("last_signal_ts"),
        _ts("last_trade_ts"),
        _ts("cursor_ts"),
        _j("state"),
        _ts("updated_ts"),
        sa.PrimaryKeyConstraint("strategy_id", name=op.f("pk_strategy_runs")),
    )

    op.create_table(
        "events",
        _id(),
        _ts("ts"),
        _s("kind"),
        _s("severity"),
        _s("venue"),
        _s("symbol"),
        _s("strategy_id"),
        _j("data"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_ts"), "events", ["ts"])
    op.create_index(op.f("ix_events_kind"), "events", ["kind"])
    dialect = op.get_bind().dialect.name
    for statement in _APPEND_ONLY.get(dialect, ()):
        op.execute(statement)

    op.create_table(
        "kv_state",
        _s("key"),
        _j("value"),
        _ts("updated_ts"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_kv_state")),
    )

    op.create_table(
        "api_tokens",
        _s("id"),
        _s("name"),
        _s("role"),
        _s("token_hash"),
        _ts("created_ts"),
        _ts("last_used_ts", nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )

    op.create_table(
        "arb_executions",
        _id(),
        _s("strategy_id"),
        _j("cycle"),
        _s("start_asset"),
        _d("expected_profit_pct", nullable=True),
        _d("actual_profit", nullable=True),
        _d("fees", nullable=True),
        _j("legs"),
        _s("outcome"),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        _ts("ts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_arb_executions")),
    )
    op.create_index(
        op.f("ix_arb_executions_strategy_id_ts"), "arb_executions", ["strategy_id", "ts"]
    )


def downgrade() -> None:
    for table in (
        "arb_executions",
        "api_tokens",
        "kv_state",
        "strategy_runs",
        "balance_adjustments",
        "balances",
        "positions",
        "fills",
        "order_transitions",
        "orders",
    ):
        op.drop_table(table)
    # Dropping the table drops its triggers; the PostgreSQL function stays unless removed.
    op.drop_table("events")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS events_append_only()")
