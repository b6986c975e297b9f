"""/api/v1/health latency while a 50 MB body is pushed at POST /api/v1/kill.

Prints one JSON object: for each upload (anonymous with Content-Length, trader token with
Content-Length, trader token chunked) the status the server answered, the bytes the client
managed to send before the server hung up, and /api/v1/health latency p50/max over 20 calls made
while the upload runs. Target: health p99 well under 100 ms; the body is never read whole.

Run: .venv/bin/python benchmarks/api_body_flood.py
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

FIFTY_MB = 50 * 1024 * 1024
CHUNK = b"x" * 65_536
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BTC_CSV = "candles/BTC-PERP_1m_20211231-20220201.csv"


async def _push(writer: asyncio.StreamWriter, chunked: bool, sent: list[int]) -> None:
    try:
        while sent[0] < FIFTY_MB:
            writer.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK)
            await writer.drain()
            sent[0] += len(CHUNK)
    except (ConnectionError, OSError):
        pass


async def _flood(url: str, port: int, token: str | None, chunked: bool) -> dict[str, Any]:
    import httpx

    lines = [
        "POST /api/v1/kill HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        "Transfer-Encoding: chunked" if chunked else f"Content-Length: {FIFTY_MB}",
    ]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    answer = asyncio.create_task(reader.readline())
    sent = [0]
    pusher = asyncio.create_task(_push(writer, chunked, sent))
    latencies = []
    async with httpx.AsyncClient(base_url=url) as http:
        for _ in range(20):
            t0 = time.perf_counter()
            await http.get("/api/v1/health")
            latencies.append((time.perf_counter() - t0) * 1000)
    status = (await asyncio.wait_for(answer, 10)).split()[1].decode()
    await asyncio.wait_for(pusher, 10)
    writer.close()
    return {
        "status": int(status),
        "sent_bytes": sent[0],
        "health_p50_ms": round(statistics.median(latencies), 2),
        "health_max_ms": round(max(latencies), 2),
    }


async def main() -> None:
    from tradeguard.api.app import create_app
    from tradeguard.api.auth import Role, TokenStore
    from tradeguard.api.server import ApiServer
    from tradeguard.config import Config, default_config
    from tradeguard.node import TradingNode

    with tempfile.TemporaryDirectory() as tmp:
        cfg = default_config()
        db = Path(tmp) / "flood.db"
        cfg["node"] = {"database_url": f"sqlite:///{db}", "kill_sentinel": str(Path(tmp) / "k")}
        cfg["data"] = [{"path": str(DATA / BTC_CSV), "symbol": "BTC/USDT", "venue": "paper"}]
        cfg["strategies"] = []
        node = TradingNode(Config.model_validate(cfg))
        await node.start()
        store = TokenStore(node.db, node.storage)
        _, token = store.create("bench", Role.TRADER)
        server = ApiServer(node, "127.0.0.1", 0, app=create_app(node, tokens=store))
        await server.start()
        out = {}
        try:
            for name, tok, chunked in (
                ("anonymous_content_length", None, False),
                ("trader_content_length", token, False),
                ("trader_chunked", token, True),
            ):
                out[name] = await _flood(server.url, server.port, tok, chunked)
        finally:
            await server.stop()
            node.close()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
