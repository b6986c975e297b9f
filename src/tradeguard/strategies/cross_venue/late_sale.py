"""Booking the late fills of a held leg's retry sale that did not end within its timeout.

```python
watch_late(executor, leg, rec)     # after a retry: its IOC still in flight at the timeout
late_fill(executor, fill)          # each fill of the strategy's orders: None unless it is one
```

A retry's IOC that has not ended within `leg_timeout_s` (a lost answer, a fill not streamed
yet) leaves the retry recorded with the contracts still held. When the sale then fills, the
venue holds fewer contracts: without this the next reconciliation shrinks the held leg as sold
by hand, and its loss never reaches the strategy's day. The late fill is matched to the
retry's order by its client order id and booked as the retry would have: the loss on what the
contracts cost in the day's P&L and the risk engine's cycle, the held leg shrunk in the book,
one record (`retry_of` the held record) saying so. The sales in flight are committed with
each record of the strategy and restored at start: a fill learnt after a restart (the start's
reconciliation finds it) is booked the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradeguard.model.enums import OrderStatus, Side
from tradeguard.model.fill import Fill
from tradeguard.model.money import ZERO, plain
from tradeguard.strategies.cross_venue.executor import PairExecutor
from tradeguard.strategies.cross_venue.held_retry import HeldLeg, own_lone, rebook
from tradeguard.strategies.cross_venue.records import PairAttempt, PairLegResult


@dataclass(slots=True)
class LateSale:
    """A retry's sale still in flight when the retry was recorded."""

    leg: HeldLeg  # the held leg the retry offered
    offered: Decimal
    sold: Decimal  # what the retry's record counted sold, then each late fill

    def to_json(self) -> dict[str, Any]:
        leg = self.leg
        return {
            "record_id": leg.record_id, "pair_id": leg.pair_id, "event": leg.event,
            "direction": leg.direction, "venue": leg.venue, "symbol": leg.symbol,
            "contracts": plain(leg.contracts), "capital": plain(leg.capital),
            "basis": leg.basis, "offered": plain(self.offered), "sold": plain(self.sold),
        }  # fmt: skip

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> LateSale:
        """KeyError, TypeError or ArithmeticError for a checkpoint of another shape."""
        leg = HeldLeg(
            int(raw["record_id"]), str(raw["pair_id"]), str(raw["event"]),
            int(raw["direction"]), str(raw["venue"]), str(raw["symbol"]),
            Decimal(str(raw["contracts"])), Decimal(str(raw["capital"])), int(raw["basis"]),
        )  # fmt: skip
        offered, sold = Decimal(str(raw["offered"])), Decimal(str(raw["sold"]))
        if not (leg.contracts > 0 and offered > 0 and sold >= 0):
            raise ValueError(f"late sale: {raw!r} holds no contracts to sell")
        return cls(leg, offered, sold)


def restore_late(executor: PairExecutor, raw: Any) -> None:
    """Take back the retry sales in flight a checkpoint or record kept."""
    if not isinstance(raw, dict):
        return
    for cid, sale in raw.items():
        try:
            executor.late_sales[str(cid)] = LateSale.from_json(sale)
        except (KeyError, TypeError, ValueError, ArithmeticError):
            continue  # a checkpoint of another shape: that sale is shrunk as before


def watch_late(executor: PairExecutor, leg: HeldLeg, rec: PairAttempt) -> None:
    """Remember the retry's sale when it had not ended as the retry was recorded."""
    sale = next((s for s in reversed(rec.legs) if s.role == "unwind"), None)
    if sale is None or not sale.client_order_id:
        return
    try:
        ended = OrderStatus(sale.status).is_terminal
    except ValueError:
        ended = True  # not sent ("not_sent", "denied"): nothing can fill
    if not ended:
        executor.late_sales[sale.client_order_id] = LateSale(leg, sale.contracts, sale.filled)


def late_fill(executor: PairExecutor, fill: Fill) -> PairAttempt | None:
    """Book `fill` when it is a late fill of a retry's sale; return its record, else None."""
    sale = executor.late_sales.get(fill.client_order_id)
    if sale is None or fill.side is not Side.SELL:
        return None
    amount = min(fill.amount, sale.offered - sale.sold)
    sale.sold += amount
    if sale.sold >= sale.offered:
        del executor.late_sales[fill.client_order_id]
    if amount <= 0:
        return None
    leg, per = sale.leg, sale.leg.capital / sale.leg.contracts  # cost of one contract
    at = own_lone(executor.book, leg)
    held = ZERO if at is None else executor.book.open[at].contracts
    left = max(held - amount, ZERO)
    rec = PairAttempt(
        executor.strategy_id, leg.pair_id, leg.event, leg.direction, executor.mode, amount,
        ZERO, ZERO, ZERO, ts=executor._clock.now_ms(), retry_of=leg.record_id,
        reason=(f"late fill of the retry's sell {fill.client_order_id}: {amount} {leg.symbol} "
                f"sold at {fill.price} on {leg.venue} after the retry recorded them held"),
    )  # fmt: skip
    sold = PairLegResult("unwind", leg.venue, leg.symbol, Side.SELL, amount, fill.price,
                         filled=amount, avg_price=fill.price, fee=fill.fee, status="filled",
                         client_order_id=fill.client_order_id)  # fmt: skip
    rec.legs.append(sold)
    rec.actual_profit, rec.fees = sold.cash - per * amount, fill.fee
    executor.book_result(rec, rec.actual_profit)
    if left > 0:
        rec.outcome, rec.held, rec.capital = "held", {leg.symbol: left}, per * left
    else:
        rec.outcome = "unwound"
    rebook(executor, leg, left)
    executor._finish(rec)  # the record, the book and the risk engine's cycle
    if rec.record_id is not None:
        executor.held_retries[leg.record_id] = rec.record_id
    return rec


__all__ = ["LateSale", "late_fill", "restore_late", "watch_late"]
