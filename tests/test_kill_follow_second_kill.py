"""A second kill with flatten while the first kill's follow-up has a flatten on its way: the
second kill's follow-up is the one kept and shown, not overwritten by the first's pass once its
order returns. Sandbox venue (real ccxt)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from kill_follow_support import follow_node, held, kill_and_flatten
from native_exits_support import native_config
from node_support import trading_live
from tradeguard.node.kill_follow import FOLLOW_KEY
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal
STEP = D("0.00001")


async def test_a_second_kill_during_a_follow_up_flatten_keeps_its_own_follow_up(tmp_path):
    async with seeded_exchange() as ex:
        node = follow_node(native_config(tmp_path, ex.rest_url, ex.ws_url, native=False))
        await node.start()
        async with trading_live(node):
            listed, _ = await kill_and_flatten(node)
            venue = node.venues["binance"]
            send, gate = venue.submit, asyncio.Event()

            async def held_back(order: Any) -> Any:  # the follow-up's flatten waits here
                if order.signal.get("follow_up"):
                    await gate.wait()
                return await send(order)

            venue.submit = held_back  # type: ignore[method-assign]
            await node.orders.cancel(listed)  # the close ends: the follow-up flattens the rest

            def stored() -> list[dict[str, Any]]:
                return list(node.storage.kv_get(FOLLOW_KEY) or [{}])

            await eventually(lambda: stored()[0].get("sent"), 30)
            [flatten] = stored()[0]["sent"]

            async def refuse(order: object) -> None:
                raise RuntimeError("the venue is not answering cancels")

            venue.cancel = refuse  # type: ignore[method-assign]
            second = await node.kill(reason="again", by="pytest", flatten=True)
            del venue.cancel
            assert second["closing"][0]["working"] == [flatten], second
            gate.set()
            await eventually(lambda: held(node) < STEP, 30)

            def shown() -> str:
                follow = (node.risk.last_kill or {}).get("follow_up") or [{}]
                return str(follow[0].get("status"))

            await eventually(
                lambda: shown() != "waiting" and stored()[0]["status"] != "waiting", 30
            )
            assert shown() == "closed", node.risk.last_kill
            assert [e["kill_ts"] for e in stored()] == [second["ts"]], stored()
