"""Child process: a sandbox node's ma_crossover opens a long, then live candles push its
trailing stop's high; the process SIGKILLs itself right after the step that set the last high.

argv: config.json [burst]
- no mode: the highs come a candle apart (here 0.3 s, over `node.state_save_interval_s`), and
  the kill follows the last high's step at once;
- `burst`: the highs come in one burst, inside the save interval; the kill comes 0.3 s later,
  after the interval's end (the coalesced write is due then).
Prints `{"best": ..., "entry": ..., "ts": ..., "writes": ...}` (the tracker at the kill), dies.
"""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import Decimal
from pathlib import Path

from rigs import die
from tradeguard.config import Config
from tradeguard.model import Quote
from tradeguard.model.market import Candle
from tradeguard.node import TradingNode
from tradeguard.node.feed import NodeFeed

MINUTE = 60_000


def candle(ts: int, close: str) -> Candle:
    c = Decimal(close)
    return Candle("BTC/USDT", ts, c, c, c, c, Decimal(1), 60, "binance")


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    node = TradingNode(cfg)
    await node.start()
    feed = NodeFeed(node)
    strat = node.strategies[0]
    now = node.clock.now_ms() // MINUTE * MINUTE
    one = Decimal(1)
    await node.on_quote(Quote("BTC/USDT", now, Decimal("49999"), one, Decimal("50001"), one))
    # a dip then a rise: the fast average crosses above the slow one on the last close
    closes = ["50000", "49950", "49900", "49850", "49800", "50000"]
    ts = now - len(closes) * MINUTE
    for close in closes:
        await feed.on_live_candle(candle(ts, close), warmup=False)
        ts += MINUTE
    for _ in range(200):  # the market buy's fill
        if strat.position.quantity > 0 and not node.orders.open:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the entry did not fill")
    burst = sys.argv[2:] == ["burst"]
    for close in ("50300", "50600", "50900"):  # arms the trailing stop, then new highs
        if not burst:
            await asyncio.sleep(0.3)
        await feed.on_live_candle(candle(ts, close), warmup=False)
        ts += MINUTE
    if burst:
        await asyncio.sleep(0.3)
    tracker = strat._tracker  # type: ignore[attr-defined]
    saves = getattr(node, "state_saves", None)  # None: a node that never stores them early
    writes = None if saves is None else saves.writes
    die({"best": str(tracker.best), "entry": str(tracker.entry), "ts": ts, "writes": writes})


asyncio.run(main())
