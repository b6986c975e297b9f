"""Arbitrage attempts a crash cut short: legs in the journal that no recorded attempt names.

```python
legs = interrupted_legs(storage, "pmarb", reported)   # at start, after reconciliation
event = held_event("pmarb", legs, now_ms, HOLD_WHY)    # when they are kept
record_held(storage, "pmarb", legs, now_ms, why)       # names them: no later start takes them
```

An arbitrage strategy (`cross_venue`, `triangular`) records each attempt in `arb_executions`
when it ends, naming every leg's client order id. A node killed between two legs leaves legs in
the journal that no record names: a first leg filled and its hedge never sent (or sent and not
seen), with no unwind, no record and no alert. At start, once reconciliation has brought those
orders up to date, each strategy's unnamed legs that filled are found here; the node
(`node/interrupted.py`) hands them to the strategy's executor to unwind, or reports them as one
critical `arb.held` event naming what they bought or sold, once (the reported ids are kept in
kv_state under `REPORTED_KEY`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal
from typing import Any

from tradeguard.model.enums import Side
from tradeguard.model.events import Event, EventKind
from tradeguard.model.fill import Fill
from tradeguard.model.money import ZERO, plain
from tradeguard.model.order import Order
from tradeguard.storage.arb_repository import insert_arb_execution, load_arb_executions

REPORTED_KEY = "arb.interrupted_reported"  # client order ids already reported
_ORDERS = 200  # the newest orders of a strategy looked at
_RECORDS = 50  # the newest records of a strategy whose legs count as named


def _named_ids(doc: Any, out: set[str]) -> None:
    """Collect every `client_order_id` inside a record's JSON."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key == "client_order_id" and isinstance(value, str):
                out.add(value)
            else:
                _named_ids(value, out)
    elif isinstance(doc, list):
        for item in doc:
            _named_ids(item, out)


def interrupted_legs(storage: Any, strategy_id: str, skip: Collection[str] = ()) -> list[Order]:
    """Return the strategy's arbitrage legs that filled and that no recorded attempt names
    (legs in `skip`, already reported, are not looked at)."""
    legs = [
        o
        for o in storage.load_orders(strategy_id=strategy_id, limit=_ORDERS)
        if isinstance(o.signal, dict)
        and "arb" in o.signal
        and o.filled > ZERO
        and o.client_order_id not in skip
    ]
    if not legs:
        return []
    records = load_arb_executions(
        storage, strategy_id=strategy_id, limit=_RECORDS, newest_first=True
    )
    named: set[str] = set()
    for rec in records:
        _named_ids(rec.get("legs"), named)
        _named_ids(rec.get("cycle"), named)
    # Attempts run one at a time and a record's ts is its start: a leg not newer than the
    # oldest record read may belong to a record not read, the newest started by its creation
    # (a fill booked after the start that first looked at the leg, then 50 refused attempts),
    # or, for a leg a crash cut, the first written after it (the next start's record).
    floor = int(records[-1]["ts"]) if len(records) == _RECORDS else None
    out = []
    for o in reversed(legs):  # oldest first
        if o.client_order_id in named:
            continue
        if floor is not None and o.created_ts <= floor:
            _name_around(storage, strategy_id, o.created_ts, named)
            if o.client_order_id in named:
                continue
        out.append(o)
    return out


def _name_around(storage: Any, strategy_id: str, created_ts: int, named: set[str]) -> None:
    """Collect the ids named by the records last started by `created_ts` and first after it."""
    before = load_arb_executions(
        storage, strategy_id=strategy_id, until_ts=created_ts + 1, limit=_RECORDS,
        newest_first=True,
    )  # fmt: skip
    after = load_arb_executions(
        storage, strategy_id=strategy_id, since_ts=created_ts, limit=_RECORDS
    )
    for rec in (*before, *after):
        _named_ids(rec.get("legs"), named)
        _named_ids(rec.get("cycle"), named)


def _moved(order: Order, fills: Sequence[Fill]) -> tuple[str, Decimal, str, Decimal]:
    """What a cut leg brought in and gave: (asset got, amount, asset given, amount), for the
    part of the order that filled (never its whole amount), fees counted on the side of the
    asset they were charged in; from its journaled `fills`, else from the order's totals (its
    fee in the quote)."""
    base, _, rest = order.symbol.partition("/")
    quote = rest.split(":", 1)[0]
    own = [f for f in fills if f.client_order_id == order.client_order_id]
    if own:
        amount = sum((f.amount for f in own), ZERO)
        value = sum((f.amount * f.price for f in own), ZERO)
        fees = {a: sum((f.fee for f in own if f.fee_asset == a), ZERO) for a in (base, quote)}
    else:
        amount, value = order.filled, order.filled * order.avg_price
        fees = {base: ZERO, quote: order.fee}
    if order.side is Side.BUY:
        return base, amount - fees[base], quote, value + fees[quote]
    return quote, value - fees[quote], base, amount + fees[base]


def holding(legs: list[Order], fills: Mapping[str, Sequence[Fill]]) -> dict[str, Decimal]:
    """What cut `legs` hold together per asset (`fills` by client order id): what each brought
    in less what a later one gave of it (an unwind sold part back), what is left over only."""
    net: dict[str, Decimal] = {}
    for o in legs:
        got, got_amount, gave, gave_amount = _moved(o, fills.get(o.client_order_id, ()))
        net[got] = net.get(got, ZERO) + got_amount
        net[gave] = net.get(gave, ZERO) - gave_amount
    return {a: q for a, q in net.items() if a and q > 0}


def held_event(
    strategy_id: str,
    legs: list[Order],
    now_ms: int,
    why: str,
    fills: Mapping[str, Sequence[Fill]] | None = None,
) -> Event:
    """Return the critical `arb.held` event naming what `legs` bought or sold, what that
    leaves held (the part of each that filled), and `why`."""
    totals: dict[str, Decimal] = {}
    for o in legs:  # two legs on one symbol, venue and side add up
        key = f"{o.symbol} on {o.venue} ({o.side.value})"
        totals[key] = totals.get(key, ZERO) + o.filled
    held = {key: str(amount) for key, amount in totals.items()}
    text = "; ".join(f"{o.client_order_id} {o.side.value} {o.filled} {o.symbol} on "
                     f"{o.venue} ({o.status.value})" for o in legs)  # fmt: skip
    kept = holding(legs, fills or {})
    shown = ", ".join(f"{plain(q)} {a}" for a, q in kept.items()) or "nothing"
    data = {
        "path": "interrupted attempt",
        "held": held,
        "reason": f"{why}: {text}; holding {shown}; {HAND}",
        "client_order_ids": [o.client_order_id for o in legs],
    }
    first = legs[0]
    return Event(
        EventKind.ARB_HELD, now_ms, data, first.venue, first.symbol, strategy_id, "critical"
    )


def record_held(storage: Any, strategy_id: str, legs: list[Order], now_ms: int, why: str) -> int:
    """Write the `held` record that names `legs`, so no later start takes them up again, with
    what they hold (`holding`: the part of each that filled), read back at every start."""
    fills = {o.client_order_id: storage.load_fills(client_order_id=o.client_order_id)
             for o in legs}  # fmt: skip
    held = {a: plain(q) for a, q in holding(legs, fills).items()}
    row = {
        "strategy_id": strategy_id,
        "cycle": {"path": "interrupted attempt", "kind": "interrupted"},
        "start_asset": "?",
        "outcome": "held",
        "ts": now_ms,
        "legs": {
            "reason": why,
            "legs": [
                {"client_order_id": o.client_order_id, "symbol": o.symbol, "venue": o.venue,
                 "side": o.side.value, "filled": str(o.filled), "status": o.status.value}
                for o in legs
            ],
            "held": held,
        },
    }  # fmt: skip
    return int(insert_arb_execution(storage, row))


HAND = (
    "the strategy does not track what it holds (a pair's settlement included): check the "
    "venues, then close, hedge or keep it by hand"
)
HOLD_WHY = (
    "the node stopped during an attempt (no record names these legs) and the strategy's "
    "on_interrupted is `hold`, so nothing was unwound"
)
