"""Fills keep their fee valued in the quote asset when the fee is paid in a third asset (BNB on
Binance, gas in ETH on a DEX pool of other tokens), at the price known when the fill was booked.

Revision ID: 0006
Revises: 0005
Create Date: 2024-09-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tradeguard.storage.types import DecimalType

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("fills") as batch:
        batch.add_column(sa.Column("fee_quote", DecimalType(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fills") as batch:
        batch.drop_column("fee_quote")
