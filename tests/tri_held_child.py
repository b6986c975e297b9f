"""Child process: a triangular node on the sandbox holds a cycle on a first leg the venue
executed and never answered for; once the venue answers again and the order path learns the
order's end, the node dies (SIGKILL) before the held record is rewritten.

argv: config.json base_url [announcing] (the sandbox, its admin endpoints under it; with
`announcing` the node dies instead as the rewritten record's `arb.resolved` event is published,
after the rewrite committed)
The sandbox's faults are set by the test: the first order placement's answer dropped and its
execution report withheld, then every REST request answered 503. This process lifts the 503s
through the sandbox's admin endpoint once the cycle is recorded held.
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
        legs.append(Leg(symbol, side, frm, to, price, listed[symbol].taker_fee))
    opp = Opportunity(0, "USDT", tuple(legs), Decimal(1), Decimal(20), (), "test")
    rec = await executor.execute(opp, Decimal(20))
    cid = rec.legs[0].client_order_id
    held = {a: str(q) for a, q in rec.held.items()}
    out = {"outcome": rec.outcome, "held": held, "cid": cid, "reason": rec.reason}
    print(json.dumps(out), flush=True)
    amend = executor.gateway.amend_execution

    def die_before_the_record(*args: Any, **kw: Any) -> bool:  # the order ended; no record yet
        print(json.dumps({"amending": cid}), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        return bool(amend(*args, **kw))

    if sys.argv[3:] == ["announcing"]:  # dies as the rewritten record's event is published
        from tradeguard.model.events import EventKind

        publish = node.bus.publish

        def die_announcing(event: Any) -> None:
            if event.kind == EventKind.ARB_RESOLVED:
                print(json.dumps({"announcing": cid}), flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            publish(event)

        node.bus.publish = die_announcing  # type: ignore[method-assign]
    else:
        executor.gateway.amend_execution = die_before_the_record
    url = f"{sys.argv[2]}/admin/faults"
    async with aiohttp.ClientSession() as http, http.post(url, json={"http_5xx_rate": 0}) as r:
        assert r.status == 200, await r.text()  # the venue answers again
    for _ in range(200):
        await node.orders.retry_unknown()
        await asyncio.sleep(0.05)
    print(json.dumps({"unexpected": "never amended"}), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


asyncio.run(main())
