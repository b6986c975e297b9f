"""Child process: a cross_venue node trading on both sandboxes, SIGKILLed at one step of its
first pair attempt.

argv: config.json STEP
- first_journaled: the first leg's order is journaled, its request never leaves;
- first_sent: the first leg's request reached the venue, which executed it and answered; killed
  as the answer arrives, before the venue code reads it (the journal has the order submitted,
  its end and fills unknown);
- first_filled: the first leg filled, the second not sent;
- second_filled: both legs filled, the attempt's record not written;
- second_part: the second leg sent for all but 3 of the first's contracts (a hedge that filled
  part before the kill), killed once it filled, the record not written;
- recorded: the record (and the book with it) committed, before any later checkpoint;
- observing: (a later start) the start-up record is committed, killed before the risk engine
  is told what it realised;
- unwinding: (a later start) the start-up unwind's sell is journaled, its request never leaves;
- nets_repeated: every attempt is refused PAIR_NETS (the netting check answers as if Kalshi held
  the other outcome free); dies right after the third repeat of the recorded refusal.
Prints one JSON line before dying: what the attempt had done.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from tradeguard.config import Config
from tradeguard.model.events import EventKind
from tradeguard.node import TradingNode


def die(what: dict) -> None:
    print(json.dumps(what), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def _refuse_as_netted(executor) -> None:
    """Every attempt refused PAIR_NETS; the first one (recorded) is tried three times more as
    the cooldowns would, and the process dies as the third repeat returns."""
    from tradeguard.strategies.cross_venue import executor as module

    module.netting_refusal = lambda _gateways, _opp: (
        "pair rejected (PAIR_NETS): kalshi holds 5 KXFED:NO free; buying it nets them"
    )
    execute = executor.execute

    async def thrice_more(opp):
        rec = await execute(opp)
        for _ in range(3):
            await execute(opp)
        entry = executor.nets_refused.by_pair[opp.pair_id]
        die({"step": "nets_repeated", "pair": opp.pair_id, "repeats": entry.repeats,
             "record_id": entry.record_id, "code": rec.code})  # fmt: skip

    executor.execute = thrice_more


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    step = sys.argv[2]
    node = TradingNode(cfg)
    sending: dict[str, str] = {}  # venue -> the first leg whose request is on its way
    for venue in node.venues.values():
        venue.quote_poll_s = 0.05  # type: ignore[attr-defined]
        send = venue.submit

        async def journaled_only(order, send=send):  # journaled; the request never leaves
            if step == "first_journaled" and order.signal.get("arb") == "first":
                die({"step": step, "first": order.client_order_id})
            if step == "unwinding" and order.side.value == "sell":
                die({"step": step, "sell": order.client_order_id})
            if step == "first_sent" and order.signal.get("arb") == "first":
                sending[order.venue] = order.client_order_id
            return await send(order)

        venue.submit = journaled_only  # type: ignore[method-assign]
        http = getattr(venue, "_private", None)

        async def answered(op, *args, http=http, name=venue.name, **kw):
            answer = await http(op, *args, **kw)  # the venue has the order and has answered
            if op == "submit" and name in sending:
                die({"step": step, "first": sending[name], "venue": name,
                     "answered": str(answer)[:300]})  # fmt: skip
            return answer

        if http is not None:
            venue._private = answered  # type: ignore[attr-defined]
    if step == "first_sent":  # the user channel's fill of it is still in flight at the kill
        on_fill = node.orders.on_fill

        def held_back(fill, on_fill=on_fill):
            if fill.client_order_id not in sending.values():
                on_fill(fill)

        node.orders.on_fill = held_back  # type: ignore[method-assign]
    executor = node.strategies[0].executor  # type: ignore[attr-defined]
    leg = executor._send

    async def send_leg(role, *args):
        if step == "second_part" and role == "second":
            venue, symbol, side, amount, *rest = args
            done = await leg(role, venue, symbol, side, amount - 3, *rest)
            die({"step": step, "role": role, "cid": done.client_order_id,
                 "filled": str(done.filled)})  # fmt: skip
        done = await leg(role, *args)
        if step == f"{role}_filled" and done.filled > 0:
            die({"step": step, "role": role, "cid": done.client_order_id,
                 "filled": str(done.filled)})  # fmt: skip
        return done

    executor._send = send_leg
    if step == "observing":
        for gateway in executor.gateways.values():
            gateway.observe_cycle = lambda *a, **k: die({"step": step})
    if step == "nets_repeated":
        _refuse_as_netted(executor)

    def on_event(event):
        if step == "recorded" and event.kind == EventKind.ARB_EXECUTION:
            die({"step": step, "record_id": event.data["record_id"],
                 "outcome": event.data["outcome"]})  # fmt: skip

    node.bus.subscribe(on_event)
    await node.start()
    await node.run_live(duration_s=90)
    print(json.dumps({"unexpected": "no attempt reached the step"}), flush=True)


asyncio.run(main())
