"""Balances say when their value came from another venue's price (the venue had none of its
own for the asset), so the combined view can name the borrowed prices.

Revision ID: 0007
Revises: 0006
Create Date: 2024-10-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("balances") as batch:
        batch.add_column(sa.Column("priced_elsewhere", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("balances") as batch:
        batch.drop_column("priced_elsewhere")
