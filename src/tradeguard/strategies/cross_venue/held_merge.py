"""Held lone legs settled by a merge or a venue's netting, with its proceeds as their exit.

```python
records = netted_fill(executor, fill)   # each fill of the strategy's: [] unless it is one
missed = unbooked(executor, rows, load) # at start: such sales a kill left without a record
```

A first leg held alone leaves the account when a YES and a NO of its market are merged into
cash (the CTF's merge of a NO bought by hand or by another strategy) or netted by the venue
(Kalshi pays 1 for a YES and a NO held together). The node books either as the fills of its
netting orders (signal `netting`: `execution/outcome_merge.py`, `execution/outcome_netting.py`),
selling the held contracts under the strategy that bought them. Such a sale settles the held
leg: the proceeds less what the contracts cost are its P&L, in the day's P&L and the risk
engine's cycle; the held record gets one record (`retry_of` it, code `HELD_NETTED`) and one
`arb.settled` event kept with it. Without this the next reconciliation would shrink the leg as
sold outside the strategy and its P&L would never reach the strategy. A fill settles no more
than the lone legs of its symbol hold, the oldest first; what is beyond them belongs to no held
record.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from tradeguard.model.enums import Side
from tradeguard.model.fill import Fill
from tradeguard.model.money import ZERO
from tradeguard.model.order import Order
from tradeguard.model.signal_keys import NETTING_ID_PREFIX, booked_id
from tradeguard.strategies.cross_venue.executor import PairExecutor
from tradeguard.strategies.cross_venue.limits import OpenPair
from tradeguard.strategies.cross_venue.records import HELD_NETTED, PairAttempt, PairLegResult
from tradeguard.strategies.cross_venue.settlement import PairSettlement, settled_event


def is_netting(fill: Fill, order: Order | None) -> bool:
    """Tell whether `fill` of `order` (as journaled) is a netting or merge sale the node
    booked: its order carries the `netting` signal the node stores with it and the id only
    the node gives one (`net` + 24 hex digits; a venue's or a person's id may start with `net-`
    too, and a caller's signal may carry any key)."""
    return (
        fill.side is Side.SELL
        and order is not None
        and order.client_order_id == fill.client_order_id
        and isinstance(order.signal, dict)
        and "netting" in order.signal
        and booked_id(order.client_order_id, NETTING_ID_PREFIX)
    )


def netting_sale(executor: PairExecutor, fill: Fill) -> bool:
    """Tell whether `fill` is a netting or merge sale, by its journaled order (`is_netting`):
    the order alone, never its fills (asked of every sale fill)."""
    if fill.side is not Side.SELL:
        return False  # no lookup: only a sale can be one
    gateway = executor.gateways.get(fill.venue)
    if gateway is None:
        return False
    return is_netting(fill, gateway.journaled_order(fill.client_order_id))


def netted_fill(executor: PairExecutor, fill: Fill) -> list[PairAttempt]:
    """Settle the lone legs of `fill`'s symbol the netting or merge `fill` sold; return the
    records written (none for any other fill)."""
    if not netting_sale(executor, fill):
        return []
    left, fee, out = fill.amount, fill.fee, []
    while left > 0:
        found = next(
            ((i, p) for i, p in enumerate(executor.book.open)
             if p.lone and p.venues[0] == fill.venue and p.legs[0] == fill.symbol),
            None,
        )  # fmt: skip
        if found is None:
            break  # beyond what the held legs hold: no held record's
        i, pair = found
        take = min(left, pair.contracts)
        out.append(_settle(executor, i, pair, take, fill, fee))
        left, fee = left - take, ZERO  # the fee (a merge's rounding) once, on the first
    return out


def unbooked(
    executor: PairExecutor, rows: Sequence[Mapping[str, Any]], load: Callable[[int], list[Fill]]
) -> list[Fill]:
    """The merge or netting sales of the lone legs held now that no record names, or the part
    of one its records did not settle: booked before a kill, their record not written. Only
    sales since the oldest held record (`rows`, the strategy's records) are read
    (`load(since_ts)`): none before could be a held leg's."""
    lone = [p for p in executor.book.open if p.lone]
    if not lone:
        return []
    ts_of = {int(r["id"]): int(r["ts"]) for r in rows}
    newest = max(ts_of.values(), default=0)  # a leg whose record is not known: the newest's
    since = min(ts_of.get(p.record_id, newest) if p.record_id else newest for p in lone)
    named, settled = _named(r for r in rows if int(r["ts"]) >= since)
    held = {(p.venues[0], p.legs[0]) for p in lone}
    out = []
    for f in load(since):
        if (f.venue, f.symbol) not in held or f.client_order_id in named:
            continue
        if not netting_sale(executor, f):
            continue
        done = settled.get(f.client_order_id, ZERO)
        if done <= 0:
            out.append(f)
        elif done < f.amount:  # split over held records, a kill between two of them: the rest
            out.append(dataclasses.replace(f, amount=f.amount - done, fee=ZERO))
    return out


def _named(rows: Iterable[Mapping[str, Any]]) -> tuple[set[str], dict[str, Decimal]]:
    """The order ids `rows` name, and how much of each merge or netting sale their HELD_NETTED
    records settled: one sale may settle several held records, each in its own commit."""
    named: set[str] = set()
    settled: dict[str, Decimal] = {}
    for r in rows:
        netted = r["legs"].get("code") == HELD_NETTED
        for part in ("legs", "unwinds"):
            for leg in r["legs"].get(part) or ():
                cid = str(leg.get("client_order_id"))
                if netted and part == "unwinds":
                    settled[cid] = settled.get(cid, ZERO) + Decimal(str(leg.get("filled") or 0))
                else:
                    named.add(cid)
    return named, settled


def _settle(
    executor: PairExecutor, i: int, pair: OpenPair, take: Decimal, fill: Fill, fee: Decimal
) -> PairAttempt:
    book, symbol = executor.book, pair.legs[0]
    cost = pair.capital * take / pair.contracts
    sold = PairLegResult("unwind", fill.venue, symbol, Side.SELL, take, fill.price, filled=take,
                         avg_price=fill.price, fee=fee, status="filled",
                         client_order_id=fill.client_order_id)  # fmt: skip
    pnl, now = sold.cash - cost, executor._clock.now_ms()
    left = pair.contracts - take
    rec = PairAttempt(
        executor.strategy_id, pair.pair_id, pair.event, pair.direction, executor.mode, take,
        ZERO, ZERO, ZERO, outcome="held" if left > 0 else "unwound", code=HELD_NETTED,
        ts=now, retry_of=pair.record_id, actual_profit=pnl, fees=fee,
        reason=(f"{take} {symbol} held alone on {fill.venue} merged or netted with the other "
                f"outcome (1 USD a pair) at {fill.price}: the held leg's exit"),
    )  # fmt: skip
    rec.legs.append(sold)
    part = dataclasses.replace(pair, contracts=take, capital=cost)
    result = PairSettlement(pair.pair_id, sold.cash, pnl, "", ZERO)
    event = settled_event(part, result, now, fill.venue, executor.strategy_id)
    said = (f"pair {pair.pair_id}: {take} {symbol} held alone merged or netted at {fill.price} "
            f"on {fill.venue}; P&L {pnl} USD")  # fmt: skip
    rec.alerts.append(dataclasses.replace(event, data={**event.data, "message": said}))
    executor.book_result(rec, pnl, trade=False)  # settled: the pair was counted when bought
    if left > 0:
        rec.held[symbol], rec.capital = left, pair.capital - cost
        book.open[i] = dataclasses.replace(pair, contracts=left, capital=rec.capital, note="")
    else:
        del book.open[i]
    executor._finish(rec)  # the record, the book and its events in one commit
    if pair.record_id is not None and rec.record_id is not None:
        executor.held_retries[pair.record_id] = rec.record_id  # a retry read before is stale
    return rec


__all__ = ["HELD_NETTED", "is_netting", "netted_fill", "netting_sale", "unbooked"]
