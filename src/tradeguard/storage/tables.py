"""The schema as SQLAlchemy Core tables; `migrations/` creates exactly this."""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    UniqueConstraint,
    event,
    text,
)

from tradeguard.storage.types import (
    DecimalType,
    EpochMs,
    IdType,
    JsonType,
    WholeString,
    WholeText,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

# The write-ahead journal: a row is committed before the order is sent to the venue.
orders = Table(
    "orders",
    metadata,
    Column("client_order_id", WholeString, primary_key=True),
    Column("strategy_id", WholeString, nullable=False),
    Column("venue", WholeString, nullable=False),
    Column("symbol", WholeString, nullable=False),
    Column("side", WholeString, nullable=False),
    Column("type", WholeString, nullable=False),
    Column("amount", DecimalType, nullable=False),
    Column("price", DecimalType, nullable=True),
    Column("time_in_force", WholeString, nullable=False),
    Column("reduce_only", Boolean, nullable=False),
    Column("status", WholeString, nullable=False),
    Column("venue_order_id", WholeString, nullable=False),
    Column("filled", DecimalType, nullable=False),
    Column("avg_price", DecimalType, nullable=False),
    Column("fee", DecimalType, nullable=False),
    Column("price_bound", DecimalType, nullable=True),
    Column("stop_loss", DecimalType, nullable=True),
    Column("take_profit", DecimalType, nullable=True),
    Column("signal", JsonType, nullable=True),
    Column("reason", WholeText, nullable=False),
    Column("created_ts", EpochMs, nullable=False),
    Column("updated_ts", EpochMs, nullable=False),
    Column("trigger_price", DecimalType, nullable=True),
    Column("oco_group", WholeString, nullable=False, server_default=""),
    Index(None, "status"),
    Index(None, "venue", "symbol"),
    Index(None, "created_ts"),
)

order_transitions = Table(
    "order_transitions",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column(
        "client_order_id",
        WholeString,
        ForeignKey("orders.client_order_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("ts", EpochMs, nullable=False),
    Column("from_status", WholeString, nullable=False),
    Column("to_status", WholeString, nullable=False),
    Column("reason", WholeText, nullable=False),
    Index(None, "client_order_id"),
)

# Fills are deduplicated by the venue's trade id and side (a self-trade reports one id for both
# sides): replaying a fill is a no-op.
fills = Table(
    "fills",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("venue", WholeString, nullable=False),
    Column("symbol", WholeString, nullable=False),
    Column("trade_id", WholeString, nullable=False),
    Column("client_order_id", WholeString, nullable=False),
    Column("venue_order_id", WholeString, nullable=False),
    Column("strategy_id", WholeString, nullable=False),
    Column("side", WholeString, nullable=False),
    Column("price", DecimalType, nullable=False),
    Column("amount", DecimalType, nullable=False),
    Column("fee", DecimalType, nullable=False),
    Column("fee_asset", WholeString, nullable=False),
    Column("liquidity", WholeString, nullable=False),
    Column("ts", EpochMs, nullable=False),
    # the fee in the quote asset where it was paid in a third asset (else null: computed)
    Column("fee_quote", DecimalType, nullable=True),
    UniqueConstraint("venue", "symbol", "trade_id", "side"),
    Index(None, "client_order_id"),
    Index(None, "ts"),
)

# One open row per (venue, symbol, strategy_id); closed rows are the trade history.
positions = Table(
    "positions",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("venue", WholeString, nullable=False),
    Column("symbol", WholeString, nullable=False),
    Column("strategy_id", WholeString, nullable=False),
    Column("side", WholeString, nullable=False),  # long | short
    Column("status", WholeString, nullable=False),  # open | closed
    Column("quantity", DecimalType, nullable=False),  # absolute; the sign is in `side`
    Column("entry_price", DecimalType, nullable=False),
    Column("exit_price", DecimalType, nullable=True),
    Column("entry_ts", EpochMs, nullable=False),
    Column("exit_ts", EpochMs, nullable=True),
    Column("stop_loss", DecimalType, nullable=True),
    Column("take_profit", DecimalType, nullable=True),
    Column("realized_pnl", DecimalType, nullable=False),
    Column("fees", DecimalType, nullable=False),
    Column("pnl", DecimalType, nullable=True),
    Column("pnl_pct", DecimalType, nullable=True),
    Column("current_price", DecimalType, nullable=True),
    Column("unrealized_pnl", DecimalType, nullable=True),
    # The open round trip, so win/loss accounting survives a restart.
    Column("trip_pnl", DecimalType, nullable=False),
    Column("trip_max_qty", DecimalType, nullable=False),
    Column("trip_entry", DecimalType, nullable=False),
    Column("last_exit_price", DecimalType, nullable=False),
    Column("updated_ts", EpochMs, nullable=False),
    # the venue's id of the trade that closed the round trip (NULL: closed before 0010, or
    # by a fill naming none): a close whose trade FAILED finds its row by it
    Column("exit_trade_id", WholeString, nullable=True),
    Index(
        "uq_positions_open",
        "venue",
        "symbol",
        "strategy_id",
        unique=True,
        sqlite_where=text("status = 'open'"),  # postgresql_where: add_postgresql_options()
    ),
    Index(None, "status", "strategy_id"),
)

# The primary key (venue, asset) is the unique key: one row per asset per venue.
balances = Table(
    "balances",
    metadata,
    Column("venue", WholeString, primary_key=True),
    Column("asset", WholeString, primary_key=True),
    Column("free", DecimalType, nullable=False),
    Column("locked", DecimalType, nullable=False),
    Column("total", DecimalType, nullable=False),
    Column("usd_value", DecimalType, nullable=True),
    Column("updated_ts", EpochMs, nullable=False),
    # usd_value came from another venue's price (this venue had none for the asset)
    Column("priced_elsewhere", Boolean, nullable=True),
)

balance_adjustments = Table(
    "balance_adjustments",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("venue", WholeString, nullable=False),
    Column("asset", WholeString, nullable=False),
    Column("ledger_total", DecimalType, nullable=False),
    Column("venue_total", DecimalType, nullable=False),
    Column("difference", DecimalType, nullable=False),
    Column("reason", WholeText, nullable=False),
    Column("ts", EpochMs, nullable=False),
    # when its money was counted apart from trading (node/cash_flows.py); None: not yet
    Column("counted_ts", EpochMs, nullable=True),
    # a withdrawal declared after the balance sync booked it: the adjustment it declares
    Column("declares", EpochMs, nullable=True),
)

strategy_runs = Table(
    "strategy_runs",
    metadata,
    Column("strategy_id", WholeString, primary_key=True),
    Column("status", WholeString, nullable=False),
    Column("total_trades", Integer, nullable=False),
    Column("winning_trades", Integer, nullable=False),
    Column("losing_trades", Integer, nullable=False),
    Column("total_pnl", DecimalType, nullable=False),
    Column("daily_pnl", DecimalType, nullable=False),
    Column("daily_pnl_day", WholeString, nullable=False),
    Column("last_signal_ts", EpochMs, nullable=False),
    Column("last_trade_ts", EpochMs, nullable=False),
    Column("cursor_ts", EpochMs, nullable=False),
    Column("state", JsonType, nullable=True),
    Column("updated_ts", EpochMs, nullable=False),
)

# Append-only audit log: triggers in the database refuse UPDATE and DELETE.
events = Table(
    "events",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("ts", EpochMs, nullable=False),
    Column("kind", WholeString, nullable=False),
    Column("severity", WholeString, nullable=False),
    Column("venue", WholeString, nullable=False),
    Column("symbol", WholeString, nullable=False),
    Column("strategy_id", WholeString, nullable=False),
    Column("data", JsonType, nullable=True),
    Index(None, "ts"),
    Index(None, "kind"),
)

kv_state = Table(
    "kv_state",
    metadata,
    Column("key", WholeString, primary_key=True),
    Column("value", JsonType, nullable=True),
    Column("updated_ts", EpochMs, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", WholeString, primary_key=True),
    Column("name", WholeString, nullable=False),
    Column("role", WholeString, nullable=False),
    Column("token_hash", WholeString, nullable=False),
    Column("created_ts", EpochMs, nullable=False),
    Column("last_used_ts", EpochMs, nullable=True),
    Column("revoked", Boolean, nullable=False),
    # Set for a token that may trade only as this bot (its role is then trader).
    Column("bot_id", WholeString, nullable=True),
    UniqueConstraint("token_hash"),
)

# Outside decision-makers trading over HTTP: limits and sizing live in `spec` (JSON).
bots = Table(
    "bots",
    metadata,
    Column("name", WholeString, primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("spec", JsonType, nullable=False),
    Column("created_ts", EpochMs, nullable=False),
    Column("updated_ts", EpochMs, nullable=False),
)

# Approvals handed out by validate-trade; `used_ts` is set once, when execute redeems one.
bot_confirmations = Table(
    "bot_confirmations",
    metadata,
    Column("id", WholeString, primary_key=True),
    Column("bot", WholeString, nullable=False),
    Column("doc", JsonType, nullable=False),
    Column("issued_ts", EpochMs, nullable=False),
    Column("expires_ts", EpochMs, nullable=False),
    Column("used_ts", EpochMs, nullable=True),
    Index(None, "bot", "issued_ts"),
)

# Every trade a bot asked for, with its score, confirmations and the size rule used.
bot_trades = Table(
    "bot_trades",
    metadata,
    Column("trade_id", WholeString, primary_key=True),
    Column("bot", WholeString, nullable=False),
    Column("symbol", WholeString, nullable=False),
    Column("status", WholeString, nullable=False),
    Column("client_order_id", WholeString, nullable=True),
    Column("doc", JsonType, nullable=False),
    Column("created_ts", EpochMs, nullable=False),
    Index(None, "bot", "created_ts"),
)

# Server-side exit rules of open bot positions, one per (venue, symbol, bot).
bot_exits = Table(
    "bot_exits",
    metadata,
    Column("key", WholeString, primary_key=True),
    Column("bot", WholeString, nullable=False),
    Column("doc", JsonType, nullable=False),
    Column("updated_ts", EpochMs, nullable=False),
)

arb_executions = Table(
    "arb_executions",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("strategy_id", WholeString, nullable=False),
    Column("cycle", JsonType, nullable=True),
    Column("start_asset", WholeString, nullable=False),
    Column("expected_profit_pct", DecimalType, nullable=True),
    Column("actual_profit", DecimalType, nullable=True),
    Column("fees", DecimalType, nullable=True),
    Column("legs", JsonType, nullable=True),
    Column("outcome", WholeString, nullable=False),
    Column("latency_ms", Integer, nullable=True),
    Column("ts", EpochMs, nullable=False),
    Index(None, "strategy_id", "ts"),
    Index(None, "ts"),
)

# Which record each order of a recorded cycle belongs to (but an order it counts filled: it can
# fill no more): a fill the venue makes after the cycle gave up on the order is booked into
# that record, found by the order's id.
arb_execution_orders = Table(
    "arb_execution_orders",
    metadata,
    Column("client_order_id", WholeString, primary_key=True),
    Column("strategy_id", WholeString, nullable=False),
    Column("record_id", IdType, nullable=False),
)


def add_postgresql_options() -> None:
    """Give the tables their PostgreSQL-only options (`Database` does, for a PostgreSQL URL).

    Naming one loads SQLAlchemy's PostgreSQL dialect (~20 ms), which a SQLite database never
    needs. Calling it again changes nothing.
    """
    index = next(i for i in positions.indexes if i.name == "uq_positions_open")
    index.dialect_kwargs["postgresql_where"] = text("status = 'open'")


# Statements that make `events` append-only, per dialect. Migration 0001 carries its own copy
# (migrations are history and must not change when this file does).
EVENTS_APPEND_ONLY_DDL: dict[str, tuple[str, ...]] = {
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

# So that `metadata.create_all()` (used by throwaway databases) gets the triggers too.
for _dialect, _statements in EVENTS_APPEND_ONLY_DDL.items():
    for _sql in _statements:
        event.listen(events, "after_create", DDL(_sql).execute_if(dialect=_dialect))
