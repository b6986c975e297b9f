"""Child process: a triangular node on the sandbox whose cycle stops after its first leg (the
second's book moved beyond the slippage bound: not sent) and whose unwind hop the venue executes
without answering: the hop's answer dropped, its execution report withheld, then every REST
request answered 503, so the hop is still in doubt after leg_timeout_s and its cancel and the
cycle is recorded `held` on it. The node dies (SIGKILL) right after that record.

argv: config.json base_url (the sandbox, its admin endpoints under it)
Prints one JSON line before dying: the record's outcome, what it holds, the hop's order id.
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

import aiohttp

from tradeguard.config import Config
from tradeguard.model.enums import Side
from tradeguard.node import TradingNode
from tradeguard.strategies.triangular.opportunity import Leg, Opportunity

VENUE = "sbx"


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    node = TradingNode(cfg)
    node.orders.resolve_attempts, node.orders.resolve_delay_s = 1, 0.01
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
        if frm == inst.base:  # scanned 10% above the bid: the book is beyond slippage_pct
            price *= Decimal("1.1")
        legs.append(Leg(symbol, side, frm, to, price, listed[symbol].taker_fee))
    send = venue.submit
    url = f"{sys.argv[2]}/admin/faults"
    dropped: list[str] = []

    async def unanswered_hop(order: Any) -> Any:
        if order.signal.get("arb") == "unwind" and not dropped:  # executed; its answer never comes
            dropped.append(order.client_order_id)
            faults = {"drop_response_after_execute": 1, "drop_execution_reports": 1}
            async with aiohttp.ClientSession() as http, http.post(url, json=faults) as r:
                assert r.status == 200, await r.text()
        return await send(order)

    venue.submit = unanswered_hop  # type: ignore[method-assign]
    opp = Opportunity(0, "USDT", tuple(legs), Decimal(1), Decimal(20), (), "test")
    rec = await executor.execute(opp, Decimal(20))
    hops = [u.client_order_id for u in rec.unwinds]
    out = {"outcome": rec.outcome, "held": {a: str(q) for a, q in rec.held.items()},
           "hops": hops, "dropped": dropped, "base": inst.base, "reason": rec.reason,
           "record_id": rec.record_id}  # fmt: skip
    print(json.dumps(out), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # the hop still held, unanswered


asyncio.run(main())
