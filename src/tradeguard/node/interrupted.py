"""At start, after reconciliation and before any strategy trades: arbitrage a crash cut short.

```python
await take_up_interrupted(node)   # in before_trading
```

For each arbitrage strategy, the filled legs no record names (`execution/interrupted_arb.py`)
are either handed to the strategy's executor (`on_interrupted = "unwind"`, the default), which
trades them back within its own unwind bound through the risk engine and the journal and writes
the record that names them, or kept and reported once with a critical `arb.held` event
(`on_interrupted = "hold"`, or a strategy that cannot unwind). A strategy keeping a book of what
it holds (`hold_interrupted`, cross-venue) writes the held record itself, booking the legs.

A second stop during such an unwind must neither unwind twice nor lose the record. Before the
first unwind order is journaled, the legs being taken up are committed in kv_state under
`ADOPTING_KEY`; the executor's record clears them. A start that finds the key still set for a
strategy knows the unwind was cut short: it sends nothing, writes a `held` record naming every
unnamed filled leg (the interrupted ones and whatever the unwind sold), and raises a critical
`arb.held` event saying so. Every such event is committed with the held record (or, with no
record, with the legs marked reported under REPORTED_KEY) in the strategy's record outbox and
published after that commit: a stop in between announces it at the next start, once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tradeguard.execution.interrupted_arb import (
    HOLD_WHY,
    REPORTED_KEY,
    held_event,
    interrupted_legs,
    record_held,
)
from tradeguard.model.events import Event

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode

log = logging.getLogger("tradeguard.node.node")

ADOPTING_KEY = "arb.interrupted_adopting"  # {strategy id: client order ids} being unwound
AGAIN_WHY = (
    "the node stopped again while unwinding these legs at start; to never unwind twice nothing "
    "more was sent and this record names them"
)


async def take_up_interrupted(node: TradingNode) -> list[Event]:
    """Unwind or report every strategy's interrupted arbitrage legs; return the events sent."""
    storage = node.storage
    stored = storage.kv_get(REPORTED_KEY)
    reported = set(stored) if isinstance(stored, list) else set()
    raw = storage.kv_get(ADOPTING_KEY)
    adopting: dict[str, Any] = dict(raw) if isinstance(raw, dict) else {}
    events: list[Event] = []
    for strat in node.strategies:
        sid = strat.id
        legs = interrupted_legs(storage, sid, reported)
        now = node.clock.now_ms()
        if sid in adopting:  # the last start's unwind never wrote its record
            if legs:
                hold = getattr(strat, "hold_interrupted", None)
                events.append(_keep_held(node, sid, legs, now, AGAIN_WHY, reported, hold, True))
            del adopting[sid]
            storage.kv_set(ADOPTING_KEY, adopting)
            continue
        if not legs:
            continue
        adopt = getattr(strat, "adopt_interrupted", None)
        if adopt is None or getattr(strat, "on_interrupted", "hold") != "unwind":
            hold = getattr(strat, "hold_interrupted", None)  # booked under their pair
            events.append(_keep_held(node, sid, legs, now, HOLD_WHY, reported, hold, False))
            continue
        adopting[sid] = [o.client_order_id for o in legs]
        storage.kv_set(ADOPTING_KEY, adopting)  # committed before any unwind order
        log.warning("strategy %s: unwinding interrupted legs %s", sid, adopting[sid])
        try:
            fills = _fills(node, legs)
            # what the legs filled is the cycle's holding: its unwind may give it back
            node.risk.cycle_holdings.adopt(sid, legs, fills)
            outcome = await adopt(legs, fills)
        except Exception as exc:  # the executor writes its record whatever the venue says
            log.exception("strategy %s: taking up interrupted legs failed", sid)
            why = f"taking up these interrupted legs at start failed ({exc!r})"
            events.append(_keep_held(node, sid, legs, now, why, reported, None, True))
        else:
            log.warning("strategy %s: interrupted legs %s", sid, outcome)
        del adopting[sid]
        storage.kv_set(ADOPTING_KEY, adopting)
    return events


def _fills(node: TradingNode, legs: list[Any]) -> dict[str, Any]:
    storage = node.storage
    return {o.client_order_id: storage.load_fills(client_order_id=o.client_order_id)
            for o in legs}  # fmt: skip


def _keep_held(
    node: TradingNode,
    sid: str,
    legs: list[Any],
    now: int,
    why: str,
    reported: set[str],
    hold: Any,
    record: bool,
) -> Event:
    """Report `legs` kept, with the critical `arb.held` event saying `why`, exactly once across
    a kill. With the strategy's `hold` (it keeps a book, cross-venue) it writes the held record
    booking them, the event kept in that record's commit and published after it. Otherwise the
    node's held record (when `record`), the legs marked reported and the event are committed
    together in the strategy's outbox, then the event is published: a kill in between leaves
    it for the next start (`announce_outbox`), which neither loses nor repeats it."""
    from tradeguard.execution.outbox import OUTBOX_KEY, event_json

    fills = _fills(node, legs)
    event = held_event(sid, legs, now, why, fills)
    log.critical("strategy %s: %s", sid, event.data["reason"])
    reported.update(o.client_order_id for o in legs)
    if hold is not None:
        hold(legs, fills, why, event)  # published by the record, once committed
        return event
    storage, outbox = node.storage, OUTBOX_KEY.format(sid)
    with storage.transaction():
        if record:
            record_held(storage, sid, legs, now, why)
        storage.kv_set(REPORTED_KEY, sorted(reported))
        storage.kv_set(outbox, [event_json(event)])
    node.bus.publish(event)
    with storage.transaction():
        storage.kv_delete(outbox)
    return event
