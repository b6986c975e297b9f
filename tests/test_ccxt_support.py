"""A real order path on the sandbox (ccxt venue, order manager, risk, SQLite), and limiter tests.

`build_stack` wires the real `ccxt.pro` client to a `SandboxExchange` on 127.0.0.1 and puts the
real `RiskEngine`, `OrderManager`, `Portfolio` and `Storage` (a tmp SQLite file) behind it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.bus import EventBus
from tradeguard.clock import Clock
from tradeguard.execution.order_manager import OrderManager
from tradeguard.marketdata.state import MarketState
from tradeguard.model import Event, OrderIntent, OrderType, Quote, Side
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.risk.config import RiskConfig
from tradeguard.risk.engine import RiskEngine
from tradeguard.risk.store import MemoryStateStore
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, eventually
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from tradeguard.venues.ccxt_ratelimit import RateLimiter
from tradeguard.venues.ccxt_venue import CcxtVenue, ccxt_client_factory

VENUE = "sbx"
SYMBOL = "BTC/USDT"
# A pause of the whole test process the rig's client must wait out: the sandbox answers from
# the same process, so a full garbage collection of the suite's heap or the process left
# unscheduled on a loaded 2-core machine delays the answer by as much (up to about 4 s seen).
RIG_PAUSE_S = 3.0
# The rig's client timeout: ccxt's own default, well past such a pause (2 s was not).
RIG_TIMEOUT_MS = 10_000


@contextmanager
def held_answer_timeout(client: Any, ms: int) -> Iterator[None]:
    """`client`'s timeout cut to `ms` for the calls whose answer a test holds past it on
    purpose; RIG_TIMEOUT_MS again after, for every other call (setup included)."""
    client.timeout = ms
    try:
        yield
    finally:
        client.timeout = RIG_TIMEOUT_MS


# Real limits, set wide enough that the tests' orders pass and the venue's own checks show.
PERMISSIVE = {
    "max_order_notional_usd": Decimal(10_000),
    "max_order_notional_pct": Decimal(50),
    "min_order_notional_usd": Decimal(0),
    "price_band_pct": Decimal(10),
    "market_slippage_cap_pct": Decimal(5),
    "max_portfolio_heat_pct": Decimal(60),
    "max_open_positions": 100,
    "min_account_balance_usd": Decimal(0),
    "stable_reserve_pct": Decimal(0),
    "max_trades_per_day": 10_000,
    "max_orders_per_s": Decimal(50),
    "cooldown_after_loss_s": 0,
    "max_consecutive_losses": 1000,
    "venue_error_threshold": 1000,
}


@dataclass
class Stack:
    ex: SandboxExchange
    venue: CcxtVenue
    om: OrderManager
    storage: Storage
    db: Database
    portfolio: Portfolio
    market: MarketState
    bus: EventBus
    risk: RiskEngine
    clock: Clock
    events: list[Event] = field(default_factory=list)

    def quote(self, bid: str = "49999", ask: str = "50001") -> None:
        """Feed a fresh best bid/ask so the risk engine has a reference price."""
        self.market.on_quote(
            Quote(SYMBOL, self.clock.now_ms(), Decimal(bid), Decimal(1), Decimal(ask), Decimal(1))
        )
        self.portfolio.mark(SYMBOL, (Decimal(bid) + Decimal(ask)) / 2)

    async def submit(
        self,
        side: Side,
        amount: str,
        price: str | None = None,
        type_: OrderType | None = None,
    ) -> Any:
        self.quote()
        intent = OrderIntent(
            strategy_id="t",
            venue=VENUE,
            symbol=SYMBOL,
            side=side,
            amount=Decimal(amount),
            type=type_ or (OrderType.LIMIT if price is not None else OrderType.MARKET),
            price=Decimal(price) if price is not None else None,
        )
        return await self.om.submit(intent)

    def sandbox_orders(self, client_order_id: str) -> list[Any]:
        return [o for o in self.ex.engine.orders.values() if o.client_order_id == client_order_id]

    async def close(self) -> None:
        await self.venue.close()
        self.db.dispose()


def make_venue(
    ex: SandboxExchange,
    key: str = ALICE_KEY,
    secret: str = ALICE_SECRET,
    name: str = VENUE,
    **kwargs: Any,
) -> CcxtVenue:
    factory = ccxt_client_factory(
        "binance",
        {"apiKey": key, "secret": secret},
        rest_url=ex.rest_url,
        ws_url=ex.ws_url,
        timeout_ms=RIG_TIMEOUT_MS,
    )
    return CcxtVenue(name, factory, Clock(), **kwargs)


async def build_stack(
    ex: SandboxExchange,
    tmp_path: Path,
    *,
    key: str = ALICE_KEY,
    secret: str = ALICE_SECRET,
    risk: dict[str, Any] | None = None,
    venue: CcxtVenue | None = None,
    **venue_kwargs: Any,
) -> Stack:
    clock = Clock()
    venue = venue or make_venue(ex, key, secret, **venue_kwargs)
    db = Database(f"sqlite:///{tmp_path / 'tg.db'}")
    db.migrate()
    storage = Storage(db)
    portfolio = Portfolio("USDT")
    market = MarketState()
    bus = EventBus()
    engine = RiskEngine(
        RiskConfig(**{**PERMISSIVE, **(risk or {})}), clock, MemoryStateStore(), bus.publish
    )
    om = OrderManager(
        storage=storage,
        venues={VENUE: venue},
        risk=engine,
        portfolio=portfolio,
        market=market,
        bus=bus,
        clock=clock,
        resolve_delay_s=0.05,
    )
    stack = Stack(ex, venue, om, storage, db, portfolio, market, bus, engine, clock)
    bus.subscribe(stack.events.append)
    await venue.connect()
    for inst in venue.instruments.values():
        market.add_instrument(inst)
    portfolio.set_balances(VENUE, await venue.fetch_balances())
    stack.quote()
    if venue_kwargs.get("stream_user_data", True):
        await eventually(lambda: f"user:{ex.account_id(key)}" in ex.ws_subscriptions())
    return stack


async def raises(awaitable: Awaitable[Any], exc_type: type[BaseException]) -> BaseException:
    """Await and return the exception of `exc_type` it raised (fail when it raised none)."""
    try:
        await awaitable
    except exc_type as exc:
        return exc
    raise AssertionError(f"expected {exc_type.__name__}")


# -- the limiter, on a fake clock ------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_limiter_waits_for_refill_when_the_bucket_is_empty() -> None:
    t = FakeTime()
    limiter = RateLimiter(10, 5, monotonic=t.monotonic, sleep=t.sleep)
    await limiter.acquire(10)
    await limiter.acquire(5)
    assert t.sleeps == [1.0]  # 5 tokens at 5 per second


async def test_limiter_pause_holds_every_request_for_retry_after() -> None:
    t = FakeTime()
    limiter = RateLimiter(100, 100, monotonic=t.monotonic, sleep=t.sleep)
    limiter.pause(3.0)
    await limiter.acquire(1)
    assert t.now >= 3.0
    assert limiter.paused_for_s == 0.0
