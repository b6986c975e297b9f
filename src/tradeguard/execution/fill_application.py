"""Fill application: venues' order reports, fills and balances booked exactly once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from tradeguard.bus import EventBus
from tradeguard.clock import Clock
from tradeguard.execution.balance_reports import BalanceReports
from tradeguard.execution.order_events import (
    STATUS_EVENT,
    closed_data,
    fill_data,
    order_data,
    position_data,
)
from tradeguard.execution.order_index import OrderIndex
from tradeguard.execution.outcome_netting import net_after_fill, net_ledger_pairs
from tradeguard.model.balance import Balance
from tradeguard.model.enums import OrderStatus, Side
from tradeguard.model.events import Event, EventKind
from tradeguard.model.fill import Fill
from tradeguard.model.holdings import HOLDINGS
from tradeguard.model.money import ZERO
from tradeguard.model.order import Order, OrderIntent
from tradeguard.model.outcome import parse_outcome_symbol
from tradeguard.model.position import ClosedTrade
from tradeguard.model.reports import OrderReport
from tradeguard.portfolio.undo import fill_undo

if TYPE_CHECKING:
    from tradeguard.risk.config import RiskConfig

# The order manager's logger: these records are its own.
log = logging.getLogger("tradeguard.execution.order_manager")


class RiskGate(Protocol):
    """The part of the risk engine the order manager calls."""

    config: RiskConfig

    def check(
        self,
        intent: OrderIntent,
        portfolio: Any,
        market: Any,
        dry_run: bool = False,
        ahead: int = 0,
        ahead_stable_usd: Decimal = ZERO,
    ) -> Any: ...

    def observe_fill(
        self, fill: Fill, closed: ClosedTrade | None, strategy_id: str | None = None
    ) -> None: ...

    def observe_venue_error(self, venue: str, ts: int, error: str) -> None: ...

    def observe_venue_ok(self, venue: str, ts: int) -> None: ...

    def observe_venue_refusal(self, venue: str, ts: int, code: str, error: str) -> None: ...


class FillApplication(BalanceReports):
    """Apply what venues report (order states, fills, balances) to the journal and portfolio."""

    storage: Any
    risk: RiskGate
    portfolio: Any
    bus: EventBus
    clock: Clock
    orders: OrderIndex
    venues: dict[str, Any]
    open: dict[str, Order]
    market: Any
    balance_only: set[str]
    fill_listeners: list[Callable[[Fill, Order | None], None]]
    _pending_terminal: dict[str, OrderReport]
    _pending_rows: dict[str, Order]
    _pending_journal: list[tuple[str, str, str, int, str]]

    # VenueListener -----------------------------------------------------------------------------
    def on_order_report(self, report: OrderReport) -> None:
        """Apply a venue's view of an order, moving only forward."""
        order = self.orders.get(report.client_order_id)
        if order is None:
            self._publish(
                EventKind.VENUE_ERROR,
                report.ts or self.clock.now_ms(),
                None,
                {
                    "error": "report for an order the journal does not know",
                    "client_order_id": report.client_order_id,
                },
                venue=report.venue,
                symbol=report.symbol,
            )
            return
        new_id = bool(report.venue_order_id and not order.venue_order_id)
        if new_id:
            order.venue_order_id = report.venue_order_id
        status = report.status
        if status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED):
            if order.status is OrderStatus.SUBMITTED:
                self._transition(order, OrderStatus.ACCEPTED)  # journals the venue id too
            elif new_id:
                self._write_order(order)
            return
        if new_id:
            self._write_order(order)
        if order.status.is_terminal or status in (OrderStatus.SUBMITTED, OrderStatus.NEW):
            return
        # cancelled / expired / rejected: wait for fills the venue says happened first
        if report.filled > order.filled:
            self._pending_terminal[order.client_order_id] = report
            return
        if status is OrderStatus.REJECTED and order.status is not OrderStatus.SUBMITTED:
            status = OrderStatus.CANCELLED
        self._transition(order, status, reason=report.reason)

    def on_fill(self, fill: Fill) -> None:
        """Apply one execution exactly once (dedup by venue trade id); refuse, in one error
        line, a fill no venue could have made (reconciliation then compares the balances)."""
        for booked, order in self.book_fill(fill):
            self._after_fill(booked, order)

    def book_fill(self, fill: Fill) -> list[tuple[Fill, Order | None]]:
        """Book `fill` as `on_fill` does, but leave telling the fill listeners to the caller
        (after its own outer commit); return the fills booked (a netting's too) with their
        orders, empty when refused or booked already."""
        why = implausible(fill)
        if why:
            log.error(
                "fill %s of %s on %s refused: %s",
                fill.trade_id, fill.client_order_id, fill.venue, why,
            )  # fmt: skip
            return []
        if fill.fee_in_third_asset:  # valued once, stored with the fill
            fill = self.portfolio.valued_fee(fill)
        order = self.orders.get(fill.client_order_id)
        if order is None and fill.client_order_id:
            # A finished order is not kept in memory after a restart; the journal has it.
            order = self.storage.get_order(fill.client_order_id)
            if order is not None:
                self.orders[order.client_order_id] = order
        if order is not None and fill.trade_id in order.trade_ids:
            return []
        if order is not None:
            strategy_id = order.strategy_id
        else:
            strategy_id = self.foreign_owner(fill.venue, fill.symbol)
        with self.storage.transaction():
            if not self.record_fill(fill, order, strategy_id):
                return []
            # a venue's netting of YES + NO commits with the fill that set it off
            netted = net_after_fill(self, fill, strategy_id)
        return [(fill, order), *netted]

    def record_fill(self, fill: Fill, order: Order | None, strategy_id: str) -> bool:
        """Book `fill` to the journal and portfolio (inside the caller's transaction); False
        when its trade id was booked already."""
        if not self.storage.insert_fill(fill, strategy_id):
            if order is not None:
                order.trade_ids.add(fill.trade_id)
            return False
        if fill.fee_in_third_asset and fill.fee_quote is None:
            log.warning(
                "fill %s %s: the fee %s %s counts 0 in fees and P&L: no price for %s yet",
                fill.venue, fill.trade_id, fill.fee, fill.fee_asset, fill.fee_asset,
            )  # fmt: skip
        before = order.status if order is not None else None
        # A fee-only fill (amount 0: the gas of a reverted swap) moves the fee asset only.
        fee_only = fill.amount == ZERO
        # what the fill moves in memory goes back if its commit fails: the journal keeps no
        # trace of it, and the venue's next report of it must find the ledger without it
        self._undo_on_rollback(fill, order, strategy_id, fee_only)
        if order is not None and fee_only:
            order.trade_ids.add(fill.trade_id)
        elif order is not None:
            self._fill_order(order, fill)
        if not self.storage.in_unit_of_work:
            # A venue report queued before this fill predates it: written first, under the
            # ledger's figures below (a replay's unit commits the venue's push after the fill).
            self._write_pending_balances(fill.venue)
        self._book_fill(fill, order, before, strategy_id, fee_only)
        if not self.storage.in_unit_of_work:
            self._store_fill_balances(fill)
        return True

    def _undo_on_rollback(
        self, fill: Fill, order: Order | None, strategy_id: str, fee_only: bool
    ) -> None:
        storage = self.storage
        if not storage.keeps_undo:
            return  # nothing would read it (no transaction, or a backtest's)
        tracked = strategy_id not in self.balance_only and not fee_only
        ledger = fill_undo(self.portfolio, fill, strategy_id, tracked)
        held = None if order is None else _order_undo(order, fill.trade_id)
        result_undo = getattr(self.risk, "result_undo", None)
        risk = None if result_undo is None else result_undo(strategy_id, (fill.symbol,))

        def undo() -> None:
            ledger()
            if held is not None:
                held()
            if risk is not None:
                risk()

        storage.on_rollback(undo)

    def _store_fill_balances(self, fill: Fill) -> None:
        """Write the ledger's figures of the assets `fill` moved, in the fill's own commit: the
        stored balances (`tradeguard balances`, a restart, the audit) never lag the journal's
        fills until the venue's own report is written over them (the next commit after it)."""
        book = self.portfolio.book(fill.venue)
        assets = (fill.base, fill.quote, fill.fee_asset) if fill.fee else (fill.base, fill.quote)
        rows = []
        for asset in dict.fromkeys(assets):
            held = book.get(asset)
            rows.append(Balance(fill.venue, asset, held.free, held.locked))
        usd, elsewhere = self.portfolio.values_on(fill.venue, rows)
        self.storage.upsert_balances(fill.venue, rows, usd, self.clock.now_ms(), elsewhere)

    def net_ledger(self, venue: str, symbol: str = "") -> int:
        """Book the netting of every market (with `symbol`, of its market only) where
        `venue`'s durable ledger holds YES and NO (fills booked before their netting was);
        return the netting fills booked."""
        if not getattr(self.venues.get(venue), "nets_outcome_pairs", False):
            return 0
        market = None
        if symbol:
            try:
                ticker, _, quote = parse_outcome_symbol(symbol)
            except ValueError:
                return 0  # not an outcome: nothing of it nets
            market = (ticker, quote)
        with self.storage.transaction():
            netted = net_ledger_pairs(self, venue, self.clock.now_ms(), market)
        for fill, order in netted:
            self._after_fill(fill, order)
        return len(netted)

    def _after_fill(self, fill: Fill, order: Order | None) -> None:
        if order is not None:
            if order.status.is_terminal:
                self.open.pop(order.client_order_id, None)
            pending = self._pending_terminal.get(order.client_order_id)
            if pending is not None and order.filled >= pending.filled:
                del self._pending_terminal[order.client_order_id]
                self.on_order_report(pending)
        for listener in self.fill_listeners:
            listener(fill, order)

    def foreign_owner(self, venue: str, symbol: str) -> str:
        """The strategy a trade the node did not make on `symbol` is booked to: on a spot
        market, HOLDINGS (the account's balances, never a signed position: selling coins held
        by hand is no short); elsewhere (outcome contracts) none, a position of no strategy."""
        market = self.market
        if market is None:
            return ""
        inst = market.instrument(venue, symbol)
        if inst is not None:
            return HOLDINGS if inst.kind == "spot" else ""
        # a market the node did not load: spot unless the venue lists outcome contracts
        kinds = {i.kind for (v, _), i in market.instruments.items() if v == venue}
        return HOLDINGS if kinds <= {"spot"} else ""

    def _fill_order(self, order: Order, fill: Fill) -> None:
        before = order.status
        if order.status.is_terminal or order.filled + fill.amount > order.amount:
            # The money moved whatever our journal says: book the fill, keep the state,
            # and say so loudly.
            order.trade_ids.add(fill.trade_id)
            log.error(
                "fill %s for %s arrived with the order %s (filled %s of %s)",
                fill.trade_id,
                order.client_order_id,
                order.status._value_,
                order.filled,
                order.amount,
            )
        else:
            order.apply_fill(fill)
        self._write_order(order)
        if before is not order.status:
            # Transitions still waiting (an acknowledgement) go first: the log keeps
            # the order in which they happened.
            self._write_transitions()
            self.storage.record_transition(
                order.client_order_id,
                before._value_ if before else "",
                order.status._value_,
                fill.ts,
            )

    def _book_fill(
        self,
        fill: Fill,
        order: Order | None,
        before: OrderStatus | None,
        strategy_id: str,
        fee_only: bool,
    ) -> None:
        tracked = strategy_id not in self.balance_only and not fee_only
        pos = self.portfolio.position(fill.venue, fill.symbol, strategy_id) if tracked else None
        was_flat = pos is not None and pos.quantity == ZERO
        closed = self.portfolio.apply_fill(fill, strategy_id, position=tracked)
        if pos is not None:
            if was_flat and pos.quantity != ZERO and order is not None:
                pos.stop_loss, pos.take_profit = order.stop_loss, order.take_profit
            if closed is not None:
                self.storage.close_position(closed, pos)
            if pos.quantity != ZERO:
                self.storage.save_position(pos, fill.price)
        # What the fill sets off (a breaker, the risk counters, its audit events) is written
        # with the fill, in one commit.
        self.risk.observe_fill(fill, closed, strategy_id)
        self._publish(
            EventKind.FILL, fill.ts, order, fill_data(fill), venue=fill.venue, symbol=fill.symbol
        )
        if order is not None and before is not order.status:
            self._publish_order(STATUS_EVENT[order.status], order)
        if was_flat and pos is not None and pos.quantity != ZERO:
            self._publish(
                EventKind.POSITION_OPENED,
                fill.ts,
                order,
                position_data(pos),
                venue=fill.venue,
                symbol=fill.symbol,
            )
        if closed is not None:
            self._publish(
                EventKind.POSITION_CLOSED,
                fill.ts,
                order,
                closed_data(closed),
                venue=fill.venue,
                symbol=fill.symbol,
            )

    def flush(self) -> None:
        """Write what is waiting for the next commit (balances, non-critical transitions)."""
        if self._pending_balances or self._pending_journal or self._pending_rows:
            with self.storage.transaction():
                pass  # the commit hook writes it

    def _keep_behind(self, rows: dict[str, Order], journal: list[Any]) -> None:
        """Put acknowledgements taken into the open transaction back in the queue for the next
        commit if it rolls back (`StorageCore.on_rollback`). Not in a unit of work (a replay's
        candles): the order's own journal rows may be in it and go with it, and a failed
        commit there ends the run."""
        if self.storage.keeps_undo and not self.storage.in_unit_of_work:
            self.storage.on_rollback(partial(self._requeue, rows, journal))

    def _requeue(self, rows: dict[str, Order], journal: list[Any]) -> None:
        # queued before what is waiting now: the log keeps the order in which they happened
        self._pending_rows = {**rows, **self._pending_rows}
        self._pending_journal[:0] = journal

    def _write_behind(self) -> None:
        for venue in list(self._pending_balances):
            self._write_pending_balances(venue)
        if self._pending_journal or self._pending_rows:
            rows, self._pending_rows = self._pending_rows, {}
            self._keep_behind(rows, [])
            for order in rows.values():
                self.storage.upsert_order(order)
            self._write_transitions()

    def _write_transitions(self) -> None:
        journal, self._pending_journal = self._pending_journal, []
        if journal:
            self._keep_behind({}, journal)
        for cid, before, after, ts, reason in journal:
            self.storage.record_transition(cid, before, after, ts, reason)

    # internals ---------------------------------------------------------------------------------
    def _transition(self, order: Order, status: OrderStatus, reason: str = "") -> None:
        before = order.status
        now = self.clock.now_ms()
        if status is not OrderStatus.ACCEPTED:
            self._transition_durably(order, status, now, reason)
        else:
            order.transition(status, now, reason)
            # An acknowledgement moves no money: journal it with the next commit. If the process
            # dies first, the order is still SUBMITTED in the journal and reconciliation asks the
            # venue, which is the rule for any in-flight order.
            self._pending_rows[order.client_order_id] = order
            self._pending_journal.append(
                (order.client_order_id, before._value_, status._value_, now, reason)
            )
        if status.is_terminal:
            self.open.pop(order.client_order_id, None)
        severity = "warning" if status is OrderStatus.REJECTED else "info"
        self._publish_order(STATUS_EVENT[status], order, severity=severity)
        if order.side is Side.SELL and status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
            # the contracts it held are free again: a netting venue pays the pairs they make
            self.net_ledger(order.venue, order.symbol)

    def _transition_durably(self, order: Order, status: OrderStatus, now: int, reason: str) -> None:
        """Move `order` to `status` in its journal's commit: one that fails leaves the order
        as the journal has it, so the venue's next report of the state moves it then."""
        before, storage = order.status, self.storage
        undo = _order_undo(order)
        order.transition(status, now, reason)  # an illegal one raises here: nothing written
        outermost = not storage.in_transaction
        try:
            with storage.transaction():
                if not outermost:  # the open transaction's rollback puts it back
                    storage.on_rollback(undo)
                self._write_order(order)
                storage.record_transition(
                    order.client_order_id, before._value_, status._value_, now, reason
                )
        except BaseException:
            if outermost:
                undo()
            raise

    def _write_order(self, order: Order) -> None:
        # The row gets the order's latest state now: a write of it still waiting is not needed.
        self.storage.upsert_order(order)
        waiting = self._pending_rows.pop(order.client_order_id, None)
        if waiting is not None:
            self._keep_behind({order.client_order_id: waiting}, [])

    def _publish_order(self, kind: str, order: Order, severity: str = "info") -> None:
        self._publish(kind, self.clock.now_ms(), order, order_data(order), severity=severity)

    def _publish(
        self,
        kind: str,
        ts: int,
        source: Order | OrderIntent | None,
        data: dict[str, Any],
        venue: str = "",
        symbol: str = "",
        severity: str = "info",
    ) -> None:
        # positional: a few times per order, keywords cost more than the rest of the call
        if source is None:
            event = Event(kind, ts, data, venue, symbol, "", severity)
        else:
            event = Event(
                kind, ts, data, venue or source.venue, symbol or source.symbol,
                source.strategy_id, severity,
            )  # fmt: skip
        self.bus.publish(event)


def _order_undo(order: Order, trade_id: str | None = None) -> Callable[[], None]:
    """What puts `order` back as it is now, before a fill of `trade_id` (or a state change)
    is applied to it."""
    saved = (order.status, order.filled, order.avg_price, order.fee, order.updated_ts,
             order.reason)  # fmt: skip
    known = trade_id is None or trade_id in order.trade_ids

    def undo() -> None:
        (order.status, order.filled, order.avg_price, order.fee, order.updated_ts,
         order.reason) = saved  # fmt: skip
        if not known and trade_id is not None:
            order.trade_ids.discard(trade_id)

    return undo


def implausible(fill: Fill) -> str:
    """Why `fill` cannot be a real execution (a NaN, infinite or negative amount or price, a
    NaN or infinite fee), or "" when it can."""
    for name, value in (("amount", fill.amount), ("price", fill.price)):
        if not value.is_finite() or value < 0:
            return f"{name} {value} is not a finite number >= 0"
    if not fill.fee.is_finite():
        return f"fee {fill.fee} is not a finite number"
    return ""
