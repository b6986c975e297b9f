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
`arb.held` event saying so. Legs kept under `hold` are marked reported (REPORTED_KEY) only
after their event is published, so a stop in between reports them again rather than never.
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
                _record_held(node, strat, legs, now, AGAIN_WHY)
                events.append(held_event(sid, legs, now, AGAIN_WHY))
            del adopting[sid]
            storage.kv_set(ADOPTING_KEY, adopting)
            continue
        if not legs:
            continue
        adopt = getattr(strat, "adopt_interrupted", None)
        if adopt is None or getattr(strat, "on_interrupted", "hold") != "unwind":
            events.append(held_event(sid, legs, now, HOLD_WHY))
            reported.update(o.client_order_id for o in legs)
            if getattr(strat, "hold_interrupted", None) is not None:
                _record_held(node, strat, legs, now, HOLD_WHY)  # booked under their pair
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
            record_held(storage, sid, legs, now, why)
            events.append(held_event(sid, legs, now, why))
        else:
            log.warning("strategy %s: interrupted legs %s", sid, outcome)
        del adopting[sid]
        storage.kv_set(ADOPTING_KEY, adopting)
    for event in events:
        log.critical("strategy %s: %s", event.strategy_id, event.data["reason"])
        node.bus.publish(event)
    # Marked reported only once the report is out (audit log, alerts): a stop before this
    # reports them again at the next start rather than never.
    if reported != set(stored if isinstance(stored, list) else ()):
        storage.kv_set(REPORTED_KEY, sorted(reported))
    return events


def _fills(node: TradingNode, legs: list[Any]) -> dict[str, Any]:
    storage = node.storage
    return {o.client_order_id: storage.load_fills(client_order_id=o.client_order_id)
            for o in legs}  # fmt: skip


def _record_held(node: TradingNode, strat: Any, legs: list[Any], now: int, why: str) -> None:
    """Write the `held` record naming `legs`: the strategy's own (booking what they hold in its
    book, the record committed with it) when it keeps one, else the node's."""
    hold = getattr(strat, "hold_interrupted", None)
    if hold is None:
        record_held(node.storage, strat.id, legs, now, why)
        return
    hold(legs, _fills(node, legs), why)
