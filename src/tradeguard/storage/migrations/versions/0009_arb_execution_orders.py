"""Each recorded arbitrage cycle's orders name their record (`arb_execution_orders`), so that a
fill the venue makes after the cycle gave up on an order is booked into its record however old
it is, found by the order's id instead of among the newest records.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 00:00:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _cids(legs: Any) -> list[str]:
    body = json.loads(legs) if isinstance(legs, str) else legs
    if not isinstance(body, dict):
        return []
    parts = [body.get(p) or () for p in ("legs", "unwinds")]
    return [str(x["client_order_id"]) for part in parts for x in part
            if isinstance(x, dict) and x.get("client_order_id")]  # fmt: skip


def upgrade() -> None:
    table = op.create_table(
        "arb_execution_orders",
        sa.Column("client_order_id", sa.String(), nullable=False),
        sa.Column("strategy_id", sa.String(), nullable=False),
        sa.Column(
            "record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.PrimaryKeyConstraint("client_order_id", name=op.f("pk_arb_execution_orders")),
    )
    rows = op.get_bind().execute(sa.text("SELECT id, strategy_id, legs FROM arb_executions"))
    named: dict[str, dict[str, Any]] = {}
    for rid, sid, legs in rows:  # a later record naming an order again wins (its rewrite)
        for cid in _cids(legs):
            named[cid] = {"client_order_id": cid, "strategy_id": sid, "record_id": rid}
    if named:
        op.bulk_insert(table, list(named.values()))


def downgrade() -> None:
    op.drop_table("arb_execution_orders")
