"""The WebSocket stream's query parameters get the app-wide check of HTTP routes: a token given
twice, holding a NUL or over-long is refused before the socket is accepted, with no value echoed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import websockets

from test_api_support import build_app, replayed_node
from tradeguard.api.params import MAX_VALUE_CHARS
from tradeguard.api.server import ApiServer

# One served node for the module: a refused or closed stream leaves nothing behind, and each
# test opens its own connections.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory, data_dir) -> AsyncIterator[Any]:
    node = await replayed_node(tmp_path_factory.mktemp("stream"), data_dir, rows=30)
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    try:
        yield server, tokens
    finally:
        await server.stop()
        node.close()


async def _refused(url: str) -> str:
    """Connect; return how the server refused it ('' when it said hello)."""
    try:
        async with websockets.connect(url) as ws:
            first = await asyncio.wait_for(ws.recv(), 5)
            return "" if json.loads(first).get("type") == "hello" else f"answered {first}"
    except websockets.InvalidStatus as exc:
        return f"status {exc.response.status_code}"
    except websockets.ConnectionClosed as exc:
        return f"closed {exc.rcvd.code if exc.rcvd else None}"


@pytest.mark.parametrize(
    "query",
    ["token={t}&token={t}", "token={t}%00", "token=" + "a" * (MAX_VALUE_CHARS + 1), "token=%ff"],
    ids=["twice", "nul", "over-long", "not-utf8"],
)
async def test_a_misshapen_stream_token_is_refused_before_the_socket_opens(served, query):
    server, tokens = served
    url = f"ws://127.0.0.1:{server.port}/api/v1/stream"
    refused = await _refused(f"{url}?{query.format(t=tokens.viewer)}")
    assert refused in ("status 403", "closed 1008"), refused
    assert await _refused(f"{url}?token={tokens.viewer}") == ""  # the well-formed one opens


async def test_the_stream_takes_the_bearer_header_the_http_routes_take(served):
    # a client sending the API's own `Authorization: Bearer` header was held 5 s for a first
    # frame, then closed 4401 "authentication timed out"
    server, tokens = served
    url = f"ws://127.0.0.1:{server.port}/api/v1/stream"

    async def first(headers: dict[str, str]) -> str:
        try:
            async with websockets.connect(url, additional_headers=headers) as ws:
                return json.loads(await asyncio.wait_for(ws.recv(), 2))["type"]
        except websockets.ConnectionClosed as exc:
            return f"closed {exc.rcvd.code if exc.rcvd else None}"
        except TimeoutError:
            return "waiting for a first frame"

    assert await first({"Authorization": f"Bearer {tokens.viewer}"}) == "hello"
    assert await first({"Authorization": "Bearer not-a-token"}) == "closed 4401"
    basic = await first({"Authorization": f"Basic {tokens.viewer}"})
    assert basic == "waiting for a first frame", basic  # only Bearer is a token


async def test_the_stream_refuses_two_different_bearer_headers(served):
    # the first was read, so which token opened the stream was a guess; the raise came
    # before the handler's refusal and ended in a traceback on the server
    server, tokens = served
    url = f"ws://127.0.0.1:{server.port}/api/v1/stream"
    twice = [("Authorization", f"Bearer {tokens.viewer}"), ("Authorization", "Bearer other")]
    try:
        async with websockets.connect(url, additional_headers=twice) as ws:
            answer = await asyncio.wait_for(ws.recv(), 5)
    except websockets.ConnectionClosed as exc:
        answer = (
            f"closed {exc.rcvd.code if exc.rcvd else None} {exc.rcvd.reason if exc.rcvd else ''}"
        )
    assert answer.startswith("closed 4401 Authorization is given twice"), answer
