"""The execution gateway a multi-leg strategy trades through: one venue's order path, nothing else.

```python
gateway = OrderPathGateway(node.orders, node.risk, "paper", "tri", submit=node.submit)
result = await gateway.submit(intent)              # risk check -> journal -> venue
order = await gateway.wait_terminal(result.order.client_order_id, 5.0)
```

It implements `strategies.gateway.ExecutionGateway` over an `OrderManager`: submits intents,
waits until an order reaches a terminal status (fills and status changes arrive through the
manager's fill listeners and `order.*` bus events), asks the risk engine about a cycle as a
whole, records arbitrage executions in storage, and reads instruments, book levels and USD prices
from the node's market state and portfolio. The strategy holding it never sees a venue, the
order manager, the risk engine or storage.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from tradeguard.execution.order_events import is_settlement
from tradeguard.execution.order_manager import OrderManager, SubmitResult
from tradeguard.execution.outbox import OUTBOX_KEY, event_json
from tradeguard.model.engine_context import engine_methods
from tradeguard.model.enums import Side
from tradeguard.model.events import Event, EventKind
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.money import ZERO
from tradeguard.model.order import Order, OrderIntent
from tradeguard.model.sealed import sealed_intent
from tradeguard.model.signal_keys import GATEWAY_SIGNAL_KEYS, strategy_signal_error
from tradeguard.risk.engine import RiskDecision
from tradeguard.risk.rules.order import band_edge
from tradeguard.risk.unwind import CycleHoldings, base_asset
from tradeguard.storage.arb_repository import (
    amend_arb_execution,
    fills_after,
    find_arb_execution,
    insert_arb_execution,
)

if TYPE_CHECKING:  # the figures load where a held position settles, not in every backtest
    from tradeguard.portfolio.arb_summary import Settled

# kv_state key: a strategy's state as its newest record left it ({"record_id": id, ...})
RECORD_STATE_KEY = "strategy.record_state:{}"
RECORD_NOTE_KEY = "strategy.record_note:{}"
# kv_state key: the events a strategy's newest record announces, committed with it and removed
# once they are on the bus; a kill between the two leaves them for the next start to announce
# kv_state key: the newest of a strategy's journaled fills a start looked at for late fills
LATE_CHECKED_KEY = "strategy.late_checked:{}"
# kv_state key: {order id: starts in a row that failed to book its late fill into its record}
LATE_TRIES_KEY = "strategy.late_tries:{}"

Levels = list[tuple[Decimal, Decimal]]


def _events(announced: Event | Sequence[Event]) -> list[Event]:
    """What an `announce` callback returned, as a list."""
    return [announced] if isinstance(announced, Event) else list(announced)


class CycleRisk(Protocol):
    """The part of the risk engine that judges a multi-leg execution as a whole."""

    @property
    def cycle_holdings(self) -> CycleHoldings: ...

    def check_cycle(
        self,
        legs: Sequence[OrderIntent],
        gross_profit_pct: Decimal,
        fees_pct: Decimal,
        notional_usd: Decimal,
    ) -> RiskDecision: ...

    def observe_cycle(
        self,
        strategy_id: str,
        symbols: tuple[str, ...],
        pnl_usd: Decimal,
        ts: int,
        record_id: int | None = None,
    ) -> None: ...

    def observe_settlement(
        self, strategy_id: str, key: str, symbols: tuple[str, ...], pnl_usd: Decimal, ts: int
    ) -> bool: ...


@engine_methods  # a strategy's own task calls it: the node's money code, the node's context
class OrderPathGateway:
    """Trade through an `OrderManager` for one venue and one strategy id."""

    def __init__(
        self,
        orders: OrderManager,
        risk: CycleRisk,
        venue: str,
        strategy_id: str,
        *,
        submit: Callable[[OrderIntent], Awaitable[SubmitResult]] | None = None,
        venue_kind: str = "paper",
        buy_fee_in: str = "quote",
        on_record: Callable[[Mapping[str, Any]], None] | None = None,
        on_settled: Callable[[str, Settled], None] | None = None,
        on_amended: Callable[[str], None] | None = None,
        market_data: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        self._om = orders
        self._risk = risk
        # The node passes its own submit so that its run figures count the legs.
        self._submit = submit or orders.submit
        self.venue = venue
        self.strategy_id = strategy_id
        self.venue_kind = venue_kind
        self.buy_fee_in = buy_fee_in  # "quote" (spent) or "received": where a buy pays its fee
        self._on_record = on_record  # the node counts each recorded cycle in its figures
        self._on_settled = on_settled  # and changes it by what its held position settled at
        self._on_amended = on_amended  # and counts this strategy's records again, one rewritten
        self._market_data = market_data  # subscribes a symbol nobody streams (venue, symbol)
        self._fills: dict[str, list[Fill]] = {}
        self._waiters: dict[str, asyncio.Event] = {}
        self._sending = 0  # submits under way
        # told of a fill of an order whose cycle was recorded already (the strategy books it)
        self.late_fill_listeners: list[Callable[[Fill, Order], None]] = []
        orders.fill_listeners.append(self._on_fill)
        orders.bus.subscribe(self._on_order_event, "order.")
        # A leg is not a position of its own: its fills move balances and the strategy reports
        # the execution's result to the risk engine as one trade.
        orders.balance_only.add(strategy_id)

    # hooks -------------------------------------------------------------------------------------
    def _on_fill(self, fill: Fill, order: Order | None) -> None:
        if order is not None and order.strategy_id == self.strategy_id:
            self._fills.setdefault(fill.client_order_id, []).append(fill)
            role = order.signal.get("arb")  # a cycle's leg or unwind: what its cycle holds
            if isinstance(role, str) and fill.venue == self.venue:
                holdings = self._risk.cycle_holdings
                late = self._late(order.client_order_id)
                holdings.on_fill(self.strategy_id, fill, role)
                for listener in self.late_fill_listeners if late else ():
                    listener(fill, order)
            elif is_settlement(order) and fill.venue == self.venue:  # market resolved (its id)
                asset = base_asset(fill.symbol)
                self._risk.cycle_holdings.settled(self.strategy_id, fill.venue, asset)
        self._wake(fill.client_order_id)

    def _late(self, cid: str) -> bool:
        """Whether `cid` is an order of a recorded cycle: one this run recorded, or one the
        store names a record for (an older run's, or one this run no longer keeps)."""
        holdings = self._risk.cycle_holdings
        if holdings.recorded(self.strategy_id, cid):
            return True
        if holdings.running(self.strategy_id, cid):
            return False
        row = self.recorded_execution(cid)
        if row is None:
            return False
        holdings.ended(self.strategy_id, cid, str(row["start_asset"]))
        return True

    def _on_order_event(self, event: Event) -> None:
        cid = event.data.get("client_order_id")
        if isinstance(cid, str):
            if self._sending and event.kind == EventKind.ORDER_SUBMITTED:
                self._sent(cid)  # journaled, not yet sent: its fills are the running cycle's
            self._wake(cid)

    def _sent(self, cid: str) -> None:
        order = self._om.orders.get(cid)
        if (order is not None and order.strategy_id == self.strategy_id
                and isinstance(order.signal.get("arb"), str)):  # fmt: skip
            self._risk.cycle_holdings.sent(self.strategy_id, cid)

    def _wake(self, cid: str) -> None:
        waiter = self._waiters.get(cid)
        order = self._om.orders.get(cid)
        if waiter is not None and order is not None and order.status.is_terminal:
            waiter.set()

    # the order path ----------------------------------------------------------------------------
    def now_ms(self) -> int:
        """Return the node's clock reading."""
        return self._om.clock.now_ms()

    async def submit(self, intent: OrderIntent) -> SubmitResult:
        """Send one intent down the order path (risk check, journal, venue); a cycle's order is
        noted as its cycle's, so a fill after the cycle's record is told as a late one. A
        signal carrying a key the node reserves for its own orders (but the cycle role `arb`)
        or the orders API's `source` is refused: SIGNAL_RESERVED, nothing journaled; so is a
        leg under another strategy id than the gateway's: STRATEGY_ORDER_ROUTE. The intent's
        signal is sealed first, as emit() seals it: what is checked is what is sent."""
        intent = sealed_intent(intent)
        if intent.strategy_id != self.strategy_id:  # its cycles, holdings and P&L are its own
            return self._om.refuse(intent, "STRATEGY_ORDER_ROUTE", (
                f"order denied: the execution gateway of strategy {self.strategy_id!r} sends "
                f"that strategy's legs only, not one under strategy_id {intent.strategy_id!r}"
            ))  # fmt: skip
        reserved = strategy_signal_error(intent.signal, GATEWAY_SIGNAL_KEYS)
        if reserved is not None:
            return self._om.refuse(intent, "SIGNAL_RESERVED", reserved)
        # noted from its journaling on: a fill the venue's answer brings is then no late one
        # (not looked up in the store on the way between two legs)
        self._sending += 1
        try:
            result = await self._submit(intent)
        finally:
            self._sending -= 1
        if isinstance(intent.signal.get("arb"), str) and result.order is not None:
            self._risk.cycle_holdings.sent(self.strategy_id, result.order.client_order_id)
        return result

    async def wait_terminal(self, client_order_id: str, timeout_s: float) -> Order | None:
        """Wait until the order is filled, expired, cancelled or rejected, or the timeout passes."""
        order = self._om.orders.get(client_order_id)
        if order is None or order.status.is_terminal:
            return order
        waiter = self._waiters[client_order_id] = asyncio.Event()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            while True:
                await asyncio.wait_for(waiter.wait(), max(0.0, deadline - loop.time()))
                order = self._om.orders.get(client_order_id)
                if order is None or order.status.is_terminal:
                    break
                # woken by a state its transaction's rollback took back: the journal, and
                # the order with it, still has it open
                waiter.clear()
        except TimeoutError:
            pass
        finally:
            self._waiters.pop(client_order_id, None)
        return self._om.orders.get(client_order_id)

    async def cancel(self, client_order_id: str) -> None:
        """Cancel what is left of an order (an IOC the venue has not closed yet)."""
        await self._om.cancel(client_order_id)

    def fills(self, client_order_id: str) -> list[Fill]:
        """Return the fills seen for one of this strategy's orders."""
        return list(self._fills.get(client_order_id, ()))

    def journaled(self, client_order_id: str) -> tuple[Order | None, list[Fill]]:
        """Return one of this strategy's orders as the order path knows it, or as the journal
        keeps it (a start restores only open orders), and every fill journaled for it."""
        order = self._om.orders.get(client_order_id)
        storage = self._om.storage
        if storage is None:
            return order, self.fills(client_order_id)
        if order is None:  # by its key: one lookup, however long the journal
            order = storage.get_order(client_order_id)
            if order is not None and order.strategy_id != self.strategy_id:
                order = None
        return order, storage.load_fills(client_order_id=client_order_id)

    def journaled_order(self, client_order_id: str) -> Order | None:
        """Return one of this strategy's orders as the order path knows it, else as its journal
        row keeps it (one read, none of its fills): what a fill's order says of it (its
        signal), asked of every fill, needs no more."""
        order = self._om.orders.get(client_order_id)
        storage = self._om.storage
        if order is None and storage is not None:
            order = storage.get_order_alone(client_order_id)
            if order is not None and order.strategy_id != self.strategy_id:
                order = None
        return order

    def fills_since(self, since_ts: int) -> list[Fill]:
        """Return this strategy's journaled fills from `since_ts` on (none without storage)."""
        storage = self._om.storage
        return [] if storage is None else storage.load_fills(strategy_id=self.strategy_id,
                                                             since_ts=since_ts)  # fmt: skip

    def recorded_execution(self, client_order_id: str) -> dict[str, Any] | None:
        """Return the strategy's stored record naming the order, however old (None: no
        record names it, or no storage)."""
        storage = self._om.storage
        if storage is None:
            return None
        return find_arb_execution(storage, self.strategy_id, client_order_id)

    def late_checked(self) -> tuple[int, list[str]]:
        """Return the newest journaled fill id of this strategy and the ids of the orders with
        a fill after the one `late_checked_to` marked last: those a late fill may be of."""
        storage = self._om.storage
        if storage is None:
            return 0, []
        after = int(storage.kv_get(LATE_CHECKED_KEY.format(self.strategy_id)) or 0)
        return fills_after(storage, self.strategy_id, after)

    def late_checked_to(self, fill_id: int) -> None:
        """Mark this strategy's journaled fills up to `fill_id` as looked at, and forget the
        failed tries (`late_tries`) with it, in one commit (durable)."""
        storage = self._om.storage
        if storage is not None:
            with storage.transaction():
                storage.kv_set(LATE_CHECKED_KEY.format(self.strategy_id), fill_id)
                storage.kv_set(LATE_TRIES_KEY.format(self.strategy_id), {})

    def late_tries(self) -> dict[str, int]:
        """Return, for each order whose late fill could not be booked, how many starts in a
        row failed to (`late_tries_to`)."""
        storage = self._om.storage
        raw = storage.kv_get(LATE_TRIES_KEY.format(self.strategy_id)) if storage else None
        if not isinstance(raw, dict):
            return {}
        return {str(k): int(v) for k, v in raw.items() if isinstance(v, int)}

    def late_tries_to(self, tries: Mapping[str, int]) -> None:
        """Keep the failed tries of each order's late fill (durable)."""
        storage = self._om.storage
        if storage is not None:
            with storage.transaction():
                storage.kv_set(LATE_TRIES_KEY.format(self.strategy_id), dict(tries))

    def forget(self, client_order_id: str) -> None:
        """Drop what was kept about a finished order."""
        self._fills.pop(client_order_id, None)

    # risk and records --------------------------------------------------------------------------
    def check_cycle(
        self,
        legs: Sequence[OrderIntent],
        gross_profit_pct: Decimal,
        fees_pct: Decimal,
        notional_usd: Decimal,
    ) -> RiskDecision:
        """Ask the risk engine about a cycle as a whole; each leg is still checked on submit."""
        return self._risk.check_cycle(legs, gross_profit_pct, fees_pct, notional_usd)

    def check_order(
        self, intent: OrderIntent, ahead: int = 0, ahead_stable_usd: Decimal = ZERO
    ) -> RiskDecision:
        """Ask the risk engine whether `intent` would pass now, as a dry run (nothing counted,
        nothing published), after `ahead` earlier legs of the same plan spending
        `ahead_stable_usd` of stablecoins: a later leg's refusal is found before the first leg
        is sent."""
        om = self._om
        decision: RiskDecision = om.risk.check(
            intent, om, om.market, dry_run=True, ahead=ahead, ahead_stable_usd=ahead_stable_usd
        )
        return decision

    async def band_edge(self, symbol: str, side: Side) -> Decimal | None:
        """Return the farthest from the mid a limit order on `symbol` may be priced now and still
        pass risk.price_band_pct (a sell's lowest price, a buy's highest, to the tick), or None
        without a reference price (subscribed first if nobody streams it) or the instrument."""
        om = self._om
        if self._market_data is not None:
            await self._market_data(self.venue, symbol)
        mid, inst = om.market.mid(symbol, self.venue), self.instrument(symbol)
        if mid is None or mid <= 0 or inst is None or inst.price_tick <= 0:
            return None
        return band_edge(side, mid, inst.price_tick, om.risk.config.price_band_pct)

    def observe_cycle(
        self, symbols: tuple[str, ...], pnl_usd: Decimal, ts: int, record_id: int | None = None
    ) -> None:
        """Report one execution's result to the risk engine as one trade of this strategy
        (`record_id`: its committed record, counted once)."""
        self._risk.observe_cycle(self.strategy_id, symbols, pnl_usd, ts, record_id)

    def observe_settlement(
        self,
        key: str,
        symbols: tuple[str, ...],
        pnl_usd: Decimal,
        ts: int,
        booked_usd: Decimal | None = None,
        record_id: int | None = None,
        capital_usd: Decimal | None = None,
        announce: Event | None = None,
    ) -> bool:
        """Report what a held position realised at settlement to the risk engine as one trade
        of this strategy, committed at once with the engine's state (`key`: counted once), and
        to the node's figures, whose record (`record_id`, which cost `capital_usd`) counted it
        at `booked_usd`, in the same commit; `announce`, when new, is kept in that commit too
        (`OUTBOX_KEY`) and published after it.
        Return whether it was new (False: a settlement counted already, before a kill)."""
        from tradeguard.portfolio.arb_summary import Settled

        settled = Settled(booked_usd, pnl_usd, record_id, capital_usd)
        storage = self._om.storage
        if storage is None:
            fresh = self._settled(key, symbols, ts, settled)
            if fresh and announce is not None:
                self.publish(announce)
            return fresh
        with storage.transaction():
            fresh = self._settled(key, symbols, ts, settled)
            if fresh and announce is not None:
                storage.kv_set(OUTBOX_KEY.format(self.strategy_id), [event_json(announce)])
        if fresh and announce is not None:
            self._announced(announce)
        return fresh

    def _announced(self, *events: Event) -> None:
        """Publish `events`, kept in the outbox by the commit before, and empty the outbox."""
        for event in events:
            self.publish(event)
        storage = self._om.storage
        if storage is not None:
            with storage.transaction():
                storage.kv_delete(OUTBOX_KEY.format(self.strategy_id))

    def _settled(self, key: str, symbols: tuple[str, ...], ts: int, settled: Settled) -> bool:
        fresh = self._risk.observe_settlement(self.strategy_id, key, symbols, settled.realised, ts)
        if fresh and settled.booked is not None and self._on_settled is not None:
            self._on_settled(self.strategy_id, settled)
        return fresh

    def record_execution(
        self,
        row: Mapping[str, Any],
        state: Callable[[int], Mapping[str, Any]] | None = None,
        announce: Callable[[int | None], Event | Sequence[Event]] | None = None,
    ) -> int | None:
        """Write one `arb_executions` row and return its id (None without storage); with
        `state`, what it returns for that id is committed with the row (`RECORD_STATE_KEY`),
        so a kill before the next checkpoint loses neither. With `announce`, the event (or
        events: a `held` record's critical `arb.held` too) it returns for that id is committed
        with the row (`OUTBOX_KEY`), then published: a kill in between leaves it for the next
        start (`announce_outbox`). The cycle's holdings stop excusing its unwinds unless it is
        `held` (`CycleHoldings.end_cycle`)."""
        outcome, start = str(row.get("outcome", "")), str(row.get("start_asset", ""))
        self._risk.cycle_holdings.end_cycle(self.strategy_id, outcome, start)
        storage = self._om.storage
        if storage is None:
            if announce is not None:
                for event in _events(announce(None)):
                    self.publish(event)
            return None
        outbox = OUTBOX_KEY.format(self.strategy_id)
        events: list[Event] = []
        with storage.transaction():
            row_id = insert_arb_execution(storage, row)
            if state is not None:
                storage.kv_set(RECORD_STATE_KEY.format(self.strategy_id), dict(state(row_id)))
            if announce is not None:
                events = _events(announce(row_id))
                storage.kv_set(outbox, [event_json(e) for e in events])
        if self._on_record is not None:
            self._on_record({**row, "id": row_id})
        if events:
            self._announced(*events)
        return row_id

    def amend_execution(
        self,
        record_id: int | None,
        row: Mapping[str, Any],
        settlement: tuple[str, tuple[str, ...], Decimal, int] | None,
        state: Mapping[str, Any],
        announce: Event | None = None,
    ) -> bool:
        """Rewrite the held record `record_id` now that its unresolved order ended, report what
        the cycle realised to the risk engine as one trade of this strategy (`settlement`: key,
        symbols, P&L in USD, time; a key counted already is not counted again) and commit
        `state` as the strategy's record state, all in one commit, with `announce` kept in it
        (`OUTBOX_KEY`) and published after it. Return whether the settlement was new (True
        without one)."""
        storage = self._om.storage
        if storage is None:
            fresh = self._amended(None, record_id, row, settlement, state)
            if announce is not None:
                self.publish(announce)
            return fresh
        with storage.transaction():
            fresh = self._amended(storage, record_id, row, settlement, state)
            if announce is not None:
                storage.kv_set(OUTBOX_KEY.format(self.strategy_id), [event_json(announce)])
        if record_id is not None and self._on_amended is not None:
            self._on_amended(self.strategy_id)
        if announce is not None:
            self._announced(announce)
        return fresh

    def _amended(
        self,
        storage: Any,
        record_id: int | None,
        row: Mapping[str, Any],
        settlement: tuple[str, tuple[str, ...], Decimal, int] | None,
        state: Mapping[str, Any],
    ) -> bool:
        fresh = True
        if settlement is not None:
            key, symbols, pnl, ts = settlement
            result_undo = getattr(self._risk, "result_undo", None)
            if storage is not None and storage.keeps_undo and result_undo is not None:
                # a rewrite whose commit fails counts the result when it is tried again
                storage.on_rollback(result_undo(self.strategy_id, symbols, settled=True))
            fresh = self._risk.observe_settlement(self.strategy_id, key, symbols, pnl, ts)
        if storage is not None:
            if record_id is not None:
                amend_arb_execution(storage, record_id, row)
            storage.kv_set(RECORD_STATE_KEY.format(self.strategy_id), dict(state))
        return fresh

    def record_note(self, note: Mapping[str, Any]) -> None:
        """Commit `note` as the strategy's newest note (`RECORD_NOTE_KEY`), durable on return."""
        storage = self._om.storage
        if storage is not None:
            with storage.transaction():
                storage.kv_set(RECORD_NOTE_KEY.format(self.strategy_id), dict(note))

    def publish(self, event: Event) -> None:
        """Put an event on the node's bus (alerts, audit log, dashboard)."""
        self._om.bus.publish(event)

    # reads -------------------------------------------------------------------------------------
    def instrument(self, symbol: str) -> Instrument | None:
        """Return the venue's rules for `symbol`, or None when it is not listed."""
        inst: Instrument | None = self._om.market.instrument(self.venue, symbol)
        return inst

    def instruments(self) -> list[Instrument]:
        """Return every market the venue lists (the routes an unwind may take)."""
        listed: dict[tuple[str, str], Instrument] = self._om.market.instruments
        return [inst for (venue, _), inst in listed.items() if venue == self.venue]

    def levels(self, symbol: str, side: Side) -> Levels | None:
        """Return the book side a `side` order takes (asks for a buy), best first, if known."""
        market = self._om.market
        book = market.book(symbol, self.venue)
        if book is not None:
            got: Levels = book.asks() if side is Side.BUY else book.bids()
            return got
        quote = market.quote(symbol, self.venue)
        if quote is not None:
            if side is Side.BUY:
                return [(quote.ask, quote.ask_size)]
            return [(quote.bid, quote.bid_size)]
        return None

    def free(self, asset: str) -> Decimal | None:
        """The venue's free balance of `asset` in the ledger (venue pushes keep it current)."""
        book = self._om.portfolio.books.get(self.venue)
        if book is None:  # never synced: not known, rather than zero
            return None
        free: Decimal = book.free(asset)
        return free

    @property
    def nets_outcome_pairs(self) -> bool:
        """Whether the venue nets a YES and a NO of one market held together (Kalshi)."""
        return bool(getattr(self._om.venues.get(self.venue), "nets_outcome_pairs", False))

    def sellable(self, asset: str) -> Decimal | None:
        """The free `asset` that no open sell on this venue holds (None: not known): a venue
        that reports positions rather than locks (Kalshi) counts a resting sell free. Not known
        until a reconciliation read the venue's balances: the ones stored before a stop may
        predate the last fills (a failed or deferred start-up read)."""
        book = self._om.portfolio.books.get(self.venue)
        if book is None or not book.read_from_venue:
            return None
        selling = sum(
            (o.remaining for o in self._om.open_orders()
             if o.venue == self.venue and o.side is Side.SELL and self._base(o.symbol) == asset),
            Decimal(0),
        )  # fmt: skip
        held: Decimal = min(book.free(asset), book.total(asset) - selling)
        return held

    def _base(self, symbol: str) -> str:
        inst = self.instrument(symbol)
        return inst.base if inst is not None else symbol.split("/")[0]

    def usd_price(self, asset: str) -> Decimal | None:
        """Return one unit of `asset` in USD from this venue's marks (another's if it has none)."""
        price: Decimal | None = self._om.portfolio.price_on(self.venue, asset)
        return price
