"""Child process: a triangular node killed (SIGKILL) between the legs of a cycle, or while the
next start unwinds what the first leg bought.

argv: config.json between|between2|unwinding
- between: start, buy about 20 USDT of the first USDT market with a ticker as the cycle's first
  leg (a real IOC through the executor and the order path), then die before leg 2 is sent;
- between2: the same, then sell what it bought for BTC as leg 2, and die before leg 3;
- after3: the same, then sell the BTC for USDT as leg 3, and die before the record is written;
- inflight1 / 2 / 3: as between / between2 / after3, but die inside leg 1 / 2 / 3: the venue has
  filled the order and answered, the node has not read the answer (the fill known only there);
- heldkill: start (on_interrupted = "hold") with the bus patched to die as the start publishes
  its arb.held report, before any handler (audit log, alerts) sees it;
- unwinding: start with the venue's submit patched to die on the first sell, once the order is
  journaled and before it leaves: the start-up unwind is cut short.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from rigs import die_on_first_sell
from tradeguard.config import Config
from tradeguard.model.enums import Side
from tradeguard.node import TradingNode
from tradeguard.strategies.triangular.exec_records import LegExecution

VENUE = "sbx"


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    node = TradingNode(cfg)
    venue = node.venues[VENUE]
    if sys.argv[2] == "heldkill":
        publish = node.bus.publish

        def die_on_held(event):  # the report is lost with the process
            if event.kind == "arb.held":
                print(json.dumps({"publishing": event.data.get("client_order_ids")}), flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            publish(event)

        node.bus.publish = die_on_held  # type: ignore[method-assign]
        await node.start()
        print(json.dumps({"unexpected": "start ended"}), flush=True)
        return
    if sys.argv[2] == "unwinding":
        die_on_first_sell(venue)
        await node.start()
        print(json.dumps({"unexpected": "start ended"}), flush=True)
        return
    if sys.argv[2].startswith("inflight"):
        _die_inside_send(venue, int(sys.argv[2][-1]))
    await node.start()
    executor = node.strategies[0].executor  # type: ignore[attr-defined]
    listed = {i.symbol: i for i in executor.gateway.instruments()}
    # leg 2 (the alt sold for BTC) fills too
    two = sys.argv[2] in ("between2", "after3", "inflight2", "inflight3")
    for inst in sorted(listed.values(), key=lambda i: i.symbol):
        quote = await venue.fetch_reference_quote(inst.symbol)  # type: ignore[attr-defined]
        crossed = not two or f"{inst.base}/BTC" in listed
        if inst.quote == "USDT" and quote is not None and quote.ask > 0 and crossed:
            break
    await node.on_quote(quote)
    ex = LegExecution("leg", 0, inst.symbol, Side.BUY, "USDT", inst.base, quote.ask)
    ex.limit_price = quote.ask
    amount = (Decimal(20) / quote.ask / inst.amount_step).to_integral_value(ROUND_DOWN)
    await executor._send(ex, amount * inst.amount_step, inst.min_amount, inst.min_notional)
    out = {"first": ex.client_order_id, "symbol": inst.symbol, "base": inst.base,
           "filled": str(ex.filled), "received": str(ex.received), "spent": str(ex.spent),
           "bid": str(quote.bid)}  # fmt: skip
    if two:
        cross = listed[f"{inst.base}/BTC"]
        btc = await venue.fetch_reference_quote("BTC/USDT")  # type: ignore[attr-defined]
        await node.on_quote(btc)  # BTC valued in USD for the risk checks
        q2 = await venue.fetch_reference_quote(cross.symbol)  # type: ignore[attr-defined]
        await node.on_quote(q2)
        leg2 = LegExecution("leg", 1, cross.symbol, Side.SELL, inst.base, "BTC", q2.bid)
        leg2.limit_price = q2.bid
        qty = (ex.received / cross.amount_step).to_integral_value(ROUND_DOWN) * cross.amount_step
        await executor._send(leg2, qty, cross.min_amount, cross.min_notional)
        out.update(
            second=leg2.client_order_id,
            btc=str(leg2.received),
            sold=str(leg2.spent),
            why=leg2.reason,
        )
    if sys.argv[2] in ("after3", "inflight3"):  # the cycle is closed: the BTC goes back to USDT
        home = listed["BTC/USDT"]
        leg3 = LegExecution("leg", 2, "BTC/USDT", Side.SELL, "BTC", "USDT", btc.bid)
        leg3.limit_price = btc.bid
        qty = (leg2.received / home.amount_step).to_integral_value(ROUND_DOWN) * home.amount_step
        await executor._send(leg3, qty, home.min_amount, home.min_notional)
        out.update(third=leg3.client_order_id, usdt=str(leg3.received), why3=leg3.reason)
    print(json.dumps(out), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # the next leg is never sent


def _die_inside_send(venue: Any, nth: int) -> None:
    """The `nth` order sent reaches the venue and is answered; the process dies before the
    order path reads the answer."""
    send, sent = venue.submit, []

    async def answered_then_die(order: Any) -> Any:
        sent.append(order.client_order_id)
        report = await send(order)
        if len(sent) == nth:
            print(json.dumps({"inflight": order.client_order_id, "symbol": order.symbol,
                              "filled": str(report.filled), "sent": sent}), flush=True)  # fmt: skip
            os.kill(os.getpid(), signal.SIGKILL)
        return report

    venue.submit = answered_then_die


asyncio.run(main())
