"""Stop, take-profit and OCO orders on the paper venue, triggered honestly by the data it is fed.

- A trigger order rests untriggered (funds locked as for its side) until market data reaches
  its trigger: a candle whose low (high) reaches it, a trade printing at or through it, a quote
  whose bid (ask) reaches it; a stop-loss sell and a take-profit buy fire on a fall, the others
  on a rise. Data that arrived before the order never triggers it.
- Once triggered it is a market order (a limit order at its price for the `_limit` kinds) that
  arrived at the triggering event's time, and fills by the paper fill model from there: with
  candles only, at the NEXT candle's open (`fill_at="next_open"`) or at the triggering candle's
  close (`fill_at="in_candle"`), never inside the bar that triggered it.
- An OCO holds the funds once. A fill of one leg, or the trigger of a trigger leg, cancels the
  other; cancelling one leg cancels both. When one candle reaches both legs the stop-loss wins:
  the data cannot tell which came first, and the paper venue never assumes the better one.
- Reduce-only trigger orders that are not an OCO (a stop-loss and a take-profit each resting
  for the whole position) fire in the same order: stops first, then in the order placed. One
  that fires when its strategy's position is already closed, or left with nothing the fired
  market exits of its side and strategy do not close already, is CANCELLED instead (reason
  "reduce-only: ..."): one candle through both prices fills the stop and cancels the
  take-profit, and the position ends flat, never past it.
- After a restart a journaled trigger order is armed again. One that had fired but was still
  working at the last commit comes back fired (`triggered_state` is saved with the run state in
  the same commit, `restore_triggered` reads it back), so a resumed run fills it as an
  uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, NoReturn

from tradeguard.model.enums import LiquiditySide, OrderStatus, OrderType, trigger_crossed
from tradeguard.model.fill import Fill
from tradeguard.model.money import ZERO
from tradeguard.model.order import Order
from tradeguard.model.reports import OrderReport
from tradeguard.venues.paper_matching import PaperMatching
from tradeguard.venues.paper_state import PaperMarket, PaperOrder, own_position

_STOP_FIRST = (OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT)


class PaperStops(PaperMatching):
    """The trigger and OCO part of the paper venue (mixed into `PaperVenue`)."""

    native_stops = True
    native_oco = True
    _oco: dict[str, list[PaperOrder]]
    _sibling_reports: list[PaperOrder]

    def _refuse(self, code: str, message: str) -> NoReturn:
        raise NotImplementedError

    def _market(self, symbol: str) -> PaperMarket:
        raise NotImplementedError

    def _validate(self, order: Order, m: PaperMarket) -> None:
        raise NotImplementedError

    def _new_order(self, order: Order, m: PaperMarket, now: int) -> PaperOrder:
        raise NotImplementedError

    # placing -----------------------------------------------------------------------------------
    def _hold(self, order: Order, m: PaperMarket, lock: bool = True) -> PaperOrder:
        """Accept a trigger order: it waits, untriggered, outside the matching."""
        if order.trigger_price is None or order.trigger_price <= 0:
            self._refuse(
                "INVALID_TRIGGER",
                f"{order.type.value} order {order.client_order_id} needs a positive trigger price",
            )
        now = self.clock.now_ms()
        po = self._new_order(order, m, now)
        po.price = order.price if order.type.has_limit else None
        po.trigger_price = order.trigger_price
        po.oco_group = order.oco_group
        if lock:
            self._lock(po, m.inst)
        self._orders[po.client_order_id] = po
        m.stops.append(po)
        return po

    async def submit_oco(self, take_profit: Order, stop: Order) -> list[OrderReport]:
        """Accept an OCO pair; the funds are held once, by the take-profit leg."""
        m = self._market(stop.symbol)
        for order in (take_profit, stop):
            if order.client_order_id in self._orders:
                self._refuse(
                    "DUPLICATE_CLIENT_ORDER_ID",
                    f"client order id {order.client_order_id!r} was already used on this venue",
                )
            self._validate(order, m)
        if not stop.type.is_trigger or take_profit.side is not stop.side:
            self._refuse("INVALID_OCO", "an OCO pairs a take-profit and a stop on one side")
        legs = [self._hold(stop, m, lock=False)]
        if take_profit.type.is_trigger:
            legs.insert(0, self._hold(take_profit, m))
        else:  # a plain limit leg rests in the book and holds the funds
            po = self._new_order(take_profit, m, self.clock.now_ms())
            po.oco_group = take_profit.oco_group
            self._lock(po, m.inst)
            self._orders[po.client_order_id] = po
            m.working.append(po)
            legs.insert(0, po)
        self._oco[stop.oco_group] = legs
        self._push([], [], True)
        return [self._report(po) for po in legs]

    def _restore_stop(self, order: Order, po: PaperOrder, m: PaperMarket) -> None:
        """Arm a journaled trigger order again after a restart."""
        po.price = order.price if order.type.has_limit else None
        po.trigger_price, po.oco_group, po.taker_pending = (
            order.trigger_price,
            order.oco_group,
            False,
        )
        legs = self._oco.setdefault(po.oco_group, []) if po.oco_group else []
        if not any(leg.locked for leg in legs):
            self._lock(po, m.inst, po.remaining)
        legs.append(po)
        self._orders[po.client_order_id] = po
        m.stops.append(po)
        m.stops.sort(key=lambda w: w.seq)

    def _restore_oco_limit(self, group: str, po: PaperOrder) -> None:
        """Link a restored limit leg to its OCO. It holds the pair's funds, as at placing: a
        stop leg restored before it hands its lock over, so nothing is locked twice."""
        po.oco_group = group
        legs = self._oco.setdefault(group, [])
        for leg in legs:
            if leg.locked:
                self._release(leg)
                leg.lock_asset, leg.lock_per_unit = "", ZERO  # locks again only if it fires
        legs.append(po)

    def triggered_state(self) -> dict[str, list[Any]]:
        """The trigger orders that fired and still work: [type, after_candle_ts, taker_pending,
        updated_ts] by client order id, JSON-ready, for the run state of each commit."""
        # A fired order works among the others; an armed one waits in `stops`, never here.
        return {
            po.client_order_id: [po.type.value, po.after_candle_ts, po.taker_pending, po.updated_ts]
            for m in self._markets.values()
            for po in m.working
            if po.trigger_price is not None and po.status.is_open
        }

    def restore_triggered(self, state: Mapping[str, list[Any]]) -> None:
        """Put restored trigger orders that had fired before the restart back among the working
        orders, as they were at the commit (they were armed again by `restore_order`)."""
        for cid, (type_, after, pending, updated) in state.items():
            po = self._orders.get(cid)
            if po is None or not po.status.is_open:
                continue
            m = self._markets[po.symbol]
            if po not in m.stops:
                continue
            m.stops.remove(po)
            if po.oco_group:  # its other leg was cancelled when it fired
                self._oco.pop(po.oco_group, None)
            po.type, po.after_candle_ts = OrderType(type_), int(after)
            po.taker_pending, po.updated_ts = bool(pending), int(updated)
            if not po.lock_asset:
                self._lock(po, m.inst)
            m.working.append(po)
            m.working.sort(key=lambda w: w.seq)

    # triggering --------------------------------------------------------------------------------
    def _trigger(
        self, m: PaperMarket, low: Decimal, high: Decimal, ts: int, since: int | None = None
    ) -> None:
        """Fire every waiting order of `m` that prices spanning [low, high] reach; the data
        began at `since` (a candle's open) and meets only orders that existed by then."""
        began = ts if since is None else since
        due = [
            po for po in m.stops
            if po.created_ts <= began and po.trigger_price is not None
            and trigger_crossed(po.type, po.side, po.trigger_price, low, high)
        ]  # fmt: skip
        # Stops first, then in the order they were placed: the same order after a restart,
        # whatever order the journal gave them back in.
        due.sort(key=lambda po: (po.type not in _STOP_FIRST, po.seq))
        for po in due:
            if po.status.is_terminal:
                continue  # the other leg of an OCO fired first
            m.stops.remove(po)
            self._cancel_siblings(po, ts)
            if po.reduce_only and self._reducible(po, m) <= 0:
                why = "reduce-only: the position it reduces is closed, or a fired exit closes it"
                self._close(po, OrderStatus.CANCELLED, ts, why)
                self._push([], [po], True)
                continue
            po.type = OrderType.LIMIT if po.type.has_limit else OrderType.MARKET
            po.after_candle_ts = max(m.candle.ts if m.candle is not None else -1, ts - 1)
            po.updated_ts = ts
            if not po.lock_asset:
                self._lock(po, m.inst)
            fills = self._on_arrival(po, m, ts)
            if po.status.is_open:
                m.working.append(po)
            self._push(fills, [po], True)

    @staticmethod
    def _reducible(po: PaperOrder, m: PaperMarket) -> Decimal:
        """What of the venue's net position the reduce-only `po` may still close: the position
        on the other side of it, less what the fired market orders of its side will close."""
        own = own_position(m, po.strategy_id)
        held = -own if po.is_buy else own
        fired = sum(
            (w.remaining for w in m.working
             if w.reduce_only and w.trigger_price is not None and w.type is OrderType.MARKET
             and w.is_buy == po.is_buy and w.status.is_open
             and w.strategy_id == po.strategy_id),
            ZERO,
        )  # fmt: skip
        return max(held - fired, ZERO)

    def _cancel_siblings(self, po: PaperOrder, ts: int) -> None:
        # The list is done once one leg goes: popped first, so closing the others ends here.
        for other in self._oco.pop(po.oco_group, ()) if po.oco_group else ():
            if other is not po and other.status.is_open:
                self._close(other, OrderStatus.CANCELLED, ts, f"OCO: {po.client_order_id} went")
                self._sibling_reports.append(other)

    # hooks into matching -----------------------------------------------------------------------
    def _execute(
        self, po: PaperOrder, m: PaperMarket, price: Decimal, qty: Decimal,
        liquidity: LiquiditySide, ts: int,
    ) -> Fill:  # fmt: skip
        fill = super()._execute(po, m, price, qty, liquidity, ts)
        if po.oco_group:
            self._cancel_siblings(po, ts)
        return fill

    def _close(self, po: PaperOrder, status: OrderStatus, ts: int, reason: str) -> None:
        super()._close(po, status, ts, reason)
        if po.trigger_price is not None:
            stops = self._markets[po.symbol].stops
            if po in stops:
                stops.remove(po)
        if po.oco_group and status is OrderStatus.CANCELLED:
            self._cancel_siblings(po, ts)

    def _push(self, fills: Iterable[Fill], reports: list[PaperOrder], balances: bool) -> None:
        if self._sibling_reports:
            reports = [*reports, *self._sibling_reports]
            self._sibling_reports = []
            balances = True
        super()._push(fills, reports, balances)
