"""A node SIGKILLed while the kill's own flatten is on its way (a close of the position still
resting on the venue, its cancel refused) comes back halted and finishes the kill: the close
is cancelled this time and the rest of the position flattened, once. Real child process,
sandbox venue (real ccxt)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from kill_follow_support import alice_sells, held
from native_exits_support import native_config
from node_support import trading_live
from rigs import killed_child
from tradeguard.model.enums import OrderStatus
from tradeguard.node import TradingNode
from tradeguard.node.kill_follow import FOLLOW_KEY
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal
STEP = D("0.00001")
CHILD = Path(__file__).with_name("kill_follow_crash_kill_child.py")


async def test_a_node_killed_during_the_kill_flatten_finishes_the_kill_at_restart(tmp_path):
    async with seeded_exchange() as ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        [doc] = [d for d in await killed_child(CHILD, tmp_path, cfg) if "sent" in d]
        node = TradingNode(cfg)
        await node.start()  # reconciles the journal with the venue first
        async with trading_live(node):
            assert node.risk.state.value == "HALTED"
            # The kill never ended: the start finishes it, cancels included. The close whose
            # cancel the venue refused then is cancelled now, nothing of it sold, and the
            # rest of the position is flattened once, beside the flatten sent before the crash.
            journaled = node.storage.get_order(doc["listed"])
            assert journaled is not None and journaled.status is OrderStatus.CANCELLED
            await eventually(lambda: held(node) < STEP, 60)
            last = node.risk.last_kill
            assert last is not None and last["finished_ts"] > 0 and last["closing"] == [], last
            assert node.storage.kv_get(FOLLOW_KEY) == []  # no close left to follow up
            # on the venue: the listed close (nothing), the kill's flatten, the finished kill's
            sells = alice_sells(ex)
            assert len(sells) == 3 and sells[0] == 0 and sum(sells) <= D("0.002"), sells
