"""The order manager: risk check, journal, send; then apply what venues report, exactly once.

Every order follows one path: `RiskEngine.check` -> journal row committed (status SUBMITTED, with
its client order id) -> `Venue.submit`. An ambiguous outcome (timeout, disconnect, 5xx) leaves the
order in flight until the venue answers a query by client order id; it is never marked rejected by
guess. Fills are applied once, deduplicated by venue trade id in memory and in the database.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from tradeguard.bus import EventBus
from tradeguard.clock import Clock
from tradeguard.execution.balance_reports import _Report
from tradeguard.execution.fill_application import FillApplication, RiskGate
from tradeguard.execution.held_halts import refusal
from tradeguard.execution.oco import submit_oco, withdraw_approvals
from tradeguard.execution.order_events import is_settlement, order_data
from tradeguard.execution.order_index import OrderIndex
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError, VenueError
from tradeguard.model.events import EventKind
from tradeguard.model.fill import Fill
from tradeguard.model.frozen import quick_init
from tradeguard.model.holdings import HOLDINGS
from tradeguard.model.ids import ClientOrderIdFactory
from tradeguard.model.market import Fresh
from tradeguard.model.money import ZERO
from tradeguard.model.order import Order, OrderIntent
from tradeguard.model.position import Position
from tradeguard.model.reports import OrderReport
from tradeguard.model.sealed import sealed_intent
from tradeguard.venues.base import Venue

__all__ = ["ORDER_RESOLVED", "OrderManager", "RiskGate", "SubmitResult", "external_order"]

log = logging.getLogger(__name__)

# An order that was in unknown state has been answered for (a string kind: subscribers match it).
ORDER_RESOLVED = "order.resolved"
# The venue reports an order filled further than its fill rows can be read (critical).
ORDER_FILLS_UNREADABLE = "order.fills_unreadable"


@quick_init
@dataclass(frozen=True, slots=True)
class SubmitResult:
    """Outcome of one intent: `status` is denied, rejected, submitted or in_flight."""

    status: str
    order: Order | None = None
    code: str = ""
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("submitted", "in_flight")


class OrderManager(FillApplication):
    """Owns every order of the node; implements the `VenueListener` protocol."""

    def __init__(
        self,
        *,
        storage: Any,
        venues: dict[str, Venue],
        risk: RiskGate,
        portfolio: Any,
        market: Any,
        bus: EventBus,
        clock: Clock,
        ids: ClientOrderIdFactory | None = None,
        resolve_attempts: int = 5,
        resolve_delay_s: float = 0.2,
        not_found_grace_s: float = 2.0,
    ) -> None:
        self.storage = storage
        self.venues = venues
        self.risk = risk
        self.portfolio = portfolio
        self.market = market
        self.bus = bus
        self.clock = clock
        self.ids = ids or ClientOrderIdFactory()
        self.orders = OrderIndex()  # every order of the run; re-sends looked up, not scanned
        self.open: dict[str, Order] = {}
        self.unknown: dict[str, Order] = {}  # in flight, venue could not be asked: blocks symbol
        # reported filled beyond the fill rows the venue's answers let us read: blocks symbol
        self.unreadable: dict[str, Order] = {}
        # client order id -> when a cancel was last sent (ms); timeouts do not resend at once
        self.cancel_requested: dict[str, int] = {}
        # orders whose submit call has not returned: a concurrent query could outrun the request
        self.in_submit: set[str] = set()
        self._pending_terminal: dict[str, OrderReport] = {}
        self.fill_listeners: list[Callable[[Fill, Order | None], None]] = []
        # told of each order before its cancel is sent (what they write is durable before it)
        self.cancel_listeners: list[Callable[[Order], None]] = []
        # strategies whose fills move balances only: their legs are not positions, their result
        # is accounted per execution (RiskEngine.observe_cycle)
        # HOLDINGS: spot trades of no journal order (by hand) move balances only
        self.balance_only: set[str] = {HOLDINGS}
        # (venue, operation, seconds) for every venue call: metrics, dashboards
        self.latency_listeners: list[Callable[[str, str, float], None]] = []
        self.resolve_attempts = resolve_attempts
        self.resolve_delay_s = resolve_delay_s
        self.not_found_grace_ms = int(not_found_grace_s * 1000)
        # venue -> (balances, every venue's marks and the venue's own to value them at, when the
        # venue reported them)
        self._pending_balances: dict[str, _Report] = {}
        self._balances_told = 0
        self._balances_lock = threading.Lock()
        self._balances_written: dict[str, _Report] = {}
        # venue -> why: its balances' commit failed and no reconciliation wrote them since; a
        # reconciliation's halt stays until they are (execution.reconcile_report.gate)
        self.balances_owed: dict[str, str] = {}
        # Acknowledgements waiting for the next commit: the rows to write (each order's latest
        # state) and the transitions (client order id, from, to, ts, reason), in order.
        self._pending_rows: dict[str, Order] = {}
        self._pending_journal: list[tuple[str, str, str, int, str]] = []
        storage.add_commit_hook(self._write_behind)
        for venue in venues.values():
            venue.set_listener(self)

    # views -----------------------------------------------------------------------------------
    def open_orders(self) -> list[Order]:
        return list(self.open.values())

    def open_order_count(self, strategy_id: str, symbol: str) -> int:
        n = 0
        for o in self.open.values():
            if o.strategy_id == strategy_id and o.symbol == symbol:
                n += 1
        return n

    def blocked_symbols(self) -> set[tuple[str, str]]:
        held = (*self.unknown.values(), *self.unreadable.values())
        return {(o.venue, o.symbol) for o in held}

    def restore(self, orders: list[Order]) -> None:
        """Load open orders from the journal after a restart (before reconciliation)."""
        for o in orders:
            self.orders[o.client_order_id] = o
            if o.is_open:
                self.open[o.client_order_id] = o

    # submit ----------------------------------------------------------------------------------
    async def submit(
        self, intent: OrderIntent, before_send: Callable[[Order], None] | None = None
    ) -> SubmitResult:
        """Check, journal and send one intent; never raises for a venue refusal.

        `before_send(order)` runs once the order has its client order id, before its journal
        row: what the caller stores about the order there is durable before the venue hears of
        it (a node killed during the venue call still has it after restart).
        """
        intent = sealed_intent(intent)  # what the risk engine checks is what is sent
        now = self.clock.now_ms()
        blocked = self.deny_if_blocked(intent, now)
        if blocked is not None:
            return blocked
        venue = self.venues.get(intent.venue)
        if venue is None:
            reason = f"order denied: unknown venue {intent.venue!r}; known: {sorted(self.venues)}"
            return SubmitResult("denied", None, "UNKNOWN_VENUE", reason)
        decision = self.risk.check(intent, self, self.market)
        if not decision.approved:
            return SubmitResult("denied", None, decision.code, decision.reason)
        order = Order.from_intent(intent, self.ids.next(), now)
        order.price_bound = getattr(decision, "price_bound", None)
        try:
            if before_send is not None:
                before_send(order)
            self.journal_submitted((order,), now)
        except BaseException:  # not journaled, so never sent: the approval counts nothing
            withdraw_approvals((decision,))
            raise
        return (await self.send((order,), venue.submit, order))[0]

    def deny_if_blocked(self, intent: OrderIntent, now: int) -> SubmitResult | None:
        """The denial (audited) of an intent on a symbol with an order in unknown state."""
        if not (self.unknown or self.unreadable) or (
            (intent.venue, intent.symbol) not in self.blocked_symbols()
        ):
            return None
        reason = (
            f"order denied: {intent.symbol} on {intent.venue} has an order in unknown state; "
            "reconcile it first (tradeguard reconcile)"
        )
        self._publish(
            EventKind.RISK_DENIED, now, intent, {"code": "ORDER_STATE_UNKNOWN", "reason": reason}
        )
        return SubmitResult("denied", None, "ORDER_STATE_UNKNOWN", reason)

    def refuse(self, intent: OrderIntent, code: str, reason: str) -> SubmitResult:
        """Deny an intent before the risk engine, audited as a risk denial is."""
        self._publish(EventKind.RISK_DENIED, self.clock.now_ms(), intent,
                      {"code": code, "reason": reason})  # fmt: skip
        return SubmitResult("denied", None, code, reason)

    def journal_submitted(self, orders: tuple[Order, ...], now: int, reason: str = "") -> None:
        """Journal new orders as SUBMITTED in one commit, before anything is sent."""
        with self.storage.transaction():
            for order in orders:
                order.transition(OrderStatus.SUBMITTED, now)
                self.storage.upsert_order(order)
                self.storage.record_transition(
                    order.client_order_id,
                    OrderStatus.NEW._value_,
                    OrderStatus.SUBMITTED._value_,
                    now,
                    reason,
                )
        for order in orders:
            self.orders[order.client_order_id] = order
            self.open[order.client_order_id] = order
            self._publish_order(EventKind.ORDER_SUBMITTED, order)

    async def send(
        self, orders: tuple[Order, ...], call: Callable[..., Any], *args: Any
    ) -> list[SubmitResult]:
        """Send journaled orders in one venue request (`call(*args)` answers one report, or a
        list of them); one result per order. A refusal rejects them; an ambiguous answer is
        audited and resolved by query, never guessed."""
        name = orders[0].venue
        cids = [o.client_order_id for o in orders]
        started = time.perf_counter()
        self.in_submit.update(cids)
        try:
            answer = await call(*args)
        except DefinitiveVenueError as exc:
            self._latency(name, "submit", started)
            self.risk.observe_venue_refusal(name, self.clock.now_ms(), exc.code, str(exc))
            for order in orders:
                if order.status is OrderStatus.SUBMITTED:
                    self._transition(order, OrderStatus.REJECTED, reason=str(exc))
            code = exc.code or "VENUE_REJECTED"
            return [SubmitResult("rejected", o, code, str(exc)) for o in orders]
        except Exception as exc:  # no answer we can read: the order may have executed
            # A timeout, a 5xx, or an answer we could not read (garbage where a number should
            # be): the venue may have executed the order either way, so it is asked, not guessed.
            if not isinstance(exc, AmbiguousVenueError):
                log.exception("venue %s: unreadable answer to submit %s", name, cids)
            self.in_submit.difference_update(cids)
            self._latency(name, "submit", started)
            now = self.clock.now_ms()
            self.risk.observe_venue_error(name, now, str(exc))
            for order in orders:
                data = {"error": str(exc), "client_order_id": order.client_order_id}
                self._publish(EventKind.VENUE_ERROR, now, order, data)
            for order in orders:
                await self.resolve(order)
            return [SubmitResult("in_flight", o, "AMBIGUOUS", str(exc)) for o in orders]
        finally:
            self.in_submit.difference_update(cids)
        self._latency(name, "submit", started)
        self.risk.observe_venue_ok(name, self.clock.now_ms())
        for report in answer if isinstance(answer, list) else (answer,):
            self.on_order_report(report)
        return [SubmitResult("submitted", o) for o in orders]

    async def submit_oco(
        self, take_profit: OrderIntent, stop: OrderIntent
    ) -> tuple[SubmitResult, SubmitResult]:
        """Check, journal and send a take-profit limit and a stop as one OCO (`execution.oco`)."""
        return await submit_oco(self, take_profit, stop)

    def _latency(self, venue: str, op: str, started: float) -> None:
        if self.latency_listeners:
            elapsed = time.perf_counter() - started
            for listener in self.latency_listeners:
                listener(venue, op, elapsed)

    async def resolve(self, order: Order, attempts: int | None = None) -> OrderReport | None:
        """Ask the venue about an in-flight order by client order id; never guess.

        After `attempts` (default `resolve_attempts`) failed queries the order goes to `unknown`
        and blocks new orders on its (venue, symbol) until a later query answers.
        """
        if is_settlement(order):
            # Made up by the node for a market's resolution: the venue never heard of it (and
            # may answer with an error). It waits, open, for the settlement pass to book it.
            return None
        venue = self.venues[order.venue]
        tries = self.resolve_attempts if attempts is None else max(1, attempts)
        for attempt in range(tries):
            try:
                report = await venue.fetch_order(order.client_order_id, order.symbol)
                if report is not None:
                    # Fills first: a terminal report is applied only once its fills are booked.
                    await self.catch_up_fills(order, report)
            except Exception as exc:
                # No answer, a refusal to answer (e.g. credentials) or one we could not read
                # (garbage where a number should be): a failed query.
                log.warning(
                    "query for %s failed (%s), attempt %d", order.client_order_id, exc, attempt + 1
                )
                if attempt + 1 < tries:
                    await asyncio.sleep(self.resolve_delay_s * (2**attempt))
                continue
            if (
                report is None
                and order.status is OrderStatus.SUBMITTED
                and self.clock.now_ms() - order.created_ts < self.not_found_grace_ms
            ):
                # "No such order" right after an ambiguous send may only mean the request is
                # still queued at the venue: not an answer yet, ask again.
                if attempt + 1 < tries:
                    await asyncio.sleep(self.resolve_delay_s * (2**attempt))
                continue
            was_unknown = self.unknown.pop(order.client_order_id, None) is not None
            if was_unknown:
                self._publish_order(ORDER_RESOLVED, order, severity="warning")
            if report is None:
                if order.status is OrderStatus.SUBMITTED:
                    # The venue answered: it has no such order, so it never received it.
                    self._transition(
                        order, OrderStatus.REJECTED, reason="venue has no record of the order"
                    )
                return None
            self.on_order_report(report)
            return report
        if order.client_order_id not in self.unknown:
            self.unknown[order.client_order_id] = order
            self._publish_order(EventKind.ORDER_UNKNOWN, order, severity="critical")
        return None

    async def retry_unknown(self) -> list[str]:
        """Query every order in unknown state once more; return the ids now resolved."""
        resolved: list[str] = []
        for cid, order in list(self.unknown.items()):
            await self.resolve(order, attempts=1)
            if cid not in self.unknown:
                resolved.append(cid)
        return resolved

    async def catch_up_fills(self, order: Order, report: OrderReport) -> int:
        """Fetch and apply the fills the venue reports for `order` beyond ours; return how many."""
        if report.filled <= order.filled:
            return 0
        venue = self.venues[order.venue]
        before = len(order.trade_ids)
        fills: list[Fill] = []
        venue_order_id = report.venue_order_id or order.venue_order_id
        by_order = getattr(venue, "fetch_order_fills", None)
        if by_order is not None and venue_order_id:
            # The order's own trades: a page of the symbol's history may end before them.
            fills = await by_order(order.client_order_id, venue_order_id, order.symbol)
        if not fills:
            fills = await venue.fetch_fills(order.symbol, max(order.created_ts - 60_000, 0))
        for f in fills:
            if f.client_order_id == order.client_order_id:
                self.on_fill(f)
        unreadable = getattr(venue, "unreadable_fills", {})
        self._check_readable(order, report, unreadable.get(venue_order_id or ""))
        return len(order.trade_ids) - before

    def _check_readable(self, order: Order, report: OrderReport, why: str | None) -> None:
        """Escalate `order` once when the venue reports more of it filled than its fills booked
        and a fill row of it was unreadable: never booked at a price not read, it leaves the
        orders reconciliation waits for (the venue's balances are the truth) and blocks its
        symbol; a critical alert names the order, the venue and the row's field and value."""
        cid = order.client_order_id
        if why is None or order.filled >= report.filled:
            if self.unreadable.pop(cid, None) is not None:
                self._publish_order(ORDER_RESOLVED, order, severity="warning")
            return
        if cid in self.unreadable:
            return
        self.unreadable[cid] = order
        reason = (
            f"{order.venue} reports {cid} {report.status.value} ({report.filled} filled) but "
            f"{order.filled} booked: a fill row is unreadable ({why}); not booked, the venue's "
            "balances are taken as the truth and the symbol is blocked until its fills can be read"
        )
        log.critical("order %s: %s", cid, reason)
        data = {**order_data(order), "reason": reason, "venue_filled": str(report.filled)}
        self._publish(ORDER_FILLS_UNREADABLE, self.clock.now_ms(), order, data, severity="critical")

    # cancel ----------------------------------------------------------------------------------
    async def cancel(self, client_order_id: str) -> OrderReport | None:
        """Cancel one open order; an ambiguous or refused answer is resolved by query.

        A cancel that times out may or may not have reached the venue: like a submit, the order
        stays open until the venue answers a query by client order id, and goes to `unknown`
        (blocking its symbol) when it cannot be asked.
        """
        order = self.orders.get(client_order_id)
        if order is None or not order.is_open or is_settlement(order):
            return None  # a settlement order is no venue's: its settlement pass fills it
        venue = self.venues[order.venue]
        now = self.clock.now_ms()
        self.cancel_requested[client_order_id] = now
        for listener in self.cancel_listeners:
            listener(order)
        started = time.perf_counter()
        try:
            report = await venue.cancel(order)
        except DefinitiveVenueError as exc:
            # Usually "unknown order": it filled or was cancelled first. Ask what happened.
            self._latency(order.venue, "cancel", started)
            log.info("cancel of %s refused (%s); querying", client_order_id, exc)
            return None if self._still_sending(order) else await self.resolve(order)
        except Exception as exc:  # a timeout or an unreadable answer: ask what happened
            if not isinstance(exc, AmbiguousVenueError):
                log.exception(
                    "venue %s: unreadable answer to cancel %s", order.venue, client_order_id
                )
            self._latency(order.venue, "cancel", started)
            self.risk.observe_venue_error(order.venue, self.clock.now_ms(), str(exc))
            self._publish(
                EventKind.VENUE_ERROR,
                self.clock.now_ms(),
                order,
                {"error": str(exc), "client_order_id": client_order_id, "operation": "cancel"},
            )
            return None if self._still_sending(order) else await self.resolve(order)
        self._latency(order.venue, "cancel", started)
        self.risk.observe_venue_ok(order.venue, self.clock.now_ms())
        if report.filled > order.filled:
            try:
                await self.catch_up_fills(order, report)
            except VenueError as exc:
                # The report then waits for its fills (stream or reconciliation bring them).
                log.warning("fills of %s not fetched after cancel: %s", client_order_id, exc)
        self.on_order_report(report)
        return report

    def _still_sending(self, order: Order) -> bool:
        """Whether `order`'s send has not returned: a venue without it may only not have it
        yet, so a query's "no such order" would be no answer. The order stays open (working) and
        its send's own answer settles it."""
        if order.client_order_id not in self.in_submit:
            return False
        log.warning("cancel of %s not answered while its send is on its way: left open",
                    order.client_order_id)  # fmt: skip
        return True

    async def cancel_all(
        self, venue_name: str | None = None
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """Cancel every open order we know and every open order the venues report."""
        cancelled: list[str] = []
        failed: list[tuple[str, str]] = []
        targets = [v for n, v in self.venues.items() if venue_name in (None, n)]
        for venue in targets:
            try:
                reported = await venue.fetch_open_orders()
            except Exception as exc:  # a kill switch must go on with what it knows
                failed.append((venue.name, f"could not list open orders: {exc}"))
                reported = []
            for r in reported:
                if r.client_order_id not in self.orders:
                    # An order we never journaled (placed outside the node): cancel it too.
                    ext = external_order(venue.name, r, self.clock.now_ms())
                    self.orders[ext.client_order_id] = ext
                    self.open[ext.client_order_id] = ext
        for order in list(self.open.values()):
            if (venue_name is not None and order.venue != venue_name) or is_settlement(order):
                continue
            try:
                await self.cancel(order.client_order_id)
            except SQLAlchemyError as exc:  # in the driver's words: no statement, one line
                failed.append((order.client_order_id, f"its journal write failed ({refusal(exc)})"))
                continue
            except Exception as exc:
                failed.append((order.client_order_id, str(exc)))
                continue
            if order.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
                cancelled.append(order.client_order_id)
            elif order.is_open:
                failed.append((order.client_order_id, f"still {order.status.value} after cancel"))
        return cancelled, failed

    def adopt_external(self, report: OrderReport) -> Order:
        """Journal an open venue order the node never placed, as strategy `external` (on a spot
        market HOLDINGS: a resting sale by hand of coins held is no short when it fills)."""
        order = external_order(report.venue, report, self.clock.now_ms())
        if self.foreign_owner(order.venue, order.symbol) == HOLDINGS:
            order.strategy_id = HOLDINGS
        # Start from nothing filled: its fills are then booked one by one (catch_up_fills).
        order.filled, order.avg_price, order.status = ZERO, ZERO, OrderStatus.ACCEPTED
        with self.storage.transaction():
            self.storage.upsert_order(order)
            self.storage.record_transition(
                order.client_order_id,
                "",
                order.status.value,
                order.updated_ts,
                "adopted: open on the venue, unknown to the journal",
            )
        self.orders[order.client_order_id] = order
        self.open[order.client_order_id] = order
        self._publish_order(EventKind.ORDER_ACCEPTED, order, severity="warning")
        return order

    async def cancel_external(self, report: OrderReport) -> OrderReport:
        """Cancel an open venue order the node never placed (it is not journaled)."""
        venue = self.venues[report.venue]
        order = external_order(report.venue, report, self.clock.now_ms())
        result = await venue.cancel(order)
        self._publish(
            EventKind.ORDER_CANCELLED,
            self.clock.now_ms(),
            order,
            {**order_data(order), "reason": "external order cancelled by reconciliation"},
            severity="warning",
        )
        return result

    # the portfolio view the risk engine reads ---------------------------------------------------
    def equity(self) -> Decimal:
        result: Decimal = self.portfolio.equity()
        return result

    def open_positions(self) -> list[Position]:
        result: list[Position] = self.portfolio.open_positions()
        return result

    def net_quantity(self, venue: str, symbol: str) -> Decimal:
        result: Decimal = self.portfolio.net_quantity(venue, symbol)
        return result

    def position(self, venue: str, symbol: str, strategy_id: str = "") -> Position:
        result: Position = self.portfolio.position(venue, symbol, strategy_id)
        return result

    def stable_value(self) -> Decimal:
        result: Decimal = self.portfolio.stable_value()
        return result

    def price_of(self, asset: str, in_asset: str | None = None) -> Decimal | None:
        result: Decimal | None = self.portfolio.price_of(asset, in_asset)
        return result

    def price_on(
        self, venue: str, asset: str, in_asset: str | None = None, fresh: Fresh = None
    ) -> Decimal | None:
        result: Decimal | None = self.portfolio.price_on(venue, asset, in_asset, fresh)
        return result

    def free(self, venue: str, asset: str) -> Decimal:
        result: Decimal = self.portfolio.book(venue).free(asset)
        return result


def external_order(venue: str, r: OrderReport, now: int) -> Order:
    """An Order for a venue order the journal never knew (strategy id `external`)."""
    status = OrderStatus.PARTIALLY_FILLED if r.filled > ZERO else OrderStatus.ACCEPTED
    return Order(
        r.client_order_id,
        "external",
        venue,
        r.symbol,
        side=Side(r.side or "buy"),
        type=OrderType.LIMIT if r.price else OrderType.MARKET,
        amount=r.amount or r.filled,
        price=r.price,
        status=status,
        venue_order_id=r.venue_order_id,
        filled=r.filled,
        avg_price=r.avg_price,
        created_ts=r.ts or now,
        updated_ts=now,
    )
