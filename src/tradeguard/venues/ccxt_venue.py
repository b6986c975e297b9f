"""A venue on any CCXT exchange: REST through `ccxt.async_support`, streams through `ccxt.pro`.

```python
venue = CcxtVenue("binance", lambda: ccxt.pro.binance({"apiKey": ..., "secret": ...}), Clock())
venue.set_listener(order_manager)
await venue.connect()            # spot markets only, user streams, withdrawal-permission check
report = await venue.submit(order)
```

Errors come in two families: DefinitiveVenueError (the exchange said no: funds, invalid order,
credentials) and AmbiguousVenueError (timeout, network, 5xx, rate limit: the outcome is unknown and
the caller queries by client order id). A 429/418 pauses every request of this venue for the
`Retry-After` the exchange sent; only then is the request tried again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

import ccxt

from tradeguard.clock import Clock
from tradeguard.model.balance import Balance
from tradeguard.model.enums import LiquiditySide, OrderStatus, OrderType, Side
from tradeguard.model.errors import AmbiguousVenueError, ConfigError, DefinitiveVenueError
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Quote
from tradeguard.model.money import ZERO, dec
from tradeguard.model.order import Order
from tradeguard.model.reports import OrderReport
from tradeguard.secrets.permissions import check_withdrawal_permission
from tradeguard.secrets.redact import redact
from tradeguard.venues.base import Venue
from tradeguard.venues.ccxt_ratelimit import RateLimiter

log = logging.getLogger(__name__)

ClientFactory = Callable[[], Any]

# Options that keep a spot account to spot endpoints, and keep ccxt from re-sending requests or
# rewriting market orders into quote-amount orders.
SPOT_OPTIONS: dict[str, Any] = {
    "defaultType": "spot",
    "fetchMarkets": ["spot"],
    "fetchCurrencies": False,
    "fetchMargins": False,
    "maxRetriesOnFailure": 0,
    "quoteOrderQty": False,
    "createMarketBuyOrderRequiresPrice": False,
    "warnOnFetchOpenOrdersWithoutSymbol": False,
}

# Where an exchange takes our client order id on a new order, and on a query or cancel.
_CID_PARAM = {"binance": "newClientOrderId", "okx": "clOrdId", "bybit": "orderLinkId"}
_QUERY_PARAM = {"binance": "origClientOrderId", "okx": "clOrdId", "bybit": "orderLinkId"}

# Request weights (Binance spot figures; a fair guide elsewhere).
WEIGHTS: dict[str, float] = {
    "load_markets": 20,
    "submit": 1,
    "cancel": 1,
    "fetch_order": 4,
    "fetch_open_orders": 6,
    "fetch_open_orders_all": 80,
    "fetch_fills": 20,
    "fetch_balances": 20,
    "fetch_ticker": 2,
    "fetch_bids_asks": 4,
    "fetch_ohlcv": 2,
    "fetch_order_book": 5,
    "fetch_trades": 25,
    "api_restrictions": 1,
}

_DEFINITIVE: tuple[tuple[type[Exception], str], ...] = (
    (ccxt.InsufficientFunds, "INSUFFICIENT_FUNDS"),
    (ccxt.OrderNotFound, "ORDER_NOT_FOUND"),
    (ccxt.InvalidOrder, "INVALID_ORDER"),
    (ccxt.PermissionDenied, "PERMISSION_DENIED"),
    (ccxt.AuthenticationError, "AUTHENTICATION"),
    (ccxt.BadSymbol, "BAD_SYMBOL"),
    (ccxt.BadRequest, "BAD_REQUEST"),
)
_AMBIGUOUS: tuple[tuple[type[Exception], str], ...] = (
    (ccxt.RequestTimeout, "TIMEOUT"),
    (ccxt.OnMaintenance, "MAINTENANCE"),
    (ccxt.ExchangeNotAvailable, "EXCHANGE_NOT_AVAILABLE"),
    (ccxt.RateLimitExceeded, "RATE_LIMITED"),
    (ccxt.DDoSProtection, "RATE_LIMITED"),
    (ccxt.NetworkError, "NETWORK"),
)
_STATUS = {
    "open": OrderStatus.ACCEPTED,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "cancelled": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}


def map_ccxt_error(venue: str, op: str, exc: BaseException) -> Exception:
    """Turn a ccxt exception into DefinitiveVenueError or AmbiguousVenueError (text redacted)."""
    text = redact(f"{op} failed: {type(exc).__name__}: {exc}")
    for cls, code in _DEFINITIVE:
        if isinstance(exc, cls):
            return DefinitiveVenueError(venue, text, code)
    for cls, code in _AMBIGUOUS:
        if isinstance(exc, cls):
            return AmbiguousVenueError(venue, text, code)
    # Anything else (an unmapped exchange error, a parse failure) leaves the outcome unknown:
    # the safe reading is "ask the venue", never "it was refused".
    return AmbiguousVenueError(venue, text, "UNKNOWN")


def _num(value: Any, field: str) -> Decimal:
    return ZERO if value is None else dec(value, field)


def _opt(value: Any, field: str) -> Decimal | None:
    return None if value is None else dec(value, field)


class CcxtVenue(Venue):
    """An exchange account through ccxt; fills, order updates and balances arrive on streams."""

    def __init__(
        self,
        name: str,
        client_factory: ClientFactory,
        clock: Clock,
        *,
        symbols: list[str] | None = None,
        rate_limit_per_minute: int = 6000,
        limiter: RateLimiter | None = None,
        max_rate_limit_retries: int = 3,
        max_backoff_s: float = 30.0,
        ws_backoff_s: float = 0.05,
        ws_backoff_max_s: float = 5.0,
        stream_user_data: bool = True,
        quote_refresh_s: float = 15.0,
    ) -> None:
        super().__init__(name)
        if rate_limit_per_minute <= 0:
            raise ConfigError(
                f"venue {name}: rate_limit_per_minute={rate_limit_per_minute} must be > 0"
            )
        self.client = client_factory()
        options = self.client.options
        options.update(SPOT_OPTIONS)
        create = dict(options.get("createOrder") or {})
        create.update({"quoteOrderQty": False, "createMarketBuyOrderRequiresPrice": False})
        options["createOrder"] = create
        # Our limiter paces requests; ccxt's own throttle would only add a second queue.
        self.client.enableRateLimit = False
        self.clock = clock
        self.symbols = list(symbols or [])
        self.limiter = limiter or RateLimiter(rate_limit_per_minute / 6, rate_limit_per_minute / 60)
        self.max_rate_limit_retries = max_rate_limit_retries
        self.max_backoff_s = max_backoff_s
        self.ws_backoff_s = ws_backoff_s
        self.ws_backoff_max_s = ws_backoff_max_s
        self.stream_user_data = stream_user_data
        self.quote_refresh_s = quote_refresh_s
        self.exchange_id: str = self.client.id
        self._cid_param = _CID_PARAM.get(self.exchange_id, "clientOrderId")
        self._query_param = _QUERY_PARAM.get(self.exchange_id, "clientOrderId")
        self.instruments: dict[str, Instrument] = {}
        self.withdrawal_warning: str | None = None
        self.backoffs: list[tuple[str, float]] = []  # (operation, seconds paused) per 429/418
        self.reconnects = 0
        self._cid_by_venue_id: dict[str, str] = {}
        self._open: dict[str, tuple[str, int]] = {}  # cid -> (symbol, created ms), ours, open
        self._mids: dict[str, Decimal] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    # lifecycle -------------------------------------------------------------------------------
    async def connect(self) -> None:
        """Load spot markets, check the key's permissions, and start the user streams."""
        self._closing = False
        await self.load_instruments()
        await self._check_permissions()
        if self.stream_user_data and self.client.has.get("watchOrders"):
            self._tasks = [
                asyncio.create_task(
                    self._watch("orders", self.client.watch_orders, self._on_orders),
                    name=f"{self.name}:watch_orders",
                ),
                asyncio.create_task(
                    self._watch("trades", self.client.watch_my_trades, self._on_trades),
                    name=f"{self.name}:watch_my_trades",
                ),
                asyncio.create_task(
                    self._watch("balance", self.client.watch_balance, self._on_balance),
                    name=f"{self.name}:watch_balance",
                ),
            ]

    async def close(self) -> None:
        """Stop the streams and close the exchange client."""
        self._closing = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.client.close()

    async def _check_permissions(self) -> None:
        restrictions = getattr(self.client, "sapi_get_account_apirestrictions", None)
        if restrictions is None or not self.client.apiKey:
            return
        try:
            answer = await self._call("api_restrictions", restrictions)
        except (DefinitiveVenueError, AmbiguousVenueError) as exc:
            log.warning("venue %s: could not read the API key's permissions: %s", self.name, exc)
            return
        warning = check_withdrawal_permission(self.name, answer if isinstance(answer, dict) else {})
        if warning is not None:
            self.withdrawal_warning = warning
            log.warning(warning)

    # requests --------------------------------------------------------------------------------
    async def _call(self, op: str, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        weight = WEIGHTS.get(op, 1)
        for attempt in range(self.max_rate_limit_retries + 1):
            await self.limiter.acquire(weight)
            try:
                return await fn(*args)
            except (ccxt.DDoSProtection, ccxt.RateLimitExceeded) as exc:
                # A 429/418 is refused before execution, so a retry cannot double an order.
                wait = self._retry_after(exc, attempt)
                self.limiter.pause(wait)
                self.backoffs.append((op, wait))
                log.warning(
                    "venue %s: %s rate-limited (%s); pausing requests for %.2f s",
                    self.name,
                    op,
                    type(exc).__name__,
                    wait,
                )
                if attempt >= self.max_rate_limit_retries or wait > self.max_backoff_s:
                    raise map_ccxt_error(self.name, op, exc) from None
            except ccxt.BaseError as exc:
                raise map_ccxt_error(self.name, op, exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_after(self, exc: BaseException, attempt: int) -> float:
        headers = getattr(self.client, "last_response_headers", None) or {}
        for key, value in headers.items():
            if str(key).lower() == "retry-after":
                try:
                    return max(float(value), 0.0)
                except ValueError:
                    break
        return min(self.max_backoff_s, 0.5 * (2**attempt))

    # markets ---------------------------------------------------------------------------------
    async def load_instruments(self) -> dict[str, Instrument]:
        """Load the exchange's spot markets and map precision, limits and fees to Instruments."""
        markets = await self._call("load_markets", self.client.load_markets)
        out: dict[str, Instrument] = {}
        for symbol, m in markets.items():
            if not m.get("spot", True) or (self.symbols and symbol not in self.symbols):
                continue
            inst = self._instrument(m)
            if inst is not None:
                out[symbol] = inst
        self.instruments = out
        return out

    def _instrument(self, m: Mapping[str, Any]) -> Instrument | None:
        precision = m.get("precision") or {}
        limits = m.get("limits") or {}
        tick = self._step(precision.get("price"))
        step = self._step(precision.get("amount"))
        if tick is None or step is None:
            return None
        amount = limits.get("amount") or {}
        cost = limits.get("cost") or {}
        return Instrument(
            venue=self.name,
            symbol=m["symbol"],
            base=m["base"],
            quote=m["quote"],
            price_tick=tick,
            amount_step=step,
            min_amount=_num(amount.get("min"), "limits.amount.min"),
            min_notional=_num(cost.get("min"), "limits.cost.min"),
            maker_fee=_num(m.get("maker", "0.001"), "maker"),
            taker_fee=_num(m.get("taker", "0.001"), "taker"),
            max_amount=_num(amount.get("max"), "limits.amount.max"),
        )

    def _step(self, value: Any) -> Decimal | None:
        if value is None:
            return None
        # ccxt 4 gives tick sizes (TICK_SIZE); older exchanges give decimal places.
        if self.client.precisionMode == ccxt.TICK_SIZE:
            return dec(value, "precision")
        return Decimal(1).scaleb(-int(value))

    # orders ----------------------------------------------------------------------------------
    async def submit(self, order: Order) -> OrderReport:
        """Send `order` with our client order id; market orders go out without a price."""
        inst = self.instruments.get(order.symbol)
        if inst is None:
            raise DefinitiveVenueError(
                self.name,
                f"no market {order.symbol} on {self.exchange_id}; known: "
                f"{sorted(self.instruments)[:10]} (check the symbol or venue.symbols)",
                "UNKNOWN_SYMBOL",
            )
        await self._check_rules(order, inst)
        params: dict[str, Any] = {self._cid_param: order.client_order_id}
        price: float | None = None
        if order.type is OrderType.LIMIT:
            assert order.price is not None
            price = float(order.price)
            params["timeInForce"] = order.time_in_force.value
        self._open[order.client_order_id] = (order.symbol, order.created_ts)
        try:
            raw = await self._call(
                "submit",
                self.client.create_order,
                order.symbol,
                order.type.value,
                order.side.value,
                float(order.amount),
                price,
                params,
            )
        except DefinitiveVenueError:
            self._open.pop(order.client_order_id, None)
            raise
        except Exception as exc:
            if isinstance(exc, AmbiguousVenueError):
                raise
            raise map_ccxt_error(self.name, "submit", exc) from None
        report = self._report(raw, order.client_order_id)
        for trade in raw.get("trades") or ():
            # Trades inside an order answer may omit the side and symbol: they are the order's.
            trade = {"symbol": order.symbol, **trade, "side": trade.get("side") or order.side.value}
            fill = self._fill(trade, order.client_order_id)
            if fill is not None and self._listener is not None:
                self._listener.on_fill(fill)
        return report

    async def _check_rules(self, order: Order, inst: Instrument) -> None:
        violation = inst.violation(order.amount, order.price if order.price else None)
        if violation is None and order.type is OrderType.MARKET and inst.min_notional > 0:
            # ccxt does not check min notional; a market order needs a reference price for it.
            ref = order.price_bound or self._mids.get(order.symbol)
            if ref is None:
                ticker = await self._call("fetch_ticker", self.client.fetch_ticker, order.symbol)
                ref = _opt(ticker.get("last") or ticker.get("bid"), "ticker.last")
            if ref is not None and order.amount * ref < inst.min_notional:
                raise DefinitiveVenueError(
                    self.name,
                    f"order refused before sending: notional ~{order.amount * ref} {inst.quote} "
                    f"(amount {order.amount} at ~{ref}) is below the exchange minimum "
                    f"{inst.min_notional} for {order.symbol}; raise the amount",
                    "MIN_NOTIONAL",
                )
        if violation is not None:
            raise DefinitiveVenueError(
                self.name,
                f"order refused before sending: {violation.message}",
                violation.code,
            )

    async def cancel(self, order: Order) -> OrderReport:
        """Cancel an open order by its client order id."""
        params = {self._query_param: order.client_order_id}
        raw = await self._call(
            "cancel", self.client.cancel_order, order.venue_order_id or None, order.symbol, params
        )
        return self._report(raw, order.client_order_id)

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderReport | None:
        """Look an order up by client order id; None when the exchange does not know it."""
        params = {self._query_param: client_order_id}
        try:
            raw = await self._call("fetch_order", self.client.fetch_order, None, symbol, params)
        except DefinitiveVenueError as exc:
            if exc.code in ("ORDER_NOT_FOUND", "INVALID_ORDER"):
                return None
            raise
        return self._report(raw, client_order_id)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        """Every open order on the account (all symbols when `symbol` is None)."""
        op = "fetch_open_orders" if symbol else "fetch_open_orders_all"
        rows = await self._call(op, self.client.fetch_open_orders, symbol)
        return [self._report(r) for r in rows]

    async def fetch_fills(self, symbol: str, since_ts: int = 0) -> list[Fill]:
        """Executions on `symbol` at or after `since_ts` (epoch ms)."""
        rows = await self._call(
            "fetch_fills", self.client.fetch_my_trades, symbol, since_ts or None
        )
        out: list[Fill] = []
        for t in rows:
            cid = await self._cid_for(t)
            fill = self._fill(t, cid)
            if fill is not None:
                out.append(fill)
        return out

    async def fetch_order_fills(
        self, client_order_id: str, venue_order_id: str, symbol: str
    ) -> list[Fill]:
        """Every execution of one order, from the venue's trade history for its order id."""
        if not venue_order_id or not self.client.has.get("fetchOrderTrades"):
            return []
        rows = await self._call(
            "fetch_order_fills", self.client.fetch_order_trades, venue_order_id, symbol
        )
        out: list[Fill] = []
        for t in rows:
            fill = self._fill({"symbol": symbol, **t}, client_order_id)
            if fill is not None:
                out.append(fill)
        return out

    async def _cid_for(self, trade: Mapping[str, Any]) -> str:
        vid = str(trade.get("order") or "")
        cid = self._cid_by_venue_id.get(vid)
        if cid is None and vid:
            # REST trades carry only the exchange's order id: ask once, then remember.
            raw = await self._call(
                "fetch_order", self.client.fetch_order, vid, trade.get("symbol"), {}
            )
            cid = str(raw.get("clientOrderId") or "")
            self._cid_by_venue_id[vid] = cid
        return cid or ""

    async def fetch_balances(self) -> list[Balance]:
        """Every non-zero balance on the account."""
        raw = await self._call("fetch_balances", self.client.fetch_balance)
        return self._balances(raw)

    # streams ---------------------------------------------------------------------------------
    async def _watch(
        self, what: str, factory: Callable[[], Awaitable[Any]], handle: Callable[[Any], None]
    ) -> None:
        failures = 0
        while not self._closing:
            try:
                items = await factory()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                if failures == 1:
                    self.reconnects += 1
                delay = min(self.ws_backoff_max_s, self.ws_backoff_s * 2 ** (failures - 1))
                log.warning(
                    "venue %s: %s stream failed (%s); resubscribing in %.2f s",
                    self.name,
                    what,
                    redact(f"{type(exc).__name__}: {exc}"),
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            if failures:
                failures = 0
                await self._catch_up()
            try:
                handle(items)
            except Exception:
                log.exception("venue %s: handling a %s update failed", self.name, what)

    async def _catch_up(self) -> None:
        """After a reconnect, ask REST for what the stream may have missed."""
        if self._listener is None:
            return
        try:
            self._listener.on_balances(self.name, await self.fetch_balances())
            for cid, (symbol, created) in list(self._open.items()):
                report = await self.fetch_order(cid, symbol)
                if report is None:
                    continue
                if report.filled > 0:
                    for fill in await self.fetch_fills(symbol, max(created - 60_000, 0)):
                        if fill.client_order_id == cid:
                            self._listener.on_fill(fill)
                self._listener.on_order_report(report)
                if report.status.is_terminal:
                    self._open.pop(cid, None)
        except (DefinitiveVenueError, AmbiguousVenueError) as exc:
            log.warning("venue %s: catch-up after reconnect failed: %s", self.name, exc)

    def _on_orders(self, orders: Any) -> None:
        for raw in orders:
            report = self._report(raw)
            if self._listener is not None and report.client_order_id:
                self._listener.on_order_report(report)

    def _on_trades(self, trades: Any) -> None:
        for raw in trades:
            info = raw.get("info") or {}
            cid = self._cid_by_venue_id.get(str(raw.get("order") or ""), "")
            if not cid and isinstance(info, Mapping):
                cid = str(info.get("c") or info.get("clientOrderId") or "")
            fill = self._fill(raw, cid)
            if fill is not None and self._listener is not None:
                self._listener.on_fill(fill)

    def _on_balance(self, raw: Any) -> None:
        if self._listener is not None:
            self._listener.on_balances(self.name, self._balances(raw, keep_zero=True))

    async def stream_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        """Best bid/ask updates for `symbols`, resubscribing after disconnects.

        A REST snapshot comes first, again after each stream failure, and every
        `quote_refresh_s` (0 = never): a stream only sends changes, so a quiet market would
        otherwise stay unknown until its book moves, and then look stale to the risk check. The
        stream is subscribed before the snapshot is asked for, so no change falls between them.
        """
        loop = asyncio.get_running_loop()
        next_refresh = loop.time() + self.quote_refresh_s
        failures = 0
        bids_asks = bool(self.client.has.get("watchBidsAsks"))
        snapshot = bool(self.client.has.get("fetchBidsAsks"))
        delivered: dict[str, Any] = {}
        watch: asyncio.Future[Any] | None = None
        try:
            while not self._closing:
                try:
                    if bids_asks and watch is None:
                        watch = asyncio.ensure_future(self.client.watch_bids_asks(symbols))
                        await asyncio.sleep(0)  # its first step registers what it waits for
                    if snapshot:
                        tickers = await self._call(
                            "fetch_bids_asks", self.client.fetch_bids_asks, symbols
                        )
                        snapshot = False
                        next_refresh = loop.time() + self.quote_refresh_s
                    elif watch is not None:
                        # ccxt hands a watcher only the message that woke it; messages handled
                        # while no watcher was registered are only in its cache: take those first.
                        tickers = self._undelivered(symbols, delivered)
                        if not tickers:
                            wait = next_refresh - loop.time() if self.quote_refresh_s else None
                            done, _ = await asyncio.wait({watch}, timeout=wait)
                            if not done:
                                snapshot = bool(self.client.has.get("fetchBidsAsks"))
                                next_refresh = loop.time() + self.quote_refresh_s
                                continue
                            got, watch = watch.result(), None
                            tickers = {s: t for s, t in got.items() if t is not delivered.get(s)}
                        delivered.update(tickers)
                    else:
                        t = await self.client.watch_ticker(symbols[0])
                        tickers = {t["symbol"]: t}
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures += 1
                    if watch is not None and watch.done():
                        watch = None
                        # What the old subscription cached may be older than the next snapshot.
                        delivered.update(self._undelivered(symbols, delivered))
                    snapshot = bool(self.client.has.get("fetchBidsAsks"))
                    delay = min(self.ws_backoff_max_s, self.ws_backoff_s * 2 ** (failures - 1))
                    log.warning("venue %s: quote stream failed (%s)", self.name, type(exc).__name__)
                    await asyncio.sleep(delay)
                    continue
                failures = 0
                for sym, t in tickers.items():
                    if t.get("bid") is None or t.get("ask") is None:
                        continue
                    quote = Quote(
                        symbol=sym,
                        ts=int(t.get("timestamp") or self.clock.now_ms()),
                        bid=dec(t["bid"], "bid"),
                        bid_size=_num(t.get("bidVolume"), "bidVolume"),
                        ask=dec(t["ask"], "ask"),
                        ask_size=_num(t.get("askVolume"), "askVolume"),
                    )
                    self._mids[sym] = quote.mid
                    yield quote
        finally:
            if watch is not None:
                watch.cancel()

    def market_data(self) -> Any:
        """Return this venue's public market data for the live hub (klines, books, trades)."""
        from tradeguard.venues.ccxt_market import CcxtMarketData

        return CcxtMarketData(self)

    def _undelivered(self, symbols: list[str], delivered: dict[str, Any]) -> dict[str, Any]:
        """Return the cached best bid/ask messages of `symbols` not handed on yet."""
        cache = getattr(self.client, "bidsasks", None) or {}
        return {s: cache[s] for s in symbols if s in cache and cache[s] is not delivered.get(s)}

    # mapping ---------------------------------------------------------------------------------
    def _report(self, raw: Mapping[str, Any], cid: str = "") -> OrderReport:
        vid = str(raw.get("id") or "")
        # The id we sent wins: a cancel answer carries the cancel request's own client id.
        cid = self._cid_by_venue_id.get(vid) or cid or str(raw.get("clientOrderId") or "")
        if vid and cid:
            self._cid_by_venue_id[vid] = cid
        filled = _num(raw.get("filled"), "filled")
        status = _STATUS.get(str(raw.get("status") or "open"), OrderStatus.ACCEPTED)
        if status is OrderStatus.ACCEPTED and filled > 0:
            status = OrderStatus.PARTIALLY_FILLED
        if status.is_terminal:
            self._open.pop(cid, None)
        return OrderReport(
            venue=self.name,
            symbol=str(raw.get("symbol") or ""),
            client_order_id=cid,
            venue_order_id=vid,
            status=status,
            filled=filled,
            avg_price=_num(raw.get("average"), "average"),
            amount=_num(raw.get("amount"), "amount"),
            reason=str(raw.get("status") or "") if status is OrderStatus.REJECTED else "",
            ts=int(raw.get("lastUpdateTimestamp") or raw.get("timestamp") or 0),
            side=str(raw.get("side") or ""),
            price=_opt(raw.get("price"), "price"),
        )

    def _fill(self, raw: Mapping[str, Any], cid: str) -> Fill | None:
        trade_id = raw.get("id")
        if trade_id is None or not cid or not raw.get("side") or not raw.get("symbol"):
            return None
        fee = raw.get("fee") or {}
        liquidity = (
            LiquiditySide.MAKER if raw.get("takerOrMaker") == "maker" else LiquiditySide.TAKER
        )
        return Fill(
            venue=self.name,
            symbol=str(raw["symbol"]),
            client_order_id=cid,
            venue_order_id=str(raw.get("order") or ""),
            trade_id=str(trade_id),
            side=Side(str(raw["side"])),
            price=dec(raw["price"], "price"),
            amount=dec(raw["amount"], "amount"),
            fee=_num(fee.get("cost"), "fee.cost"),
            fee_asset=str(fee.get("currency") or ""),
            liquidity=liquidity,
            ts=int(raw.get("timestamp") or self.clock.now_ms()),
        )

    def _balances(self, raw: Mapping[str, Any], keep_zero: bool = False) -> list[Balance]:
        free = raw.get("free") or {}
        used = raw.get("used") or {}
        out: list[Balance] = []
        for asset in sorted(set(free) | set(used)):
            b = Balance(
                self.name, asset, _num(free.get(asset), "free"), _num(used.get(asset), "used")
            )
            if keep_zero or b.total != 0:
                out.append(b)
        return out


def local_urls(rest_url: str, ws_url: str | None = None) -> dict[str, Any]:
    """The `urls['api']` of a Binance-compatible exchange on `rest_url` (our local sandbox)."""
    base = rest_url.rstrip("/")
    for suffix in ("/api/v3", "/api"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    ws_base = (ws_url or base.replace("http", "ws", 1)).rstrip("/")
    for suffix in ("/ws",):
        if ws_base.endswith(suffix):
            ws_base = ws_base[: -len(suffix)]
    unsupported = (
        *("sapiV2", "sapiV3", "sapiV4", "dapiPublic", "dapiPrivate", "dapiPrivateV2"),
        *("dapiData", "eapiPublic", "eapiPrivate", "fapiPublic", "fapiPublicV2"),
        *("fapiPublicV3", "fapiPrivate", "fapiPrivateV2", "fapiPrivateV3", "fapiData"),
        *("papi", "papiV2"),
    )
    # Futures, options and margin bases point at a path that answers 404 on the local host, so a
    # stray call fails loudly instead of reaching a real exchange.
    urls: dict[str, Any] = {key: f"{base}/unsupported/{key}" for key in unsupported}
    urls.update(
        {
            "public": f"{base}/api/v3",
            "private": f"{base}/api/v3",
            "v3": f"{base}/api/v3",
            "v1": f"{base}/api/v1",
            "sapi": f"{base}/sapi/v1",
            "ws": {
                "spot": f"{ws_base}/ws",
                "margin": f"{ws_base}/ws",
                "linear": f"{ws_base}/ws/unsupported-linear",
                "inverse": f"{ws_base}/ws/unsupported-inverse",
                "papi": f"{ws_base}/ws/unsupported-papi",
                "ws-api": {
                    "spot": f"{ws_base}/ws-api/v3",
                    "linear": f"{ws_base}/ws-api/v3/unsupported-linear",
                    "inverse": f"{ws_base}/ws-api/v3/unsupported-inverse",
                },
            },
        }
    )
    return urls


def ccxt_client_factory(
    exchange: str,
    credentials: Mapping[str, str] | None = None,
    *,
    sandbox: bool = True,
    rest_url: str | None = None,
    ws_url: str | None = None,
    timeout_ms: int = 10_000,
) -> ClientFactory:
    """Return a factory of `ccxt.pro.<exchange>` clients: local sandbox, testnet, or live."""
    import ccxt.pro as ccxtpro

    cls = getattr(ccxtpro, exchange, None)
    if cls is None:
        raise ConfigError(
            f"venue exchange={exchange!r} is not a ccxt.pro exchange; pick one of ccxt.pro's "
            "exchange ids (e.g. 'binance')"
        )
    if rest_url is not None and exchange != "binance":
        raise ConfigError(
            f"venue rest_url={rest_url!r} needs exchange='binance' (the local sandbox speaks "
            f"Binance's API), got exchange={exchange!r}"
        )
    creds = dict(credentials or {})

    def factory() -> Any:
        client = cls(
            {
                **creds,
                "timeout": timeout_ms,
                "enableRateLimit": False,
                "options": dict(SPOT_OPTIONS),
            }
        )
        if rest_url is not None:
            client.urls["api"] = local_urls(rest_url, ws_url)
        elif sandbox:
            client.set_sandbox_mode(True)  # the exchange's testnet
        return client

    return factory


def build_ccxt_venue(vc: Any, clock: Clock, *, credentials: Any = None) -> CcxtVenue:
    """Build the venue for a `kind = "ccxt"` VenueConfig with the credentials handed in."""
    fields = credentials.ccxt_config() if credentials is not None else {}
    factory = ccxt_client_factory(
        vc.exchange, fields, sandbox=vc.sandbox, rest_url=vc.rest_url, ws_url=vc.ws_url
    )
    return CcxtVenue(vc.name, factory, clock, symbols=list(vc.symbols) or None)
