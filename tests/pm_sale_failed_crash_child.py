"""Child process: a cross_venue node whose retry sold a lone leg at a loss (a record the risk
engine counted, tripping its losing streak) reads that sale's trade FAILED, flags it, and is
SIGKILLed right after the flag's commit, before any checkpoint or stop.

argv: config.json [sale]
Prints one JSON line first: the engine's streak and state after the flag; with `sale`, killed
right after the sale's record instead (the engine's streak, and the one stored).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path

from tradeguard.config import Config
from tradeguard.execution.failed_fills import flag_failed_fills
from tradeguard.model.enums import LiquiditySide, OrderStatus, OrderType, Side
from tradeguard.model.fill import Fill
from tradeguard.model.order import Order
from tradeguard.node import TradingNode
from tradeguard.strategies.cross_venue.records import PairAttempt, PairLegResult

D = Decimal
SYMBOL = "fed-above-4pct-dec:YES/PUSD"


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    node = TradingNode(cfg)
    strat, now = node.strategies[0], node.clock.now_ms()
    if sys.argv[2:] == ["sale"]:  # the engine's state stored once: later counters ride on commits
        node.risk._save_now()
    sig = {"arb": "unwind", "retry_of": 1, "pair_id": "fed", "retry_cost": "6.40"}
    node.storage.upsert_order(Order(
        "c-sale", strat.id, "polymarket", SYMBOL, Side.SELL, OrderType.LIMIT, D(10), D("0.52"),
        status=OrderStatus.FILLED, filled=D(10), avg_price=D("0.52"), signal=sig,
    ))  # fmt: skip
    fill = Fill("polymarket", SYMBOL, "c-sale", "v-sale", "t9-0", Side.SELL, D("0.52"), D(10),
                D(0), "PUSD", LiquiditySide.TAKER, now)  # fmt: skip
    assert node.storage.insert_fill(fill, strat.id)
    sale = PairAttempt(strat.id, "fed", "fed-dec", 0, "PAPER", D(10), D(0), D(0), D(0),
                       outcome="unwound", retry_of=1, ts=now)  # fmt: skip
    sale.legs.append(PairLegResult("unwind", "polymarket", SYMBOL, Side.SELL, D(10), D("0.52"),
                                   D(10), D("0.52"), status="filled",
                                   client_order_id="c-sale"))  # fmt: skip
    executor = strat.executor  # type: ignore[attr-defined]
    executor.book_result(sale, D("-1.20"), trade=False)
    executor._finish(sale)
    if sys.argv[2:] == ["sale"]:  # killed before the risk engine's counters are saved
        stored = node.storage.kv_get("risk.state") or {}
        print(json.dumps({"streak": node.risk.consecutive_losses,
                          "stored": stored.get("consecutive_losses", 0)}), flush=True)  # fmt: skip
        os.kill(os.getpid(), signal.SIGKILL)
    venue = node.venues["polymarket"]
    venue.failed_fills[fill.trade_id] = fill  # type: ignore[attr-defined]
    flagged = flag_failed_fills(node, "polymarket", venue)
    print(json.dumps({"flagged": [f["trade_id"] for f in flagged],
                      "streak": node.risk.consecutive_losses,
                      "state": node.risk.state.value}), flush=True)  # fmt: skip
    os.kill(os.getpid(), signal.SIGKILL)


asyncio.run(main())
