"""A boolean in a request body is JSON true or false: "yes", "false", 1 or 0 are refused, not
guessed at (reduce_only "yes" became a reduce-only order)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from test_api_support import bearer, build_app, client, replayed_node
from tradeguard.node import TradingNode

BUY = {"venue": "paper", "symbol": "BTC/USDT", "side": "buy", "amount": "0.001"}

# The refusals change nothing, so one node serves every refused value (each case still checks
# that no order was placed and no kill engaged); the accepted boolean gets a node of its own.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def refusing(
    tmp_path_factory: pytest.TempPathFactory, data_dir
) -> AsyncIterator[tuple[TradingNode, Any, Any]]:
    node = await replayed_node(tmp_path_factory.mktemp("refusing"), data_dir, rows=30)
    app, tokens = build_app(node)
    try:
        yield node, app, tokens
    finally:
        node.close()


@pytest.mark.parametrize("value", ["yes", "false", "1", 1, 0, None, [True]])
async def test_a_non_boolean_reduce_only_is_refused_naming_field_and_value(refusing, value):
    node, app, tokens = refusing
    async with client(app) as http:
        r = await http.post(
            "/api/v1/orders", json={**BUY, "reduce_only": value}, headers=bearer(tokens.trader)
        )
        kill = await http.post(
            "/api/v1/kill", json={"flatten": value}, headers=bearer(tokens.trader)
        )
        state = (await http.get("/api/v1/state", headers=bearer(tokens.trader))).json()
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["field"] == "reduce_only" and "true or false" in error["message"], error
    assert "reduce_only" in r.json()["error"] and repr(value) in error["message"]
    # a kill halts anyway, without flattening, and says it ignored the flatten it could not read
    assert kill.status_code == 200 and kill.json()["ignored"][0]["field"] == "flatten"
    assert kill.json()["report"]["flatten"] is False
    assert node.storage.load_orders() == [] and state["trading_state"] == "HALTED"
    node.risk.resume("test", "next value")


async def test_json_booleans_are_still_read(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, tokens = build_app(node)
    try:
        async with client(app) as http:
            r = await http.post(
                "/api/v1/orders", json={**BUY, "reduce_only": False}, headers=bearer(tokens.trader)
            )
        assert r.status_code == 201, r.text
    finally:
        node.close()
