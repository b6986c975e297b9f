"""Bots as first-class traders: their registry, confirmations, trades and server-side exits.

API tokens may be bound to one bot.

Revision ID: 0004
Revises: 0003
Create Date: 2024-07-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tradeguard.storage.types import JsonType

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("bot_id", sa.String(), nullable=True))
    op.create_table(
        "bots",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("spec", JsonType(), nullable=False),
        sa.Column("created_ts", sa.BigInteger(), nullable=False),
        sa.Column("updated_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_bots")),
    )
    op.create_table(
        "bot_confirmations",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("bot", sa.String(), nullable=False),
        sa.Column("doc", JsonType(), nullable=False),
        sa.Column("issued_ts", sa.BigInteger(), nullable=False),
        sa.Column("expires_ts", sa.BigInteger(), nullable=False),
        sa.Column("used_ts", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_confirmations")),
    )
    op.create_index(
        op.f("ix_bot_confirmations_bot_issued_ts"), "bot_confirmations", ["bot", "issued_ts"]
    )
    op.create_table(
        "bot_trades",
        sa.Column("trade_id", sa.String(), nullable=False),
        sa.Column("bot", sa.String(), nullable=False),
        sa.Column("symbol", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("client_order_id", sa.String(), nullable=True),
        sa.Column("doc", JsonType(), nullable=False),
        sa.Column("created_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("trade_id", name=op.f("pk_bot_trades")),
    )
    op.create_index(op.f("ix_bot_trades_bot_created_ts"), "bot_trades", ["bot", "created_ts"])
    op.create_table(
        "bot_exits",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("bot", sa.String(), nullable=False),
        sa.Column("doc", JsonType(), nullable=False),
        sa.Column("updated_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_bot_exits")),
    )


def downgrade() -> None:
    op.drop_table("bot_exits")
    op.drop_index(op.f("ix_bot_trades_bot_created_ts"), table_name="bot_trades")
    op.drop_table("bot_trades")
    op.drop_index(op.f("ix_bot_confirmations_bot_issued_ts"), table_name="bot_confirmations")
    op.drop_table("bot_confirmations")
    op.drop_table("bots")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("bot_id")
