"""Held lone legs shrunk to what the venue holds, after a reconciliation read its balances.

```python
records = shrink_held(executor, "kalshi", book.total, resolved=set())
```

A first leg held alone stays in the strategy's book until it is sold or settles. A person who
sells some or all of it by hand on the venue leaves the book claiming contracts the venue no
longer holds: they would count against the limits, be offered again by a retry and be settled
as held. Once a reconciliation has read the venue's balances, the contracts the venue holds of
each outcome beyond what the complete pairs need are what the lone legs may still claim; the
lone legs claiming more are shrunk (never below zero), the newest first. Each change is one
`arb_executions` record (code `HELD_SHRUNK`, `retry_of` the held record, so a retry starts from
what is left) written with the book in one transaction, a warning `arb.execution` event, and a
note on the pair in the held list saying why. A pair one of whose legs FAILED at its venue is
no complete pair: the reconciliation flagging it cuts it to its other leg first
(`leg_failed.py`), a lone leg shrunk like any other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection
from decimal import Decimal

from tradeguard.model.money import ZERO
from tradeguard.strategies.cross_venue.executor import PairExecutor
from tradeguard.strategies.cross_venue.limits import OpenPair, is_dust
from tradeguard.strategies.cross_venue.records import HELD_SHRUNK, PairAttempt


def _base(symbol: str) -> str:
    return symbol.split("/", 1)[0]


def shrink_held(
    executor: PairExecutor,
    venue: str,
    total: Callable[[str], Decimal],
    resolved: Collection[str] = (),
) -> list[PairAttempt]:
    """Shrink the lone legs held on `venue` to what `total(asset)` says it holds; return the
    records written (none while an attempt or a retry runs: its orders move the balances)."""
    if executor.busy:
        return []
    book = executor.book
    need: dict[str, Decimal] = {}  # what the complete pairs hold of each asset on the venue
    for pair in book.open:
        for v, symbol in zip(pair.venues, pair.legs, strict=True):
            if v == venue and not pair.lone and symbol not in resolved:
                need[_base(symbol)] = need.get(_base(symbol), ZERO) + pair.contracts
    room = {a: total(a) - q for a, q in need.items()}
    cuts = []
    for i, pair in enumerate(book.open):  # the oldest keep what is held: the newest give way
        if not pair.lone or pair.venues[0] != venue or pair.legs[0] in resolved:
            continue
        asset = _base(pair.legs[0])
        left = room.get(asset, total(asset))
        keep = min(max(left, ZERO), pair.contracts)
        room[asset] = left - keep
        if keep < pair.contracts:  # what the venue holds beyond the complete pairs' legs
            cuts.append((i, pair, keep, total(asset) - need.get(asset, ZERO)))
    # applied from the newest, so a lone leg dropped leaves the older ones' places as they are
    return [_shrink(executor, i, pair, keep, has) for i, pair, keep, has in reversed(cuts)]


def _shrink(
    executor: PairExecutor, i: int, pair: OpenPair, keep: Decimal, venue_has: Decimal
) -> PairAttempt:
    book = executor.book
    symbol, gone = pair.legs[0], pair.contracts - keep
    why = (
        f"{gone} of the {pair.contracts} {symbol} held alone on {pair.venues[0]} are no longer "
        f"there (the venue holds {max(venue_has, ZERO)} beyond the complete pairs' legs: sold "
        f"or moved outside the strategy); the held leg now counts {keep}"
    )
    gateway = executor.gateways.get(pair.venues[0])
    dust = keep if is_dust(gateway.instrument(symbol) if gateway else None, keep) else ZERO
    if dust:  # what is left no order can sell: the pair is flat, the dust shown
        why = f"{why}; {dust} is below the venue's minimum order: dust, the pair is flat"
        keep = ZERO
    capital = pair.capital * keep / pair.contracts
    now = executor._clock.now_ms()
    # dust no order can sell is valued at zero until its market settles: its cost is realised
    written_off = -(pair.capital * dust / pair.contracts)
    rec = PairAttempt(
        executor.strategy_id, pair.pair_id, pair.event, pair.direction, executor.mode, gone,
        ZERO, ZERO, ZERO, outcome="held" if keep > 0 else "failed", reason=why, code=HELD_SHRUNK,
        capital=capital if keep > 0 else ZERO, ts=now, retry_of=pair.record_id,
        actual_profit=written_off,
    )  # fmt: skip
    rec.dust.update({symbol: dust} if dust else {})
    if dust:  # a loss now, for the day and the risk engine's streak; no trade of the day
        executor.book_result(rec, written_off, trade=False)
    if keep > 0:
        rec.held[symbol] = keep
        book.open[i] = dataclasses.replace(pair, contracts=keep, capital=capital, note=why)
    else:
        del book.open[i]
    executor._finish(rec)  # the record and the book in one transaction, and its event
    if pair.record_id is not None and rec.record_id is not None:
        executor.held_retries[pair.record_id] = rec.record_id  # a retry read before is stale
    return rec


__all__ = ["shrink_held"]
