"""Arbitrage records are read newest first and by time window across every strategy.

Without an index on `ts` alone, each such page sorted every recorded cycle.

Revision ID: 0003
Revises: 0002
Create Date: 2024-06-20 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_arb_executions_ts"), "arb_executions", ["ts"])


def downgrade() -> None:
    op.drop_index(op.f("ix_arb_executions_ts"), table_name="arb_executions")
