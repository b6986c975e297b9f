"""A stream client that takes nothing the node sends (its socket full, never read) is cut off
within `api.request_read_timeout_s`: the handler does not wait on its send for good, holding
one of `api.max_connections`, its socket and a queue every event is copied into."""

from __future__ import annotations

import asyncio
import json
import secrets

import websockets

from test_api_support import build_app, replayed_node
from tradeguard.api.server import ApiServer
from tradeguard.model.events import Event

READ_TIMEOUT_S = 1.0
# 40 kB frames that deflate cannot shrink: 1,900 of them (76 MB) fill socket buffers of 32 MB
PAD = secrets.token_urlsafe(30_000)


async def test_a_client_that_reads_nothing_is_cut_off_not_waited_on_for_good(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    node.config.api.request_read_timeout_s = READ_TIMEOUT_S
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    assert server._server is not None
    open_conns = server._server.server_state.connections
    url = f"ws://127.0.0.1:{server.port}/api/v1/stream"
    try:
        # max_queue=1: the client stops reading its socket while we do not call recv()
        async with websockets.connect(url, max_queue=1, max_size=None, ping_interval=None) as ws:
            await ws.send(json.dumps({"token": tokens.viewer}))
            assert '"hello"' in await asyncio.wait_for(ws.recv(), 10)
            assert len(open_conns) == 1
            for seq in range(1_900):  # under the stream's queue: no 4008 comes to end it
                node.bus.publish(Event("test.stall", seq, {"seq": seq, "pad": PAD}))
                await asyncio.sleep(0)
            for _ in range(int(READ_TIMEOUT_S * 20) + 100):  # the timeout and some slack
                if not open_conns and not node.bus._queues:
                    break
                await asyncio.sleep(0.1)
            assert not open_conns, "the stalled stream still holds its connection"
            assert not node.bus._queues, "the stalled stream's handler still waits on its send"
    finally:
        await server.stop()
        node.close()
