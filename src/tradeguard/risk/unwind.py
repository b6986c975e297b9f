"""What each strategy's unfinished arbitrage cycles hold, so that the `arb-unwind` tag passes
the loss limits, REDUCING, the cooldowns and the trade count only for an intent that gives
back such a holding, and no more of it.

```python
holdings = engine.cycle_holdings
holdings.on_fill("tri", fill, role="leg")      # a leg bought ETH: ETH is held from the cycle
holdings.admits(intent)                       # an unwind selling at most that ETH: True
holdings.end_cycle("tri", "completed", "USDT")  # recorded: what it held is no longer excused
```

A cycle's legs and unwinds add what they receive and take off what they give: an unwind of
several hops gives back in its next hop what its last one brought in, which the cycle's record
ends whatever its outcome (never a holding a later unwind takes back). A fill is counted once,
however often it is told (a start-up reconciliation, then the take-up of the legs it found). A
cycle recorded `held` leaves its legs' holdings to later unwinds (a held leg sold again); any
other outcome ends them, and a market's settlement ends what any cycle held of it. A sell gives
its base amount, a buy its quote at the limit price (a triangular unwind can be a buy); a buy
without a limit price is never excused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from tradeguard.model.enums import Side
from tradeguard.model.fill import Fill
from tradeguard.model.money import ZERO
from tradeguard.model.order import ARB_UNWIND_TAG, Order, OrderIntent

_Key = tuple[str, str]  # (venue, asset)
_DONE_KEPT = 4096  # recorded cycles' orders kept per strategy, to tell their late fills


def base_asset(symbol: str) -> str:
    """Return what a sell of `symbol` gives (an outcome token's symbol is its own asset)."""
    return _assets(symbol)[0]


def _assets(symbol: str) -> tuple[str, str]:
    base, slash, rest = symbol.partition("/")
    return base, rest.split(":", 1)[0] if slash else ""


def _moves(fill: Fill) -> tuple[str, Decimal, str, Decimal]:
    """What `fill` brought in and gave: (asset got, amount, asset given, amount), fees in."""
    base, quote = _assets(fill.symbol)
    cost = fill.amount * fill.price
    fee_base = fill.fee if fill.fee_asset == base else ZERO
    fee_quote = fill.fee if fill.fee_asset == quote and quote else ZERO
    if fill.side is Side.BUY:
        return base, fill.amount - fee_base, quote, cost + fee_quote
    return quote, cost - fee_quote, base, fill.amount + fee_base


class CycleHoldings:
    """Per strategy: what its running cycle holds and what its held cycles left (venue, asset)."""

    __slots__ = ("_done", "_hops", "_left", "_open", "_running", "_seen")

    def __init__(self) -> None:
        self._open: dict[str, dict[_Key, Decimal]] = {}
        self._left: dict[str, dict[_Key, Decimal]] = {}
        # what the running cycle's unwind hops brought in, for its next hop only
        self._hops: dict[str, dict[_Key, Decimal]] = {}
        # the fills the strategy's running cycle counted (venue, order, trade): each counts once
        self._seen: dict[str, set[tuple[str, str, str]]] = {}
        # the orders the strategy's running cycle sent, and those of its recorded cycles (each
        # with the cycle's start asset): a fill arriving after its cycle's record is late
        self._running: dict[str, set[str]] = {}
        self._done: dict[str, dict[str, str]] = {}

    def hold(self, strategy_id: str, venue: str, asset: str, amount: Decimal) -> None:
        """Count `amount` of `asset` on `venue` as held by the strategy's running cycle."""
        if amount > ZERO and asset:
            book = self._open.setdefault(strategy_id, {})
            book[(venue, asset)] = book.get((venue, asset), ZERO) + amount

    def cover(self, strategy_id: str, venue: str, asset: str, amount: Decimal) -> None:
        """Make sure a held cycle's `amount` of `asset`, read from its record (a held leg sold
        again, after a restart too), counts as held: only what is not counted yet is added."""
        short = amount - self.held(strategy_id, venue, asset)
        if short > ZERO:
            book = self._left.setdefault(strategy_id, {})
            book[(venue, asset)] = book.get((venue, asset), ZERO) + short

    def uncover(self, strategy_id: str, venue: str, asset: str, amount: Decimal) -> None:
        """Take back `amount` a `cover` added (its record's commit refused)."""
        book = self._left.get(strategy_id, {})
        key = (venue, asset)
        if key in book:
            book[key] -= min(book[key], amount)
            if book[key] <= ZERO:
                del book[key]

    def recorded(self, strategy_id: str, client_order_id: str) -> bool:
        """Tell whether the order is one of the strategy's recorded cycles' (a fill is late)."""
        return client_order_id in self._done.get(strategy_id, {})

    def running(self, strategy_id: str, client_order_id: str) -> bool:
        """Tell whether the order is one the strategy's running cycle sent."""
        return client_order_id in self._running.get(strategy_id, ())

    def ended(self, strategy_id: str, client_order_id: str, start_asset: str) -> None:
        """Note the order as one of a recorded cycle (starting from `start_asset`) this run
        did not record or keeps no more (read from its stored record): its fills are late."""
        done = self._done.setdefault(strategy_id, {})
        done[client_order_id] = start_asset
        while len(done) > _DONE_KEPT:
            del done[next(iter(done))]

    def sent(self, strategy_id: str, client_order_id: str) -> None:
        """Note an order the strategy's running cycle sent (its fills after the cycle's record
        are late ones, `on_fill`)."""
        self._running.setdefault(strategy_id, set()).add(client_order_id)

    def on_fill(self, strategy_id: str, fill: Fill, role: str) -> None:
        """Fold in a fill of one of the strategy's cycle orders (`role`: leg, unwind, ...;
        what an unwind hop receives, its next hop may give back), once: a fill told again (by the
        start-up reconciliation, then the take-up) is skipped. A fill of an order whose cycle
        was recorded already (a leg unanswered until after its wait) is late: what it brings in
        is left to later unwinds as a held cycle's holdings are (but its start asset)."""
        start = self._done.get(strategy_id, {}).get(fill.client_order_id)
        seen = self._seen.setdefault(f"{strategy_id}\x00late" if start is not None
                                     else strategy_id, set())  # fmt: skip
        key = (fill.venue, fill.client_order_id, fill.trade_id)
        if key in seen:
            return
        seen.add(key)
        if start is not None:
            self._late(strategy_id, fill, start)
            return
        got, got_amount, gave, gave_amount = _moves(fill)
        self._give(strategy_id, fill.venue, gave, gave_amount)
        if role != "unwind":
            self.hold(strategy_id, fill.venue, got, got_amount)
        elif got_amount > ZERO and got:
            hops = self._hops.setdefault(strategy_id, {})
            hops[(fill.venue, got)] = hops.get((fill.venue, got), ZERO) + got_amount

    def _late(self, strategy_id: str, fill: Fill, start_asset: str) -> None:
        got, got_amount, gave, gave_amount = _moves(fill)
        self._give(strategy_id, fill.venue, gave, gave_amount)
        if got_amount > ZERO and got and got != start_asset:
            left = self._left.setdefault(strategy_id, {})
            left[(fill.venue, got)] = left.get((fill.venue, got), ZERO) + got_amount

    def adopt(
        self, strategy_id: str, orders: Iterable[Order], fills: Mapping[str, list[Fill]]
    ) -> None:
        """Fold in the fills of a cycle's orders a stop left without a record (found at start),
        so that the unwind taking them up may give back what they hold."""
        for order in orders:
            role = order.signal.get("arb")
            if isinstance(role, str):
                for fill in fills.get(order.client_order_id, ()):
                    self.on_fill(strategy_id, fill, role)

    def _give(self, strategy_id: str, venue: str, asset: str, amount: Decimal) -> None:
        key = (venue, asset)
        for books in (self._hops, self._open, self._left):
            book = books.get(strategy_id)
            if not book or key not in book or amount <= ZERO:
                continue
            taken = min(book[key], amount)
            amount -= taken
            book[key] -= taken
            if book[key] <= ZERO:
                del book[key]

    def settled(self, strategy_id: str, venue: str, asset: str) -> None:
        """The market of `asset` on `venue` settled and closed what the strategy held of it:
        none of it is held by any of its cycles any more (an unwind has nothing to give back)."""
        for books in (self._hops, self._open, self._left):
            book = books.get(strategy_id)
            if book is not None:
                book.pop((venue, asset), None)

    def end_cycle(self, strategy_id: str, outcome: str, start_asset: str) -> None:
        """The strategy's running cycle was recorded: a `held` one leaves what it holds (but the
        start asset) to later unwinds, any other outcome ends it."""
        opened = self._open.pop(strategy_id, {})
        self._seen.pop(strategy_id, None)
        self._hops.pop(strategy_id, None)
        done = self._done.setdefault(strategy_id, {})
        for cid in self._running.pop(strategy_id, ()):
            done[cid] = start_asset
        while len(done) > _DONE_KEPT:  # the oldest cycles' orders have long ended
            del done[next(iter(done))]
        if outcome != "held":
            return
        left = self._left.setdefault(strategy_id, {})
        for (venue, asset), amount in opened.items():
            if asset != start_asset:
                left[(venue, asset)] = left.get((venue, asset), ZERO) + amount

    def held(self, strategy_id: str, venue: str, asset: str) -> Decimal:
        """Return how much of `asset` on `venue` the strategy's unfinished cycles hold."""
        key = (venue, asset)
        return sum(
            (
                book.get(strategy_id, {}).get(key, ZERO)
                for book in (self._hops, self._open, self._left)
            ),
            ZERO,
        )

    def admits(self, intent: OrderIntent) -> bool:
        """Tell whether `intent` is an unwind that gives back at most what its strategy's
        unfinished cycles hold of the asset it gives (else it is judged as any intent)."""
        if intent.tag != ARB_UNWIND_TAG or type(intent.amount) is not Decimal:
            return False  # an amount of another type is refused by name by the order rules
        base, quote = _assets(intent.symbol)
        if intent.side is Side.SELL:
            asset, amount = base, intent.amount
        elif type(intent.price) is not Decimal or not quote:
            return False
        else:
            asset, amount = quote, intent.amount * intent.price
        if not amount.is_finite() or amount <= ZERO:
            return False
        return amount <= self.held(intent.strategy_id, intent.venue, asset)
