"""Child process: start a cross_venue node holding a lone Kalshi leg, buy the opposite outcome
by hand (the venue nets the pairs at once), and die by SIGKILL once the periodic
reconciliation has booked the netting, before the held record is settled. With `down`
(argv[6]) the hand buy comes before the start, and the kill during the start's booking.

argv: config.json kalshi_rest_url key_id private_key.pem count [down]
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from tradeguard.config import Config
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.node import TradingNode
from tradeguard.strategies.cross_venue import held_merge
from tradeguard.venues.kalshi.client import KalshiClient


async def main() -> None:
    cfg_file, url, key_id, pem, count = sys.argv[1:6]
    node = TradingNode(Config.model_validate(json.loads(Path(cfg_file).read_text())))

    def die(executor, fill):  # the netting's fills committed, the held record not yet settled
        if held_merge.netting_sale(executor, fill) and executor.book.open:
            print(json.dumps({"booked": fill.trade_id}), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return []

    down = sys.argv[6:7] == ["down"]
    if down:
        await _buy(url, key_id, pem, count, sys.argv[7])
        held_merge.netted_fill = die  # type: ignore[assignment]
        await node.start()
        print(json.dumps({"unexpected": "started"}), flush=True)
        return
    await node.start()
    held_merge.netted_fill = die  # type: ignore[assignment]
    [lone] = node.strategies[0].book.open
    await _buy(url, key_id, pem, count, lone.legs[0].split(":")[0])
    await reconcile_and_gate(node, "periodic")
    print(json.dumps({"unexpected": "reconciled"}), flush=True)


async def _buy(url: str, key_id: str, pem: str, count: str, ticker: str) -> None:
    client = KalshiClient(url, key_id, Path(pem).read_text())
    try:
        await client.create_order({"ticker": ticker,
                                   "client_order_id": "by-hand-yes", "side": "yes",
                                   "action": "buy", "count_fp": count,
                                   "yes_price_dollars": "0.9900",
                                   "time_in_force": "immediate_or_cancel"})  # fmt: skip
    finally:
        await client.close()


asyncio.run(main())
