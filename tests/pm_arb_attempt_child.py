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
- announcing: the record committed, killed as its `arb.execution` event is put on the bus,
  before any subscriber (alerts, audit log, dashboard) hears of it;
- observing: (a later start) the start-up record is committed, killed before the risk engine
  is told what it realised;
- unwinding: (a later start) the start-up unwind's sell is journaled, its request never leaves;
- first_unresolved / second_unresolved: during the run, that leg's venue executes it and its
  answer is lost, as are its fills, every query of it and its cancel: the leg is still in flight
  after leg_timeout_s and its cancel; dies once the attempt's `held` record is committed;
- held_announcing: as second_unresolved, killed as the attempt's critical `arb.held` event is
  put on the bus, before any subscriber hears of it;
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


lost: dict[str, str] = {}  # client order id -> venue: the leg whose every answer is lost


def _lose_answers(node, role: str) -> None:
    """The venue executes the `role` leg; its answer, fills, queries and cancel never arrive."""
    from tradeguard.model.errors import AmbiguousVenueError

    for venue in node.venues.values():

        async def submit(order, venue=venue, send=venue.submit):
            if order.signal.get("arb") != role:
                return await send(order)
            lost[order.client_order_id] = venue.name
            await send(order)  # executed by the venue
            raise AmbiguousVenueError(venue.name, "submit: read timed out", "TIMEOUT")

        def lose(call, venue=venue):
            async def lost_or_sent(order_or_cid, *args, **kw):
                cid = getattr(order_or_cid, "client_order_id", order_or_cid)
                if cid in lost:
                    raise AmbiguousVenueError(venue.name, "read timed out", "TIMEOUT")
                return await call(order_or_cid, *args, **kw)

            return lost_or_sent

        venue.submit = submit  # type: ignore[method-assign]
        venue.cancel = lose(venue.cancel)  # type: ignore[method-assign]
        venue.fetch_order = lose(venue.fetch_order)  # type: ignore[method-assign]
    on_fill = node.orders.on_fill

    def no_fill_of_lost(fill, on_fill=on_fill):
        if fill.client_order_id not in lost:
            on_fill(fill)

    node.orders.on_fill = no_fill_of_lost  # type: ignore[method-assign]


BOOK_MOVES = "TG_TEST_BOOK_MOVES_AFTER_SIZING"


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    step = sys.argv[2]
    if os.environ.get(BOOK_MOVES):  # size at full size: the unwind's book moves after sizing
        from tradeguard.strategies.cross_venue import executor

        executor.unwind_size = lambda _g, _f, _p, n, _cap: (n, "")  # type: ignore[assignment]
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
    if step.endswith("_unresolved"):
        _lose_answers(node, step.split("_", 1)[0])
    if step == "held_announcing":
        _lose_answers(node, "second")
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
        if step.endswith("_unresolved") and event.kind == EventKind.ARB_EXECUTION:
            die({"step": step, "record_id": event.data["record_id"],
                 "outcome": event.data["outcome"], "reason": event.data["reason"],
                 "lost": lost})  # fmt: skip
        if step == "recorded" and event.kind == EventKind.ARB_EXECUTION:
            die({"step": step, "record_id": event.data["record_id"],
                 "outcome": event.data["outcome"]})  # fmt: skip

    node.bus.subscribe(on_event)
    if step == "announcing":
        publish = node.bus.publish

        def die_announcing(event, publish=publish):
            if event.kind == EventKind.ARB_EXECUTION:
                die({"step": step, "record_id": event.data["record_id"],
                     "outcome": event.data["outcome"]})  # fmt: skip
            publish(event)

        node.bus.publish = die_announcing  # type: ignore[method-assign]
    if step == "held_announcing":
        publish = node.bus.publish

        def die_holding(event, publish=publish):
            if event.kind == EventKind.ARB_HELD:
                die({"step": step, "held": event.data["held"], "lost": lost,
                     "record_id": event.data.get("record_id")})  # fmt: skip
            publish(event)

        node.bus.publish = die_holding  # type: ignore[method-assign]
    await node.start()
    await node.run_live(duration_s=90)
    print(json.dumps({"unexpected": "no attempt reached the step"}), flush=True)


asyncio.run(main())
