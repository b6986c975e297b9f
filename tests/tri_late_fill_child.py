"""Child process: a triangular node on the sandbox whose first leg's send times out without
reaching the venue; queries find no such order, so the leg is `rejected` and the cycle recorded
with nothing traded. The node dies (SIGKILL) with the order still on its way: the parent
delivers it to the venue while the node is down.

argv: config.json base_url (the sandbox)
Prints one JSON line before dying: the record's id and outcome, the leg's order id, its asset.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.config import Config
from tradeguard.model.enums import Side
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.node import TradingNode
from tradeguard.strategies.triangular.opportunity import Leg, Opportunity

VENUE = "sbx"


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    node = TradingNode(cfg)
    node.orders.resolve_attempts, node.orders.resolve_delay_s = 1, 0.01
    node.orders.not_found_grace_ms = 0  # the venue's "no such order" is taken at once
    await node.start()
    venue = node.venues[VENUE]
    executor = node.strategies[0].executor  # type: ignore[attr-defined]
    executor.config = executor.config.model_copy(update={"leg_timeout_s": 0.3})
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
        quote = await venue.fetch_reference_quote(symbol)  # type: ignore[attr-defined]
        await node.on_quote(quote)
        price = quote.ask if side is Side.BUY else quote.bid
        legs.append(Leg(symbol, side, frm, to, price, listed[symbol].taker_fee))
    send = venue.submit
    held_back: list[Any] = []

    async def queued(order: Any) -> Any:
        if not held_back:  # the first leg: lost on the way, for now
            held_back.append(order)
            raise AmbiguousVenueError(VENUE, f"timeout sending {order.client_order_id}")
        return await send(order)

    venue.submit = queued  # type: ignore[method-assign]
    opp = Opportunity(0, "USDT", tuple(legs), Decimal(1), Decimal(20), (), "test")
    rec = await executor.execute(opp, Decimal(20))
    [order] = held_back
    out = {"outcome": rec.outcome, "status": rec.legs[0].status, "record_id": rec.record_id,
           "cid": order.client_order_id, "base": inst.base}  # fmt: skip
    print(json.dumps(out), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # the order still on its way to the venue


asyncio.run(main())
