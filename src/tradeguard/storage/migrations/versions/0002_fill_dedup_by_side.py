"""Fills are unique per venue trade id *and side*: a self-trade books both of its sides.

When two of an account's own orders cross (no self-trade prevention), the venue reports one trade
id twice, once as buyer and once as seller. Keyed on the trade id alone, the second side was
dropped as a duplicate.

Revision ID: 0002
Revises: 0001
Create Date: 2024-06-02 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("fills") as batch:
        batch.drop_constraint("uq_fills_venue_symbol_trade_id", type_="unique")
        batch.create_unique_constraint(
            "uq_fills_venue_symbol_trade_id_side", ["venue", "symbol", "trade_id", "side"]
        )


def downgrade() -> None:
    with op.batch_alter_table("fills") as batch:
        batch.drop_constraint("uq_fills_venue_symbol_trade_id_side", type_="unique")
        batch.create_unique_constraint(
            "uq_fills_venue_symbol_trade_id", ["venue", "symbol", "trade_id"]
        )
