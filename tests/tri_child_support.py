"""Shared start of the triangular child processes the sandbox tests SIGKILL
(`tri_held_child.py`, `tri_late_fill_child.py`, `tri_unwind_held_child.py`).

Holds no tests: a node built from the config file named by argv[1], its first USDT -> X -> BTC
cycle scanned at the venue's reference quotes, and the death that ends each child.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.config import Config
from tradeguard.model.enums import Side
from tradeguard.node import TradingNode
from tradeguard.strategies.triangular.opportunity import Leg, Opportunity

VENUE = "sbx"


async def started_node(**orders: Any) -> tuple[TradingNode, Any, Any]:
    """The node of argv[1]'s config, started, resolving unknown orders once with no wait and
    its legs timing out after 0.3 s; `orders` sets further attributes on its order path.
    Returns the node, its venue and its triangular executor."""
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    node = TradingNode(cfg)
    node.orders.resolve_attempts, node.orders.resolve_delay_s = 1, 0.01
    for name, value in orders.items():
        setattr(node.orders, name, value)
    await node.start()
    venue = node.venues[VENUE]
    executor = node.strategies[0].executor  # type: ignore[attr-defined]
    executor.config = executor.config.model_copy(update={"leg_timeout_s": 0.3})
    return node, venue, executor


async def scanned_cycle(
    node: TradingNode, venue: Any, executor: Any, *, middle_above_bid: bool = False
) -> tuple[str, Opportunity]:
    """The first USDT -> X -> BTC -> USDT cycle the venue lists, priced at its reference quotes
    (fed to the node); with `middle_above_bid` the X/BTC sell is scanned 10% above the bid, so
    its book is beyond slippage_pct. Returns X and the opportunity (20 USDT)."""
    listed = {i.symbol: i for i in executor.gateway.instruments()}
    for inst in sorted(listed.values(), key=lambda i: i.symbol):
        if inst.quote == "USDT" and f"{inst.base}/BTC" in listed:
            break
    legs = []
    for symbol, side, frm, to in (
        (inst.symbol, Side.BUY, "USDT", inst.base),
        (f"{inst.base}/BTC", Side.SELL, inst.base, "BTC"),
        ("BTC/USDT", Side.SELL, "BTC", "USDT"),
    ):
        quote = await venue.fetch_reference_quote(symbol)
        await node.on_quote(quote)
        price = quote.ask if side is Side.BUY else quote.bid
        if middle_above_bid and frm == inst.base:
            price *= Decimal("1.1")
        legs.append(Leg(symbol, side, frm, to, price, listed[symbol].taker_fee))
    return inst.base, Opportunity(0, "USDT", tuple(legs), Decimal(1), Decimal(20), (), "test")


def say(out: dict[str, Any]) -> None:
    """One JSON line to the parent, flushed before any death."""
    print(json.dumps(out), flush=True)


def die() -> None:
    """SIGKILL this process: no cleanup, no flush."""
    os.kill(os.getpid(), signal.SIGKILL)


def renamed_record(row: dict[str, Any], n: int) -> dict[str, Any]:
    """The stored record `row` as another cycle's (a newer one, `n`): its orders renamed, its
    id dropped."""
    out = copy.deepcopy({k: v for k, v in row.items() if k != "id"})
    for part in ("legs", "unwinds"):
        for leg in out["legs"].get(part) or ():
            leg["client_order_id"] = f"{leg['client_order_id']}-{n}"
    return out
