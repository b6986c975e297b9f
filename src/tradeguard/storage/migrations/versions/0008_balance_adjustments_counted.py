"""Balance adjustments say when their money was counted apart from trading (`counted_ts`), so
one committed after a newer one (ids drawn from a sequence by two sessions) or one that waited
for a price is still counted, once; and which adjustment a withdrawal declared after the
balance sync booked it names (`declares`).

Revision ID: 0008
Revises: 0007
Create Date: 2024-11-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("balance_adjustments") as batch:
        batch.add_column(sa.Column("counted_ts", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("declares", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("balance_adjustments") as batch:
        batch.drop_column("declares")
        batch.drop_column("counted_ts")
