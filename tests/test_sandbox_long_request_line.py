"""A request line or header over aiohttp's 8 KB limit gets 400 and one warning line naming the
limit, not an error with a traceback, on every sandbox that serves aiohttp."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tradeguard.sandbox.chain.rpc import LocalChain, RpcServer
from tradeguard.sandbox.kalshi.server import KalshiExchange
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.sandbox.server import SandboxExchange

LONG_URL = b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
LONG_HEADER = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"b" * 9000 + b"\r\n\r\n"


async def _status_line(url: str, raw: bytes) -> bytes:
    host, port = url.split("//")[1].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(raw)
    await writer.drain()
    line = await reader.readline()
    writer.close()
    return line


@pytest.mark.parametrize("kind", ["binance", "kalshi", "polymarket", "chain"])
@pytest.mark.parametrize("raw", [LONG_URL, LONG_HEADER], ids=["url", "header"])
async def test_an_oversized_request_gets_400_and_one_log_line_without_traceback(kind, raw, caplog):
    servers = {
        "binance": SandboxExchange, "kalshi": KalshiExchange,
        "polymarket": PolymarketExchange, "chain": lambda: RpcServer(LocalChain(), port=0),
    }  # fmt: skip
    server = servers[kind]()
    await server.start()
    try:
        with caplog.at_level(logging.DEBUG, logger="aiohttp"):
            status = await _status_line(getattr(server, "base_url", None) or server.url, raw)
            await asyncio.sleep(0)  # let the handler finish its log call
    finally:
        await server.stop()
    assert status.split()[1] == b"400", status
    records = [r for r in caplog.records if r.name.startswith("aiohttp")]
    assert [(r.levelno, r.exc_info) for r in records] == [(logging.WARNING, None)], records
    assert "8190" in records[0].getMessage() and "Traceback" not in caplog.text
    assert len(records[0].getMessage()) < 400
