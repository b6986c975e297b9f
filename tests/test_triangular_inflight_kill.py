"""Triangular on the Binance-compatible sandbox (real ccxt client, real node processes), killed
(SIGKILL) inside a leg: the venue filled the order and answered, the node never read the
answer. The next start's reconciliation learns the fill from the venue, and the start trades
back what the cycle's legs left within the unwind bound, recorded once (a cycle whose last leg
filled is recorded as it is, nothing sent)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from rigs import killed_child
from test_triangular_interrupted import CHILD, _cfg, _held, _started
from tradeguard.config import Config
from tradeguard.model.enums import OrderStatus
from tradeguard.storage.arb_repository import load_arb_executions
from triangular_node_support import drifting_sandbox


@asynccontextmanager
async def _killed_inside(tmp_path: Path, mode: str) -> AsyncIterator[tuple[Config, dict[str, Any]]]:
    """Yield the config and the cut leg of a node killed (SIGKILL) in `mode`, after the venue
    filled part of its order; the sandbox runs until the block ends."""
    async with drifting_sandbox(arb_drift_every_ms=0) as ex:
        cfg = _cfg(tmp_path, ex, max_unwind_loss_pct="3")
        [cut] = await killed_child(CHILD, tmp_path, cfg, mode, timeout_s=120)
        assert Decimal(cut["filled"]) > 0, cut
        yield cfg, cut


async def test_a_node_killed_inside_leg_one_unwinds_what_the_venue_filled_at_next_start(
    tmp_path: Path, vault_env: None
) -> None:
    async with _killed_inside(tmp_path, "inflight1") as (cfg, cut):
        async with _started(cfg) as (node, events):
            leg = node.orders.orders.get(cut["inflight"]) or node.storage.get_order(cut["inflight"])
            assert leg is not None and leg.filled == Decimal(cut["filled"]), leg
            [rec] = load_arb_executions(node.storage, strategy_id="tri")
            assert rec["outcome"] == "unwound", json.dumps(rec, default=str)
            assert [x["client_order_id"] for x in rec["legs"]["legs"]] == [cut["inflight"]]
            [back] = rec["legs"]["unwinds"]
            assert back["symbol"] == cut["symbol"] and back["side"] == "sell", back
            assert node.orders.orders[back["client_order_id"]].status is OrderStatus.FILLED
            assert not _held(events)
        async with _started(cfg) as (again, events):  # nothing more is sent or recorded
            assert load_arb_executions(again.storage, strategy_id="tri") == [rec]
            assert not _held(events)


async def test_a_node_killed_inside_leg_two_trades_the_btc_reached_back_at_next_start(
    tmp_path: Path, vault_env: None
) -> None:
    async with _killed_inside(tmp_path, "inflight2") as (cfg, cut):
        assert len(cut["sent"]) == 2, cut
        async with _started(cfg) as (node, events):
            [rec] = load_arb_executions(node.storage, strategy_id="tri")
            assert rec["outcome"] == "unwound", json.dumps(rec, default=str)
            assert [x["client_order_id"] for x in rec["legs"]["legs"]] == cut["sent"]
            [back] = rec["legs"]["unwinds"]
            assert (back["symbol"], back["side"], back["from"]) == ("BTC/USDT", "sell", "BTC")
            assert not _held(events)


async def test_a_node_killed_inside_leg_three_records_the_cycle_and_sends_nothing(
    tmp_path: Path, vault_env: None
) -> None:
    async with _killed_inside(tmp_path, "inflight3") as (cfg, cut):
        assert len(cut["sent"]) == 3, cut
        async with _started(cfg) as (node, events):
            [rec] = load_arb_executions(node.storage, strategy_id="tri")
            assert [x["client_order_id"] for x in rec["legs"]["legs"]] == cut["sent"]
            assert rec["legs"]["unwinds"] == [], json.dumps(rec, default=str)
            assert len(node.storage.load_orders(strategy_id="tri")) == 3  # nothing more sent
            assert Decimal(rec["legs"]["returned"]) > 0
            assert not _held(events)
