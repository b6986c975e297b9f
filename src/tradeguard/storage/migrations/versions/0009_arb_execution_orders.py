"""Each recorded arbitrage cycle's orders name their record (`arb_execution_orders`), so that a
fill the venue makes after the cycle gave up on an order is booked into its record however old
it is, found by the order's id instead of among the newest records.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 00:00:00
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from tradeguard.storage.types import JsonType

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _cids(legs: Any) -> list[str]:
    """The orders a record names but those it counts filled (no fill can come after)."""
    body = json.loads(legs) if isinstance(legs, str) else legs
    if not isinstance(body, dict):
        return []
    parts = [body.get(p) or () for p in ("legs", "unwinds")]
    return [str(x["client_order_id"]) for part in parts for x in part
            if isinstance(x, dict) and x.get("client_order_id")
            and x.get("status") != "filled"]  # fmt: skip


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
    rows = op.get_bind().execute(
        sa.text("SELECT id, strategy_id, legs FROM arb_executions ORDER BY id")
    )
    named: dict[str, dict[str, Any]] = {}
    for rid, sid, legs in rows:  # the first record naming an order keeps it, as a write does
        for cid in _cids(legs):  # (`arb_repository._name_orders`)
            named.setdefault(cid, {"client_order_id": cid, "strategy_id": sid, "record_id": rid})
    if named:
        op.bulk_insert(table, list(named.values()))
    _mark_looked_at(named)


# kv_state key of `execution/gateway.py` (LATE_CHECKED_KEY): the newest of a strategy's
# journaled fills a start looked at for late fills
_LATE_CHECKED_KEY = "strategy.late_checked:{}"
_WINDOW = 256  # the newest records of a strategy whose orders a start looked at before


def _mark_looked_at(named: dict[str, dict[str, Any]]) -> None:
    """Mark, for each strategy with a record, the fills journaled before the first fill of an
    order of its `_WINDOW` newest records as looked at: the first start after this upgrade
    reads those records' fills again (what a start looked at before: a kill between a fill and
    its record's rewrite is still put right) and the fills journaled since, not one record
    for each order ever recorded."""
    bind = op.get_bind()
    newest = bind.execute(sa.text("SELECT max(id) FROM fills")).scalar()
    if newest is None:
        return
    marks = []
    for (sid,) in bind.execute(sa.text("SELECT DISTINCT strategy_id FROM arb_executions")).all():
        ids = {r[0] for r in bind.execute(sa.text(
            "SELECT id FROM arb_executions WHERE strategy_id = :sid ORDER BY id DESC LIMIT :n"
        ), {"sid": sid, "n": _WINDOW})}  # fmt: skip
        cids = [c for c, n in named.items() if n["strategy_id"] == sid and n["record_id"] in ids]
        first = None
        for at in range(0, len(cids), 500):
            found = bind.execute(
                sa.text("SELECT min(id) FROM fills WHERE client_order_id IN :cids").bindparams(
                    sa.bindparam("cids", expanding=True)
                ),
                {"cids": cids[at : at + 500]},
            ).scalar()
            if found is not None:
                first = found if first is None else min(first, found)
        mark = int(newest) if first is None else int(first) - 1
        marks.append({"key": _LATE_CHECKED_KEY.format(sid), "value": mark,
                      "updated_ts": int(time.time() * 1000)})  # fmt: skip
    kv = sa.table("kv_state", sa.column("key", sa.String()), sa.column("value", JsonType()),
                  sa.column("updated_ts", sa.BigInteger()))  # fmt: skip
    if marks:
        op.bulk_insert(kv, marks)


def downgrade() -> None:
    op.drop_table("arb_execution_orders")
