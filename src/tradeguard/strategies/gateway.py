"""The order path as a strategy that executes multi-leg work itself may see it.

A plain strategy emits intents and the node sends them. A strategy that must chain orders on
what actually filled (the triangular executor; cross-venue arbitrage) gets an
`ExecutionGateway` from its context instead:

```python
gateway = ctx.execution_gateway(strategy_id, venue)
decision = gateway.check_cycle(intents, gross_pct, fees_pct, notional_usd)
result = await gateway.submit(intent)                 # risk check -> journal -> venue
order = await gateway.wait_terminal(result.order.client_order_id, 5.0)
record_id = gateway.record_execution(row, state)      # one arb_executions row (+ state)
```

The gateway is the node's: every order still passes the risk engine and the journal, and the
strategy never holds a venue, the order manager, the risk engine or storage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from tradeguard.model.enums import Side
from tradeguard.model.events import Event
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.money import ZERO
from tradeguard.model.order import Order, OrderIntent
from tradeguard.strategies.base import StrategyContext

Levels = list[tuple[Decimal, Decimal]]


class SubmitOutcome(Protocol):
    """What a submit answers: sent or not, the order, and why not."""

    @property
    def ok(self) -> bool: ...

    @property
    def status(self) -> str: ...

    @property
    def order(self) -> Order | None: ...

    @property
    def reason(self) -> str: ...


class CycleDecision(Protocol):
    """The risk engine's answer on a cycle as a whole."""

    @property
    def approved(self) -> bool: ...

    @property
    def code(self) -> str: ...

    @property
    def reason(self) -> str: ...


class ExecutionGateway(Protocol):
    """One venue's order path lent to one strategy: submit, wait, cancel, check, record."""

    venue: str
    strategy_id: str
    # "paper" or the venue's connector kind: where a buy's fee is charged depends on it.
    venue_kind: str
    # Where the venue charges a buy's fee: "quote" (the asset spent) or "received" (the base).
    buy_fee_in: str
    # Told of a fill of an order whose cycle was recorded already: the strategy books it.
    late_fill_listeners: list[Callable[[Fill, Order], None]]

    def now_ms(self) -> int: ...

    async def submit(self, intent: OrderIntent) -> SubmitOutcome: ...

    async def wait_terminal(self, client_order_id: str, timeout_s: float) -> Order | None: ...

    async def cancel(self, client_order_id: str) -> None: ...

    def fills(self, client_order_id: str) -> list[Fill]: ...

    def journaled(self, client_order_id: str) -> tuple[Order | None, list[Fill]]:
        """One of this strategy's orders as the order path or the journal knows it, and every
        fill journaled for it (an order a start did not restore: ended before it)."""
        ...

    def journaled_order(self, client_order_id: str) -> Order | None:
        """One of this strategy's orders as the order path or the journal knows it, without
        its fills (one row read at most)."""
        ...

    def fills_since(self, since_ts: int) -> list[Fill]:
        """This strategy's journaled fills from `since_ts` on."""
        ...

    def recorded_execution(self, client_order_id: str) -> dict[str, Any] | None:
        """The strategy's stored record naming the order, however old (None: none, or no
        storage)."""
        ...

    def late_checked(self) -> tuple[int, list[str]]:
        """The journaled fills of the strategy's orders not yet looked at for a late fill: the
        newest fill id and their orders' ids (at start, `late_checked_to` marks them)."""
        ...

    def late_checked_to(self, fill_id: int) -> None:
        """Mark every fill up to `fill_id` as looked at (`late_checked`), the tries with it."""
        ...

    def late_tries(self) -> dict[str, int]:
        """Each order whose late fill could not be booked: how many starts in a row failed."""
        ...

    def late_tries_to(self, tries: Mapping[str, int]) -> None:
        """Keep the failed tries of each order's late fill (`late_tries`)."""
        ...

    def forget(self, client_order_id: str) -> None: ...

    def instrument(self, symbol: str) -> Instrument | None: ...

    def instruments(self) -> list[Instrument]: ...

    def levels(self, symbol: str, side: Side) -> Levels | None: ...

    def usd_price(self, asset: str) -> Decimal | None: ...

    def free(self, asset: str) -> Decimal | None:
        """The venue's free balance of `asset` as the ledger knows it (None: not known)."""

    def sellable(self, asset: str) -> Decimal | None:
        """The free `asset` that no open sell on the venue holds (None: not known)."""

    @property
    def nets_outcome_pairs(self) -> bool:
        """Whether the venue nets a YES and a NO of one market held together (Kalshi)."""

    def check_cycle(
        self,
        legs: Sequence[OrderIntent],
        gross_profit_pct: Decimal,
        fees_pct: Decimal,
        notional_usd: Decimal,
    ) -> CycleDecision: ...

    def check_order(
        self, intent: OrderIntent, ahead: int = 0, ahead_stable_usd: Decimal = ZERO
    ) -> CycleDecision:
        """Would the risk engine pass `intent` now, after `ahead` earlier legs of the same plan
        that spend `ahead_stable_usd` of stablecoins? (Nothing counted, nothing published.)"""

    async def band_edge(self, symbol: str, side: Side) -> Decimal | None:
        """The farthest from the mid a limit order on `symbol` may be priced now and still pass
        risk.price_band_pct (a sell's lowest price, a buy's highest), or None if unknown."""

    def observe_cycle(
        self, symbols: tuple[str, ...], pnl_usd: Decimal, ts: int, record_id: int | None = None
    ) -> None: ...

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
        """Report what a held position realised when its market resolved as one trade of this
        strategy (the losing streak, the after-loss cooldown), committed at once; a `key`
        reported already is not counted again. `booked_usd`: what the strategy's record
        (`record_id`, which cost `capital_usd`) counted the position at, which its figures now
        change to `pnl_usd`. `announce`, when new: kept in the same commit, then published
        (announced at the next start if a kill comes between). Return whether it was new."""
        ...

    def record_execution(
        self,
        row: Mapping[str, Any],
        state: Callable[[int], Mapping[str, Any]] | None = None,
        announce: Callable[[int | None], Event | Sequence[Event]] | None = None,
    ) -> int | None:
        """Write one `arb_executions` row; with `state`, the strategy's state as that row (its
        id given) leaves it, in the same transaction; with `announce`, the event (or events)
        it returns for that id, kept in the same transaction and then published (announced
        at the next start if a kill comes between). Return the row's id (None: no storage)."""

    def amend_execution(
        self,
        record_id: int | None,
        row: Mapping[str, Any],
        settlement: tuple[str, tuple[str, ...], Decimal, int] | None,
        state: Mapping[str, Any],
        announce: Event | None = None,
    ) -> bool:
        """Rewrite the held record `record_id` (its unresolved order ended later), report what
        the cycle realised (`settlement`: key, symbols, P&L in USD, time; counted once by key)
        and commit `state` as the strategy's record state, in one commit, `announce` kept in it
        and published after it. Return whether the settlement was new."""
        ...

    def record_note(self, note: Mapping[str, Any]) -> None:
        """Commit `note` as this strategy's newest note at once (no row): what changed between
        records that a kill must not lose; a start hands it to `restore` as `record_note`."""

    def publish(self, event: Event) -> None: ...


@runtime_checkable
class ExecutionContext(StrategyContext, Protocol):
    """A strategy context that also lends execution gateways (a trading node's does)."""

    def execution_gateway(self, strategy_id: str, venue: str) -> ExecutionGateway: ...


async def within_band(
    gateway: ExecutionGateway, symbol: str, side: Side, price: Decimal
) -> Decimal:
    """Return an unwind's `price` (its loss bound, or a price nearer the market), or the edge of
    risk.price_band_pct when the bound lies beyond it: the risk engine refuses a sell below the
    band's lowest price (a buy above its highest), while at the edge the order passes, may fill,
    and still loses no more than the bound allows."""
    edge = await gateway.band_edge(symbol, side)
    if edge is None:
        return price
    return max(price, edge) if side is Side.SELL else min(price, edge)


def refusal_status(result: SubmitOutcome) -> str:
    """A leg's status when its order was not placed: "denied" by risk, else "rejected"."""
    return "denied" if result.status == "denied" else "rejected"


async def wait_or_cancel(
    gateway: ExecutionGateway, client_order_id: str, timeout_s: float
) -> Order | None:
    """Wait up to `timeout_s` for an order to end; one still open then (an IOC should close at
    once) is cancelled and waited for again. Return its last known state (None: not seen)."""
    final = await gateway.wait_terminal(client_order_id, timeout_s)
    if final is not None and not final.status.is_terminal:
        await gateway.cancel(client_order_id)
        final = await gateway.wait_terminal(client_order_id, timeout_s)
    return final
