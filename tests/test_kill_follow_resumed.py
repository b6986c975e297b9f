"""A kill's follow-up belongs to that kill: trading resumed ends it, even when the node only
starts again after a later halt. A kill without flatten run after the resume (as
`tradeguard kill` does while no node runs) must not bring back the earlier kill's flatten of a
position the operator took over. Against the sandbox venue (real ccxt)."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any

import pytest

from kill_follow_support import alice_sells, follow_node, held, kill_and_flatten
from native_exits_support import native_config
from node_support import trading_live
from tradeguard.cli.control import _kill
from tradeguard.node import TradingNode
from tradeguard.node.kill_follow import FOLLOW_KEY
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal


def _stored(node: TradingNode) -> list[dict[str, Any]]:
    entries = node.storage.kv_get(FOLLOW_KEY)
    return list(entries) if isinstance(entries, list) else []


async def test_a_resume_then_a_kill_without_flatten_ends_the_earlier_follow_up(tmp_path):
    async with seeded_exchange() as ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        node = follow_node(cfg)
        await node.start()
        async with trading_live(node):
            listed, _ = await kill_and_flatten(node)
        # While no node runs: the operator resumes, then halts again without flatten.
        resumed = TradingNode(cfg)
        resumed.risk.resume("ops", "the position is ours again")
        second = await _kill(resumed, argparse.Namespace(reason="a second look", flatten=False))
        assert second["cancelled"] == [listed]  # the close the first kill waited for ends
        resumed.close()
        sells = len(alice_sells(ex))
        node = TradingNode(cfg)
        await node.start()
        async with trading_live(node):
            assert node.risk.state.value == "HALTED" and node.risk.last_kill is not None
            assert node.risk.last_kill["flatten"] is False
            await eventually(lambda: _stored(node) and _stored(node)[0]["status"] != "waiting", 60)
            [entry] = _stored(node)
            assert entry["status"] == "ended" and entry["sent"] == [], entry
            assert len(alice_sells(ex)) == sells  # nothing sold for the earlier kill
            assert held(node) > D("0.0009")
            # the last kill (no flatten) shows no follow-up of the one before
            assert node.risk.last_kill.get("follow_up") == [], node.risk.last_kill
