"""A Kalshi websocket command of the wrong shape is answered with Kalshi's error and the socket
kept; before, a command that was not an object (`[1]`, `5`) or whose params were not one raised
in the handler: a traceback in the server's log, the socket dropped with no answer."""

from __future__ import annotations

import json

import pytest

from pm_support import TICKER, kalshi_socket, seeded_kalshi
from tradeguard.sandbox.kalshi.server import KalshiExchange

SHAPES = [
    ("[1]", "a command must be a JSON object"),
    ("5", "a command must be a JSON object"),
    ('{"id": 3, "cmd": "subscribe", "params": ["ticker"]}', "params must be a JSON object"),
    ('{"id": 3, "cmd": "subscribe", "params": {"channels": "ticker"}}',
     "params.channels must be a list of strings"),
    ('{"id": 3, "cmd": "subscribe", "params": {"channels": [["ticker"]]}}',
     "params.channels must be a list of strings"),
    ('{"id": 3, "cmd": "subscribe", "params": {"channels": ["ticker"], "market_tickers": [[1]]}}',
     "params.market_tickers must be a list of strings"),
    ('{"id": 3, "cmd": "subscribe", "params": {"channels": ["ticker"], "market_ticker": 7}}',
     "params.market_ticker must be a string"),
]  # fmt: skip


@pytest.mark.parametrize(("frame", "says"), SHAPES)
async def test_a_misshapen_kalshi_command_is_answered_and_the_socket_kept(
    frame, says, caplog
) -> None:
    async with KalshiExchange() as ex:
        key_id, pem = seeded_kalshi(ex)
        good = {"id": 4, "cmd": "subscribe",
                "params": {"channels": ["ticker"], "market_tickers": [TICKER]}}  # fmt: skip
        async with kalshi_socket(ex, key_id, pem) as ws:
            await ws.send_str(frame)
            answer = json.loads((await ws.receive(timeout=5)).data)
            await ws.send_str(json.dumps(good))  # the same socket still serves
            after = json.loads((await ws.receive(timeout=5)).data)
    rid = 3 if frame.startswith("{") else None
    assert answer == {"id": rid, "type": "error", "msg": {"code": 1, "msg": says}}
    assert after["type"] == "subscribed" and after["id"] == 4, after
    assert not [r for r in caplog.records if r.exc_info]
