"""Child process: a paper node with the no-confirmation bot gamma is SIGKILLed while an execute
carrying idempotency key k7 waits for quotes: after the key is claimed, before the trade is
stored.

argv: tmp_path data_dir.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bots_support import SYMBOL, add_bot, mid, quote
from test_api_support import build_app, client, replayed_node


async def main(tmp_path: Path, data_dir: Path) -> None:
    node = await replayed_node(tmp_path, data_dir)
    add_bot(node, "gamma", require_confirmation=False)
    await quote(node, mid(node))
    app, tokens = build_app(node)

    async def killed(venue: str, symbol: str) -> None:  # a live node subscribing the symbol
        os.kill(os.getpid(), signal.SIGKILL)

    node.ensure_market_data = killed  # type: ignore[method-assign]
    body = {"bot_id": "gamma", "symbol": SYMBOL, "side": "buy", "score": "0.75",
            "idempotency_key": "k7"}  # fmt: skip
    await client(app).post("/api/v1/trades/execute", json=body,
                           headers={"Authorization": f"Bearer {tokens.trader}"})  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
