"""A hand-written execution gateway over an in-memory outcome book, for the pair executor tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.model.enums import LiquiditySide, OrderStatus, Side, TimeInForce
from tradeguard.model.events import Event
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.order import Order, OrderIntent
from tradeguard.model.outcome import Outcome, outcome_instrument, parse_outcome_symbol
from tradeguard.strategies.cross_venue.fees import FeeModel

D = Decimal


@dataclass
class Answer:
    ok: bool
    status: str
    order: Order | None
    reason: str = ""


@dataclass
class Decision:
    approved: bool = True
    code: str = "OK"
    reason: str = ""


@dataclass
class StubGateway:
    """One venue: asks and bids per symbol; FOK fills all within the limit or nothing."""

    venue: str
    fees: FeeModel
    strategy_id: str = "pmarb"
    venue_kind: str = "paper"
    nets_outcome_pairs: bool = False  # as Kalshi: a YES and a NO of one market held pay 1
    asks: dict[str, list[tuple[Decimal, Decimal]]] = field(default_factory=dict)
    bids: dict[str, list[tuple[Decimal, Decimal]]] = field(default_factory=dict)
    # the book a pair's unwind is planned on (unset: a deep bid at the best ask)
    planned_bids: dict[str, list[tuple[Decimal, Decimal]] | None] = field(default_factory=dict)
    refuse: set[str] = field(default_factory=set)  # symbols whose orders the venue rejects
    broken: set[str] = field(default_factory=set)  # symbols whose submit raises (journal down)
    stalled: set[str] = field(default_factory=set)  # symbols whose orders stay in flight
    stalled_sells: set[str] = field(default_factory=set)  # symbols whose sells stay in flight
    cash: dict[str, Decimal] = field(default_factory=dict)  # free balances; unset: not known
    decision: Decision = field(default_factory=Decision)
    band: dict[str, Decimal] = field(default_factory=dict)  # highest price the risk check passes
    trades_left: int | None = None  # the risk engine's trades-per-day room (None: no limit)
    stable_room: Decimal | None = None  # stablecoins the reserve leaves to spend (None: any)
    band_known: bool = True  # whether band_edge tells the band's highest price
    checks: int = 0  # dry risk checks asked of this gateway
    events: list[Event] = field(default_factory=list)
    rows: list[Mapping[str, Any]] = field(default_factory=list)
    states: list[Mapping[str, Any]] = field(default_factory=list)  # committed with each row
    notes: list[Mapping[str, Any]] = field(default_factory=list)  # committed between rows
    sent: list[Order] = field(default_factory=list)
    observed: list[tuple[tuple[str, ...], Decimal]] = field(default_factory=list)
    settled: list[tuple[str, tuple[str, ...], Decimal]] = field(default_factory=list)
    _fills: dict[str, list[Fill]] = field(default_factory=dict)
    clock_ms: int = 1_780_000_000_000

    def now_ms(self) -> int:
        return self.clock_ms

    def free(self, asset: str) -> Decimal | None:
        return self.cash.get(asset)

    def sellable(self, asset: str) -> Decimal | None:
        return self.cash.get(asset)

    async def submit(self, intent: OrderIntent) -> Answer:
        if intent.symbol in self.broken:
            raise OSError(f"journal write failed for {intent.symbol}: disk full")
        cid = f"{self.venue}-{len(self.sent) + 1}"
        order = Order.from_intent(intent, cid, self.clock_ms)
        self.sent.append(order)
        order.transition(OrderStatus.SUBMITTED)
        if intent.symbol in self.refuse:
            order.transition(OrderStatus.REJECTED, reason="venue said no")
            return Answer(False, "rejected", order, "venue said no")
        order.transition(OrderStatus.ACCEPTED)
        stalled = self.stalled_sells if intent.side is Side.SELL else self.stalled
        if intent.symbol in stalled | self.stalled:  # no end nor fill within any timeout
            return Answer(True, order.status.value, order)
        book = (self.asks if intent.side is Side.BUY else self.bids).get(intent.symbol, [])
        assert intent.price is not None
        takes = _walk(book, intent.amount, intent.price, intent.side is Side.BUY)
        got = sum((q for _, q in takes), D(0))
        if intent.time_in_force is TimeInForce.FOK and got < intent.amount:
            takes = []
        fee_total = self.fees.order_fee(takes)
        for n, (price, qty) in enumerate(takes):
            fee = fee_total if n == 0 else D(0)
            fill = Fill(
                self.venue,
                intent.symbol,
                cid,
                cid,
                f"{cid}-{n}",
                intent.side,
                price,
                qty,
                fee,
                "USD",
                LiquiditySide.TAKER,
                self.clock_ms,
            )
            order.apply_fill(fill)
            self._fills.setdefault(cid, []).append(fill)
            _consume(book, price, qty)
        if order.status is not OrderStatus.FILLED:
            order.transition(OrderStatus.EXPIRED, reason="not filled within the limit")
        return Answer(True, order.status.value, order)

    async def wait_terminal(self, client_order_id: str, timeout_s: float) -> Order | None:
        return next(o for o in self.sent if o.client_order_id == client_order_id)

    async def cancel(self, client_order_id: str) -> None:
        return None

    def fills(self, client_order_id: str) -> list[Fill]:
        return list(self._fills.get(client_order_id, ()))

    def journaled(self, client_order_id: str) -> tuple[Order | None, list[Fill]]:
        order = next((o for o in self.sent if o.client_order_id == client_order_id), None)
        return order, list(self._fills.get(client_order_id, []))

    def journaled_order(self, client_order_id: str) -> Order | None:
        return next((o for o in self.sent if o.client_order_id == client_order_id), None)

    def fills_since(self, since_ts: int) -> list[Fill]:
        return sorted((f for fs in self._fills.values() for f in fs if f.ts >= since_ts),
                      key=lambda f: f.ts)  # fmt: skip

    def recorded_execution(self, client_order_id: str) -> Mapping[str, Any] | None:
        return next((r for r in self.rows if client_order_id in str(r)), None)

    def forget(self, client_order_id: str) -> None:
        self._fills.pop(client_order_id, None)

    def instrument(self, symbol: str) -> Instrument | None:
        market, outcome, quote = parse_outcome_symbol(symbol)
        return outcome_instrument(
            self.venue, market, Outcome(outcome), quote, D("0.01"), D(1), D(1), D("0.07")
        )

    def instruments(self) -> list[Instrument]:
        return []

    def levels(self, symbol: str, side: Side) -> list[tuple[Decimal, Decimal]] | None:
        # the bids a sale back would take; none set: a deep bid at the best ask (the pair is
        # planned on the fees alone), so a test sets `planned_bids` to plan on another book
        if symbol in self.planned_bids:
            return self.planned_bids[symbol]
        asks = self.asks.get(symbol)
        return [(asks[0][0], D(10**9))] if asks else None

    def usd_price(self, asset: str) -> Decimal | None:
        return D(1)

    def check_cycle(
        self, legs: Sequence[OrderIntent], gross: Decimal, fees: Decimal, notional: Decimal
    ) -> Decision:
        return self.decision

    def check_order(
        self, intent: OrderIntent, ahead: int = 0, ahead_stable_usd: Decimal = D(0)
    ) -> Decision:
        assert intent.price is not None
        self.checks += 1
        if self.trades_left is not None and ahead >= self.trades_left:
            return Decision(False, "MAX_TRADES_PER_DAY", f"{ahead} legs ahead use the day's room")
        if intent.symbol in self.band and intent.price > self.band[intent.symbol]:
            return Decision(False, "PRICE_BAND", f"limit price {intent.price} beyond the band")
        spend = ahead_stable_usd + intent.price * intent.amount
        if self.stable_room is not None and spend > self.stable_room:
            return Decision(False, "STABLE_RESERVE", f"{spend} USD spent, above the reserve")
        return Decision()

    async def band_edge(self, symbol: str, side: Side) -> Decimal | None:
        if side is not Side.BUY or not self.band_known:
            return None  # `band` holds only a buy's highest price
        return self.band.get(symbol)

    def observe_cycle(
        self, symbols: tuple[str, ...], pnl_usd: Decimal, ts: int, record_id: int | None = None
    ) -> None:
        self.observed.append((symbols, pnl_usd))

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
        if any(key == seen for seen, _s, _p in self.settled):
            return False
        self.settled.append((key, symbols, pnl_usd))
        if announce is not None:  # committed with the settlement, then published
            self.events.append(announce)
        return True

    def record_execution(
        self, row: Mapping[str, Any], state: Any = None, announce: Any = None
    ) -> int | None:
        self.rows.append(row)
        if state is not None:
            self.states.append(state(len(self.rows)))
        if announce is not None:  # committed with the row, then published
            told = announce(len(self.rows))
            self.events.extend([told] if isinstance(told, Event) else told)
        return len(self.rows)

    def record_note(self, note: Mapping[str, Any]) -> None:
        self.notes.append(dict(note))

    def publish(self, event: Event) -> None:
        self.events.append(event)


def _walk(
    book: list[tuple[Decimal, Decimal]], amount: Decimal, limit: Decimal, buy: bool
) -> list[tuple[Decimal, Decimal]]:
    out, left = [], amount
    for price, qty in book:
        if left <= 0 or (price > limit if buy else price < limit):
            break
        take = min(qty, left)
        out.append((price, take))
        left -= take
    return out


def _consume(book: list[tuple[Decimal, Decimal]], price: Decimal, qty: Decimal) -> None:
    for i, (p, q) in enumerate(book):
        if p == price:
            book[i] = (p, q - qty)
            if book[i][1] <= 0:
                del book[i]
            return


def example_map_far_off(tmp: Path) -> Path:
    """A copy of examples/pm_map.toml in `tmp`: its traded pair resolves in 2099 and its review
    expires in 2100, so a node trading it on the wall clock (its clock also signs the venues'
    requests) does not start refusing it as the calendar moves on."""
    text = (Path(__file__).resolve().parents[1] / "examples" / "pm_map.toml").read_text()
    assert text.count("resolves_at = 2099-12-16T19:00:00Z") == 2, "the example map changed"
    path = tmp / "pm_map_far_off.toml"
    path.write_text(text)
    return path


def book_moves_after_sizing(monkeypatch: Any) -> None:
    """Size pairs at their full size, as if the first leg's bids had been deep and tight when it
    was planned and moved before its unwind: the way a leg is held now that a pair is sized so
    its unwind at the planned book fits max_unwind_loss_usd (tests of held legs need one)."""
    from tradeguard.strategies.cross_venue import executor

    monkeypatch.setattr(executor, "unwind_size", lambda _g, _f, _p, n, _cap: (n, ""))
