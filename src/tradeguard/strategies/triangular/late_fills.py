"""A recorded cycle's order the venue fills after the cycle gave up on it: booked into its record.

```python
late = LateFills(gateway, held_legs)   # registers with the gateway's late-fill listeners
late.remember(record_id, row)          # each record written: its orders, for this run
late.take_up()                         # at start: fills made while down, or cut off by a kill
```

An order the cycle took as ended without a fill (a send that timed out and a query the venue
answered "no such order", so `rejected`; a cancel the venue confirmed before a queued fill) may
still execute: the venue answers after the cycle's record was written. The order path books
the fill whatever the order's state, and the risk engine counts what it brought in as a held
cycle's holding (`CycleHoldings`), which an `arb-unwind` may sell. The record must say so too:
the leg is rewritten to what its journaled fills did (`resolved.resolve_row`), what it bought
is held at its cost, one critical `arb.held` names the record and the order (kept with the
rewrite in one commit, published after it), and a cycle nothing of which had traded is
reported to the risk engine once, as one trade (keyed by record and order). A fill the record
counts already (told again, or streamed after the answer the record was written from) changes
nothing. The record of an order is found by the order's client id: among the `KEPT` records
this run wrote last (kept in memory), else in the store (`find_arb_execution`, an indexed
lookup), however old the record. At start (`take_up`) the orders with a fill journaled since
the last start looked (the start's reconciliation journaled it, or a kill came between a fill
and its record's rewrite) are booked into their records, once: the record itself says what it
counts, so looking again after a kill books nothing twice. A start's record of cut legs (no
leg index, `interrupted_arb.record_held`) gets the leg's figures and what it brought in as
`held`, and the same one `arb.held`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Protocol

from tradeguard.model.enums import OrderStatus
from tradeguard.model.events import Event, EventKind
from tradeguard.model.fill import Fill
from tradeguard.model.money import ONE, ZERO, plain
from tradeguard.model.order import Order
from tradeguard.strategies.gateway import ExecutionGateway
from tradeguard.strategies.triangular.exec_records import UNKNOWN_START, sell_back
from tradeguard.strategies.triangular.resolved import resolve_row

__all__ = ["LATE_TRIES", "LateFills"]

log = logging.getLogger(__name__)
KEPT = 256  # records of this run whose orders are kept in memory (others: looked up)
LATE_TRIES = 3  # starts in a row that may fail to rewrite a record before it is left out


class _Held(Protocol):
    pending: dict[str, dict[str, Any]]

    def state(self) -> dict[str, Any]: ...


def _d(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else ZERO


def _costs(row: Mapping[str, Any]) -> dict[str, Decimal]:
    """The start-asset cost per unit of each asset the record's legs reached."""
    cost = {str(row["start_asset"]): ONE}
    for leg in row["legs"]["legs"]:
        spent, got = _d(leg["spent"]), _d(leg["received"])
        if got > 0 and str(leg["from"]) in cost:
            cost[str(leg["to"])] = cost[str(leg["from"])] * spent / got
    return cost


def _located(cid: str, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """Where the order `cid` is in the stored record `row`, or None (it names it nowhere)."""
    body = row.get("legs")
    if not isinstance(body, dict):
        return None
    parts = [body.get(p) or () for p in ("legs", "unwinds")]
    if not all(isinstance(x, dict) and "index" in x for part in parts for x in part):
        return _cut(cid, row)  # not a cycle the executor recorded: a start's take-up of cut legs
    for part, kind in (("legs", "leg"), ("unwinds", "unwind")):
        for leg in body.get(part) or ():
            if isinstance(leg, dict) and leg.get("client_order_id") == cid:
                if not leg.get("from") or not leg.get("to"):  # damaged or partly written:
                    if part == "legs":
                        return _cut(cid, row)  # booked by its market, as a cut leg's
                    # what the sale gave and brought in is unknown: reported (`find`), the
                    # record left as it is (it still holds what the unwind sold)
                    raise ValueError(f"its unwind entry {leg.get('symbol') or ''!r} names no "
                                     "assets")  # fmt: skip
                safe = {k: plain(v) if isinstance(v, Decimal) else v for k, v in row.items()}
                return {"record_id": int(row["id"]), "kind": kind,
                        "leg": int(leg["index"]), "row": safe}  # fmt: skip
    return None


def _cut(cid: str, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """Where the order `cid` is in a start's record of cut legs (no leg index), or None."""
    for n, leg in enumerate(row["legs"].get("legs") or ()):
        if isinstance(leg, dict) and leg.get("client_order_id") == cid:
            safe = {k: plain(v) if isinstance(v, Decimal) else v for k, v in row.items()}
            return {"record_id": int(row["id"]), "kind": "cut", "leg": n, "row": safe}
    return None


def _brought_in(symbol: str, fills: Iterable[Fill]) -> tuple[str, Decimal]:
    """The asset `fills` of one order on `symbol` brought in and how much, net of its fee."""
    base, _, quote = symbol.partition("/")
    asset, got = "", ZERO
    for f in fills:
        asset = base if f.side.value == "buy" else quote
        got += f.amount if asset == base else f.amount * f.price
        got -= f.fee if f.fee_asset == asset else ZERO
    return asset, got


class LateFills:
    """Book a recorded cycle's late-filled order into its record, once."""

    def __init__(self, gateway: ExecutionGateway, held: _Held) -> None:
        self.gateway = gateway
        self.held = held
        self.orders: dict[str, dict[str, Any]] = {}  # client order id -> where in which record
        listeners = getattr(gateway, "late_fill_listeners", None)
        if isinstance(listeners, list):
            listeners.append(self.on_fill)

    def remember(
        self, record_id: int | None, row: Mapping[str, Any], awaited: Iterable[str] = ()
    ) -> None:
        """Note the orders of the record `record_id` (`row`) just written, but those it is
        held on (`awaited`: rewritten when they end, `held_legs.py`)."""
        if record_id is None:
            return
        skip = set(awaited)
        for part, kind in (("legs", "leg"), ("unwinds", "unwind")):
            for leg in row["legs"].get(part) or ():
                cid = str(leg.get("client_order_id") or "")
                if cid and cid not in skip:
                    self.orders[cid] = {"record_id": record_id, "kind": kind,
                                        "leg": int(leg["index"]), "row": dict(row)}  # fmt: skip
        while len({o["record_id"] for o in self.orders.values()}) > KEPT:
            del self.orders[next(iter(self.orders))]

    def take_up(self) -> int:
        """At start: book into its record each fill the journal holds beyond what the record
        counts (the venue filled the order while the node was down, or a kill came between
        the fill's journaling and the record's rewrite); return how many were booked. Only
        the orders with a fill journaled since the last start looked are read, each record by
        its order's id; they are marked looked at once all are booked. A record that cannot
        be rewritten is tried again at the next start, `LATE_TRIES` starts in a row at most
        (then reported and left out: the mark moves on)."""
        newest, cids = self.gateway.late_checked()
        tries, failing, booked = self.gateway.late_tries(), {}, 0
        for cid in cids:
            if tries.get(cid, 0) >= LATE_TRIES:
                failing[cid] = tries[cid]  # reported and left out already
                continue
            info = None if cid in self.held.pending else self.find(cid)
            if info is None:
                continue  # awaited (`held_legs.py` rewrites it), no record names it, or damaged
            part = "unwinds" if info["kind"] == "unwind" else "legs"
            if info["row"]["legs"][part][info["leg"]].get("status") == OrderStatus.FILLED.value:
                continue  # it can fill no more
            order, fills = self.gateway.journaled(cid)
            if order is None or not fills:
                continue
            try:
                booked += self._book(cid, info, order)
            except Exception:  # the fill is booked in the ledger; the record stays as it was
                log.exception("late fill of %s: its record could not be rewritten", cid)
                failing[cid] = tries.get(cid, 0) + 1  # looked at again at the next start
                if failing[cid] >= LATE_TRIES:
                    why = f"its record could not be rewritten at {LATE_TRIES} starts in a row"
                    self._report(cid, info["row"], why)
        if all(n >= LATE_TRIES for n in failing.values()):
            self.gateway.late_checked_to(newest)
        else:
            self.gateway.late_tries_to(failing)
        return booked

    def find(self, cid: str) -> dict[str, Any] | None:
        """Where the order `cid` is in which record: one this run wrote, else the stored
        record naming it (however old), else None (a damaged record: reported)."""
        info = self.orders.get(cid)
        if info is not None:
            return info
        row = self.gateway.recorded_execution(cid)
        if row is None:
            return None
        try:
            return _located(cid, row)
        except (LookupError, TypeError, ValueError, AttributeError) as exc:
            log.error("late fill of %s: record %s is damaged: %r", cid, row.get("id"), exc)
            self._report(cid, row, f"its record could not be read ({exc})")
            return None

    def rewritten(self, record_id: int, row: Mapping[str, Any]) -> None:
        """The record `record_id` was rewritten to `row` (an awaited order ended)."""
        for info in self.orders.values():
            if info["record_id"] == record_id:
                info["row"] = dict(row)

    def on_fill(self, fill: Fill, order: Order) -> None:
        """A fill of one of the strategy's orders whose cycle was recorded already."""
        cid = order.client_order_id
        if cid in self.held.pending:
            return  # awaited (`held_legs.py` rewrites it)
        try:
            info = self.find(cid)
            if info is not None:  # else no record names it
                self._book(cid, info, order)
        except Exception:  # the fill is booked in the ledger; the record stays as it was
            log.exception("late fill %s of %s: its record could not be rewritten", fill, cid)

    def _book(self, cid: str, info: dict[str, Any], order: Order) -> bool:
        if info["kind"] == "cut":
            return self._book_cut(cid, info, order)
        row, part = info["row"], "unwinds" if info["kind"] == "unwind" else "legs"
        leg = row["legs"][part][info["leg"]]
        _, fills = self.gateway.journaled(cid)
        total = sum((f.amount for f in fills), ZERO)
        if total <= _d(leg["filled"]):
            return False  # the record counts it already
        value = sum((f.amount * f.price for f in fills), ZERO)
        status = OrderStatus.FILLED if total >= order.amount else order.status
        ended = dataclasses.replace(order, filled=total, avg_price=value / total, status=status)
        cost = _costs(row).get(str(leg["from"]), ZERO)
        pending = {"cid": cid, "kind": info["kind"], "leg": info["leg"], "from_cost": plain(cost)}
        amended, change = resolve_row(row, pending, ended, fills)
        amended = {k: plain(v) if isinstance(v, Decimal) else v for k, v in amended.items()}
        traded = any(_d(x["filled"]) > 0 for p in ("legs", "unwinds")
                     for x in row["legs"].get(p) or ())  # fmt: skip
        settlement = None
        if not traded:  # the cycle was no trade yet: it is one now, counted once
            usd = self.gateway.usd_price(str(row["start_asset"])) or ZERO
            key = f"{self.gateway.strategy_id}:late:{info['record_id']}:{cid}"
            symbols = (str(leg["symbol"]),)
            settlement = (key, symbols, change.profit * usd, self.gateway.now_ms())
        rid = info["record_id"]
        event = self._event(rid, amended, cid, change.note, str(leg["symbol"]))
        # its orders still awaited: as it is now, in the state committed with the rewrite
        awaited = [a for a in self.held.pending.values() if a.get("record_id") == rid]
        rows = [a.get("row") for a in awaited]
        for entry in awaited:
            entry["row"] = amended
        try:
            self.gateway.amend_execution(
                rid, amended, settlement, self.held.state(), announce=event
            )
        except BaseException:  # not committed: they wait as the stored record has them
            for entry, was in zip(awaited, rows, strict=True):
                entry["row"] = was
            raise
        self.rewritten(rid, amended)
        return True

    def _book_cut(self, cid: str, info: dict[str, Any], order: Order) -> bool:
        """Book a late fill into a start's record of cut legs: the leg's figures, and what
        it brought in beyond what the record counts as `held` (read back at every start)."""
        row = info["row"]
        body = dict(row["legs"])
        legs = [dict(x) for x in body["legs"]]
        leg = legs[info["leg"]]
        _, fills = self.gateway.journaled(cid)
        total = sum((f.amount for f in fills), ZERO)
        counted = _d(leg.get("filled"))
        symbol = str(leg.get("symbol") or "")
        if "/" not in symbol:  # a damaged entry: no market says what the order bought
            why = f"its record's leg {info['leg'] + 1} names no asset nor market ({symbol!r})"
            log.warning("late fill of %s: %s; record %s left as it is", cid, why, row.get("id"))
            self._report(cid, row, why, order.symbol)
            return False
        asset, got = _brought_in(symbol, fills)
        if total <= counted or not asset or got <= 0:
            return False  # the record counts it already
        held = dict(body.get("held") or {})
        held[asset] = plain(_d(held.get(asset)) + got * (total - counted) / total)
        status = OrderStatus.FILLED if total >= order.amount else order.status
        leg.update(filled=plain(total), status=status.value)
        amended = {**row, "outcome": "held", "legs": {**body, "legs": legs, "held": held}}
        rid = info["record_id"]
        note = f"a cut leg's order filled late: {plain(total - counted)} more"
        event = self._event(rid, amended, cid, note, symbol)
        self.gateway.amend_execution(rid, amended, None, self.held.state(), announce=event)
        return True

    def _report(self, cid: str, row: Mapping[str, Any], why: str, symbol: str = "") -> None:
        """Alert that the late fill of `cid` (on `symbol`, when known) is left out of its record
        `row` (`why`)."""
        rid, start = row.get("id"), str(row.get("start_asset") or "")
        cycle = row.get("cycle")
        path = str(cycle.get("path", "")) if isinstance(cycle, dict) else ""
        on = f" {symbol}" if symbol else ""
        back = (
            sell_back(start, {}, ())
            if start and start != UNKNOWN_START
            else f"sell what it bought on{on or ' the venue'} or keep it deliberately"
        )
        message = (
            f"arbitrage cycle {path}: order {cid}{on} on {self.gateway.venue} filled after its "
            f"cycle gave up on it, but {why}: record {rid} does not count what it bought; check "
            f"the account, {back}"
        )
        data: dict[str, Any] = {
            "record_id": rid,
            "path": path,
            "client_order_id": cid,
            "start_asset": start,
            "held": {},
            "outcome": row.get("outcome"),
            "reason": why,
            "message": message,
        }
        gw = self.gateway
        gw.publish(Event(EventKind.ARB_HELD, gw.now_ms(), data, gw.venue, "", gw.strategy_id,
                         "critical"))  # fmt: skip

    def _event(
        self, record_id: int, row: Mapping[str, Any], cid: str, note: str, symbol: str
    ) -> Event:
        held = row["legs"]["held"]
        shown = ", ".join(f"{q} {a}" for a, q in held.items()) or "nothing"
        # where each asset held stopped (a record of cut legs names none: the order's market)
        on = {a: str((row["legs"].get("held_on") or {}).get(a) or symbol) for a in held}
        path = str((row.get("cycle") or {}).get("path", ""))
        return Event(
            EventKind.ARB_HELD,
            self.gateway.now_ms(),
            {
                "record_id": record_id,
                "path": path,
                "client_order_id": cid,
                "start_asset": row["start_asset"],
                "held": dict(held),
                "outcome": row["outcome"],
                "reason": note,
                "message": (
                    f"arbitrage cycle {path}: order {cid} filled after its cycle gave up on it "
                    f"({note}); record {record_id} now {row['outcome']}, holding {shown} on "
                    f"{self.gateway.venue}; {sell_back(str(row['start_asset']), on, held)}"
                ),
            },
            self.gateway.venue,
            symbol,
            self.gateway.strategy_id,
            "critical",
        )
