"""Stop and take-profit orders: the journal keeps their trigger price and OCO group.

Revision ID: 0005
Revises: 0004
Create Date: 2024-08-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tradeguard.storage.types import DecimalType

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("trigger_price", DecimalType(), nullable=True))
        batch.add_column(sa.Column("oco_group", sa.String(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("oco_group")
        batch.drop_column("trigger_price")
