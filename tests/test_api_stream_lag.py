"""A stream client that falls behind is told so: the stream keeps a bounded queue of events for
each client, and when a client reads too slowly for it the events it missed are not skipped in
silence (a dashboard or a bot would go on from a hole in the record, a fill or a halt among the
dropped) but the socket is closed with 4008 naming how many were dropped, so the client
reconnects and reads the state again."""

from __future__ import annotations

import asyncio
import itertools
import json

import websockets

from test_api_support import build_app, replayed_node
from tradeguard.api.server import ApiServer
from tradeguard.model.events import Event

EVENTS = 6_000
PAD = "x" * 8_000  # ~8 kB a frame: socket buffers of even 10 MB fill before the queue


async def _read_all(ws: websockets.ClientConnection) -> tuple[list[int], int | None, str]:
    seqs: list[int] = []
    try:
        while True:
            msg = await asyncio.wait_for(ws.recv(), 10)
            doc = json.loads(msg)
            if doc.get("kind") == "test.lag":
                seqs.append(doc["data"]["seq"])
    except websockets.ConnectionClosed as closed:
        rcvd = closed.rcvd
        return seqs, rcvd.code if rcvd else None, rcvd.reason if rcvd else ""
    except TimeoutError:
        return seqs, None, ""


async def test_a_client_that_falls_behind_is_closed_with_4008_not_skipped_in_silence(
    tmp_path, data_dir
):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    url = f"ws://127.0.0.1:{server.port}/api/v1/stream"
    try:
        # max_queue=1: the client stops reading its socket while we do not call recv()
        async with websockets.connect(url, max_queue=1, max_size=None) as ws:
            await ws.send(json.dumps({"token": tokens.viewer}))
            assert '"hello"' in await asyncio.wait_for(ws.recv(), 10)
            for seq in range(EVENTS):
                node.bus.publish(Event("test.lag", seq, {"seq": seq, "pad": PAD}))
                await asyncio.sleep(0)  # the stream task sends while the socket takes it
            seqs, code, reason = await _read_all(ws)
    finally:
        await server.stop()
    assert seqs, "no event arrived"
    # what arrived is the record from its start with no hole in it
    holes = [(a, b) for a, b in itertools.pairwise(seqs) if b != a + 1]
    assert seqs[0] == 0 and not holes, f"first {seqs[0]}, holes {holes[:3]}"
    # and what did not arrive was announced by the close
    assert len(seqs) < EVENTS, "the client read every event: the test did not make it lag"
    assert code == 4008, (code, reason)
    assert "behind" in reason and "dropped" in reason, reason
    node.close()
