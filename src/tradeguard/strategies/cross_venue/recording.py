"""How a pair attempt ends: its trade and realised P&L in the book, its record written with the
book in one transaction, its result to the risk engine, its events.

```python
executor.book_result(rec, sale_pnl)   # the attempt's trade of the day and what it realised now
executor.book_pair(open_pair)         # capital held until the pair settles
executor._finish(rec)                 # the record, the book, the risk engine's cycle, the event
```

What the risk engine's losing streak and after-loss cooldown see of a record is what it realised
now (`PairAttempt.realised`, the same figure the day's realised P&L takes): an unwind's sale,
dust written off. A pair's profit is had at settlement, so it is no win before then, and a sale
at a loss beside a pair booked at the same start is a losing trade.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeguard.model.events import Event, EventKind
from tradeguard.model.money import ZERO, plain
from tradeguard.strategies.cross_venue.limits import LimitBook, OpenPair
from tradeguard.strategies.cross_venue.netting_guard import NetsRefusals
from tradeguard.strategies.cross_venue.records import (
    INTERRUPTED_PAIR,
    PairAttempt,
    PairLegResult,
    execution_event,
    held_events,
)
from tradeguard.strategies.gateway import ExecutionGateway

if TYPE_CHECKING:
    from tradeguard.strategies.cross_venue.executor import PairExecConfig


class PairRecording:
    """The executor's bookkeeping: what each record books, writes, reports and announces."""

    gateways: dict[str, ExecutionGateway]
    strategy_id: str
    config: PairExecConfig
    mode: str
    book: LimitBook
    attempts: list[PairAttempt]
    last_record_id: int
    _unstamped: list[OpenPair]
    nets_refused: NetsRefusals
    _nets_pending: PairAttempt | None
    late_sales: dict[str, Any]
    _clock: ExecutionGateway

    def book_result(self, rec: PairAttempt, realised: Decimal = ZERO, trade: bool = True) -> None:
        """Count `rec` as a trade of the day (`trade`; False: its pair was counted already, a
        sale beside it only realises P&L) and book `realised`, the P&L it realised now, in the
        day's P&L and in what the record reports to the risk engine."""
        if trade:
            self.book.record_trade(rec.ts, realised)
        else:
            self.book.realise(rec.ts, realised)
        rec.realised += realised

    def book_pair(self, pair: OpenPair) -> None:
        """Hold `pair` in the book; the record of the attempt booking it names it, and is
        written with the book in one transaction (`_finish`)."""
        self.book.open.append(pair)
        self._unstamped.append(pair)

    def _book_state(self, record_id: int) -> dict[str, Any]:
        """The book as the record `record_id` leaves it (committed with that record)."""
        for pair in self._unstamped:
            pair.record_id = record_id
        for sale in self.late_sales.values():  # an unwind in flight: the sale of this record
            if sale.leg.record_id == 0:
                sale.leg = dataclasses.replace(sale.leg, record_id=record_id)
        self._unstamped.clear()
        self.last_record_id = record_id
        refused, self._nets_pending = self._nets_pending, None
        if refused is not None:
            self.nets_refused.recorded(refused.pair_id, refused.reason, record_id, refused.ts)
        return {"limits": self.book.to_json(), "record_id": record_id,
                "nets_refused": self.nets_refused.to_json(),
                "late_sales": {c: s.to_json() for c, s in self.late_sales.items()}}  # fmt: skip

    def _finish(self, rec: PairAttempt) -> PairAttempt:
        """Write the record with the book, report what it realised to the risk engine (every
        market it touched cools down after a loss) and publish its `arb.execution` event."""
        gateway = next(iter(self.gateways.values()))
        cycle: dict[str, Any] = {}
        if any(leg.filled for leg in rec.legs) or rec.realised:
            symbols = list(dict.fromkeys([*(leg.symbol for leg in rec.legs), *rec.dust]))
            cycle = {"symbols": symbols, "pnl": plain(rec.realised), "ts": rec.ts}

        def state(record_id: int) -> dict[str, Any]:  # a kill before the report: told at start
            return {**self._book_state(record_id), "cycle": cycle}

        def announce(record_id: int | None) -> list[Event]:  # kept with the record, then published
            rec.record_id = record_id
            return [*held_events(rec), execution_event(rec, self.strategy_id, gateway.now_ms())]

        rec.record_id = gateway.record_execution(rec.to_row(), state, announce)
        if cycle:
            gateway.observe_cycle(tuple(cycle["symbols"]), rec.realised, rec.ts, rec.record_id)
        self.attempts.append(rec)
        return rec

    def _hold(self, rec: PairAttempt, leg: PairLegResult) -> None:
        """Raise the critical `arb.held` event for what `rec` leaves held unhedged: kept with
        its record, in the same commit, and published after it (`_finish`)."""
        held = ", ".join(f"{q} {s}" for s, q in rec.held.items()) or leg.symbol
        data: Mapping[str, Any] = {
            "path": f"{rec.pair_id} d{rec.direction}",
            "pair_id": rec.pair_id,
            "mode": self.mode,
            "held": {s: plain(q) for s, q in rec.held.items()},
            "reason": rec.reason,
            "message": (
                f"[{self.mode}] pair {rec.pair_id}: {held} held unhedged on {leg.venue} "
                f"({_cause(rec)}, unwind did not fill within max_unwind_loss_usd="
                f"{self.config.max_unwind_loss_usd}); sell it or hedge it by hand"
            ),
        }
        rec.alerts.append(
            Event(EventKind.ARB_HELD, self._clock.now_ms(), dict(data), leg.venue, leg.symbol,
                  self.strategy_id, "critical")
        )  # fmt: skip


def _cause(rec: PairAttempt) -> str:
    if rec.pair_id == INTERRUPTED_PAIR or "adopted at start" in rec.reason:
        return "the node stopped between the legs"
    return "second leg failed"


__all__ = ["PairRecording"]
