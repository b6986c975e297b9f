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

A user stream back after a drop first catches up by REST (balances, each open order's state and
fills). Catch-ups run one at a time: those asked for together share one round, and one asked for
while a round runs gets one round after it (`Coalesced`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

import ccxt

from tradeguard.clock import Clock
from tradeguard.model.balance import Balance
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Quote
from tradeguard.model.money import dec
from tradeguard.model.order import Order
from tradeguard.model.reports import OrderReport
from tradeguard.secrets.redact import redact
from tradeguard.venues.ccxt_clients import (
    SPOT_OPTIONS,
    ClientFactory,
    ccxt_client_factory,
    local_urls,
)
from tradeguard.venues.ccxt_connection import (
    FILL_PAGE_FROM_ID,
    PER_SYMBOL_OPEN_ORDERS,
    WEIGHTS,
    map_ccxt_error,
    num_or_none,
    num_or_zero,
)
from tradeguard.venues.ccxt_quotes import CcxtQuoteStream
from tradeguard.venues.ccxt_stops import submit_oco, trigger_args
from tradeguard.venues.coalesce import Coalesced
from tradeguard.venues.trade_rows import rows_left_before, trade_row_key
from tradeguard.venues.user_stream import UserStreamState

__all__ = [
    "SPOT_OPTIONS",
    "WEIGHTS",
    "CcxtVenue",
    "ClientFactory",
    "build_ccxt_venue",
    "ccxt_client_factory",
    "local_urls",
    "map_ccxt_error",
]

log = logging.getLogger(__name__)
# What ccxt names the futures of watch_orders, watch_my_trades and watch_balance by.
_USER_HASHES = ("orders", "myTrades", "balance")


class CcxtVenue(CcxtQuoteStream):
    """An exchange account through ccxt; fills, order updates and balances arrive on streams."""

    def __init__(self, name: str, client_factory: ClientFactory, *args: Any, **kwargs: Any) -> None:
        super().__init__(name, client_factory, *args, **kwargs)
        # Each user stream back after a drop asks for a catch-up, often at once: one runs at a
        # time, and those asked for meanwhile share the one run after it.
        self._catch_ups = Coalesced(self._catch_up_once)

    # lifecycle -------------------------------------------------------------------------------
    async def connect(self) -> None:
        """Load spot markets, check the key's permissions, and start the user streams."""
        self._closing = False
        await self.load_instruments()
        await self._check_permissions()
        user = self.user_client
        if self.stream_user_data and user.has.get("watchOrders"):
            self.user_stream = UserStreamState()
            self._failing = set()
            self._tasks = [
                asyncio.create_task(
                    self._watch("orders", user.watch_orders, self._on_orders),
                    name=f"{self.name}:watch_orders",
                ),
                asyncio.create_task(
                    self._watch("trades", user.watch_my_trades, self._on_trades),
                    name=f"{self.name}:watch_my_trades",
                ),
                asyncio.create_task(
                    self._watch("balance", user.watch_balance, self._on_balance),
                    name=f"{self.name}:watch_balance",
                ),
                asyncio.create_task(self._watch_socket(), name=f"{self.name}:user_socket"),
            ]

    async def close(self) -> None:
        """Stop the streams and close the exchange client."""
        self._closing = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._catch_ups.close()
        await self.client.close()

    def _reopen(self) -> None:
        # Started again after a close (a failed start-up closes what it opened, and the API or
        # a harness may start the node again in this process): ccxt refuses every request of a
        # client closed once, until it is opened again.
        # Started by another event loop (a second `asyncio.run`), ccxt would build the new
        # session, and throttle, on the first one's, closed by then.
        loop = asyncio.get_running_loop()
        for client in (self.client, self.user_client):
            if getattr(client, "closed_by_user", False):
                if getattr(client, "asyncio_loop", None) not in (None, loop):
                    client.asyncio_loop = None
                    client.init_throttler()
                client.open()

    # markets ---------------------------------------------------------------------------------
    async def load_instruments(self) -> dict[str, Instrument]:
        """Load the exchange's spot markets and map precision, limits and fees to Instruments."""
        self._reopen()
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
            min_amount=num_or_zero(amount.get("min"), "limits.amount.min"),
            min_notional=num_or_zero(cost.get("min"), "limits.cost.min"),
            maker_fee=num_or_zero(m.get("maker", "0.001"), "maker"),
            taker_fee=num_or_zero(m.get("taker", "0.001"), "taker"),
            max_amount=num_or_zero(amount.get("max"), "limits.amount.max"),
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
        """Send `order` with our client order id. A market order goes out as a limit order at
        the risk engine's protective bound, immediate-or-cancel (`market_orders = "protected"`),
        or as the exchange's own market order (`"market"`)."""
        inst = self.instruments.get(order.symbol)
        if inst is None:
            raise DefinitiveVenueError(
                self.name,
                f"no market {order.symbol} on {self.exchange_id}; known: "
                f"{sorted(self.instruments)[:10]} (check the symbol or venue.symbols)",
                "UNKNOWN_SYMBOL",
            )
        await self._check_rules(order, inst)
        params: dict[str, Any] = {self._cid_param: self._wire_cid(order.client_order_id)}
        price: float | None = None
        wire_type = order.type.value
        if order.type is OrderType.LIMIT:
            assert order.price is not None
            price = float(order.price)
            params["timeInForce"] = order.time_in_force.value
        elif order.type.is_trigger:
            wire_type, price, extra = trigger_args(order, self.exchange_id)
            params.update(extra)
        else:
            wire_type, price = self._market_args(order, inst)
            if price is not None:
                params["timeInForce"] = "IOC"
        raw = await self._send(
            (order,),
            self.client.create_order,
            order.symbol,
            wire_type,
            order.side.value,
            float(order.amount),
            price,
            params,
        )
        report = self._report(raw, order.client_order_id)
        self._apply_trades(raw, order)
        return report

    async def _send(self, orders: tuple[Order, ...], fn: Any, *args: Any) -> Any:
        """Send one order request (one order, or an OCO pair): the orders count as open on the
        venue from now on, and stop counting if the venue refuses them outright. Errors come
        out as our venue errors (refused or ambiguous)."""
        for order in orders:
            self._open[order.client_order_id] = (order.symbol, order.created_ts)
        try:
            return await self._call("submit", fn, *args)
        except DefinitiveVenueError:
            for order in orders:
                self._open.pop(order.client_order_id, None)
            raise
        except AmbiguousVenueError:
            raise
        except Exception as exc:
            raise map_ccxt_error(self.name, "submit", exc) from None

    def _apply_trades(self, raw: Mapping[str, Any], order: Order) -> None:
        """Book the trades an order answer carries (an order that filled as it arrived)."""
        for trade in raw.get("trades") or ():
            # Trades inside an order answer may omit the side and symbol: they are the order's.
            trade = {"symbol": order.symbol, **trade, "side": trade.get("side") or order.side.value}
            fill = self._fill(trade, order.client_order_id)
            if fill is not None and self._listener is not None:
                self._listener.on_fill(fill)

    def _market_args(self, order: Order, inst: Instrument) -> tuple[str, float | None]:
        """The wire (type, price) of a market order: a limit at its bound, or a plain market."""
        if self.market_orders == "protected":
            if order.price_bound is None:
                raise DefinitiveVenueError(
                    self.name,
                    f"market order {order.client_order_id} has no protective price bound (the "
                    "risk engine sets one from the mid); refused rather than sent unprotected",
                    "NO_REFERENCE_PRICE",
                )
            return "limit", float(order.price_bound)
        if self.quote_sized_market_buy and order.side is Side.BUY:
            raise DefinitiveVenueError(
                self.name,
                f"{self.exchange_id} sizes a market buy in {inst.quote}, not in {inst.base}: "
                f"buy {order.amount} {inst.base} would be sent as a quote amount; set "
                f'market_orders = "protected" on venue {self.name} (a limit order at the '
                "slippage bound, immediate-or-cancel)",
                "MARKET_BUY_QUOTE_SIZED",
            )
        return "market", None

    async def submit_oco(self, take_profit: Order, stop: Order) -> list[OrderReport]:
        """Send a take-profit and a stop as one OCO list (Binance `orderList/oco`)."""
        return await submit_oco(self, take_profit, stop)

    async def _check_rules(self, order: Order, inst: Instrument) -> None:
        violation = inst.violation(order.amount, order.price or None, order.trigger_price)
        if violation is None and order.type is OrderType.MARKET and inst.min_notional > 0:
            # ccxt does not check min notional; a market order needs a reference price for it.
            ref = order.price_bound or self._mids.get(order.symbol)
            if ref is None:
                ticker = await self._call("fetch_ticker", self.client.fetch_ticker, order.symbol)
                ref = num_or_none(ticker.get("last") or ticker.get("bid"), "ticker.last")
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

    def open_orders_reads(self, symbols: list[str]) -> list[str | None]:
        """Per-symbol lists while their summed weight stays under the account-wide list's
        (Binance: 6 each against 80, so up to 13 symbols), else the one account-wide list; an
        exchange whose listing is account-wide anyway (Kraken) gets that one call."""
        if self.exchange_id not in PER_SYMBOL_OPEN_ORDERS:
            return [None]
        each, whole = WEIGHTS["fetch_open_orders"], WEIGHTS["fetch_open_orders_all"]
        if not symbols or len(symbols) * each > whole:
            return [None]
        return list(symbols)

    async def fetch_fills(self, symbol: str, since_ts: int = 0) -> list[Fill]:
        """Executions on `symbol` at or after `since_ts` (epoch ms); with no `since_ts`, the
        most recent page of them."""
        rows = await self._trade_rows("fetch_fills", symbol, since_ts)
        out: list[Fill] = []
        for t in rows:
            cid = await self._cid_for(t)
            fill = self._fill(t, cid)
            if fill is not None:
                out.append(fill)
        return out

    async def _trade_rows(self, op: str, symbol: str, since_ts: int, order_id: str = "") -> list:
        """The account's trades on `symbol` from `since_ts` on (of one order with `order_id`),
        paged forward by trade id where the exchange allows it (a full page is followed by the
        next from the id after its last); one read elsewhere, or without either. The first page
        is read from `since_ts` (a `startTime` alone: the sandbox answers the oldest trades from
        it on, however far back, up to `limit`; Binance documents only that without `fromId` the
        most recent are answered, so a full first page is checked for rows left before it by
        reads up to its oldest time, `rows_left_before`: one read more when none were) or, for
        an order, from its first trade on."""
        page = FILL_PAGE_FROM_ID.get(self.exchange_id, 0)
        if not page or not (since_ts or order_id):
            if order_id:
                return list(await self._call(op, self.client.fetch_order_trades, order_id, symbol))
            return list(await self._call(op, self.client.fetch_my_trades, symbol, since_ts or None))
        fetch, base = self.client.fetch_my_trades, {"orderId": order_id} if order_id else {}
        # an order's trades from its first on (without an anchor Binance answers the latest)
        first = {**base, "fromId": "0"} if order_id else {}
        rows = list(await self._call(op, fetch, symbol, since_ts or None, page, first))
        if not order_id and len(rows) >= page:  # the oldest from `since_ts`, or the latest?

            async def up_to(end: int) -> list[Any]:
                return list(await self._call(op, fetch, symbol, None, page, {"endTime": end}))

            async def from_id(first: int) -> list[Any]:
                return list(await self._call(op, fetch, symbol, None, page, {"fromId": str(first)}))

            rows += await rows_left_before(up_to, from_id, since_ts, rows, page)
        # The next page starts at the last id read, not after it: a trade the account was on
        # both sides of is two rows of one id, which a page's end may split.
        seen = {trade_row_key(r) for r in rows}
        last, after = rows, -1
        while len(last) >= page:
            ids = [str(r.get("id") or "") for r in last]
            if not all(i.isascii() and i.isdigit() for i in ids) or max(map(int, ids)) <= after:
                raise AmbiguousVenueError(
                    self.name, f"trade history of {symbol}: page without ascending ids {ids[:3]}"
                )
            after = max(map(int, ids))
            params = {**base, "fromId": str(after)}
            last = list(await self._call(op, fetch, symbol, None, page, params))
            rows.extend(r for r in last if trade_row_key(r) not in seen)
            seen.update(trade_row_key(r) for r in last)
        return rows

    async def fetch_order_fills(
        self, client_order_id: str, venue_order_id: str, symbol: str
    ) -> list[Fill]:
        """Every execution of one order, from the venue's trade history for its order id."""
        if not venue_order_id or not self.client.has.get("fetchOrderTrades"):
            return []
        rows = await self._trade_rows("fetch_order_fills", symbol, 0, venue_order_id)
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
            except ccxt.NotSupported as exc:
                # The exchange has no such stream (Coinbase: no watchBalance, no watchMyTrades):
                # asking again cannot succeed, and it must not count the other streams as down.
                log.info("venue %s: no %s stream (%s); REST reads cover it", self.name, what, exc)
                return
            except Exception as exc:
                failures += 1
                self._failing.add(what)
                if self.user_stream is not None:
                    self.user_stream.set_connected(False)
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
                self._failing.discard(what)  # subscribing again: the socket tells from here
                continue
            if self.user_stream is not None:
                self.user_stream.on_message()
            if failures:
                failures = 0
                try:
                    await self._catch_up()
                except Exception as exc:  # the stream lives on: this message is handled still
                    log.warning(
                        "venue %s: catch-up after the %s stream came back failed: %s",
                        self.name,
                        what,
                        redact(f"{type(exc).__name__}: {exc}"),
                    )
            try:
                handle(items)
            except Exception:
                log.exception("venue %s: handling a %s update failed", self.name, what)

    async def _watch_socket(self, every_s: float = 0.25) -> None:
        """Keep `user_stream` true to the socket between messages (a quiet account sends none)."""
        closed_seen = 0
        while not self._closing:
            stream = self.user_stream
            if stream is not None:
                up = not self._failing and self._user_socket_open()
                # Twice in a row: between a message and the next watch call no future waits;
                # and "connecting" until the first connection or failure.
                closed_seen = 0 if up else closed_seen + 1
                if up or self._failing or (closed_seen >= 2 and stream.since_ms is not None):
                    stream.set_connected(up)
            await asyncio.sleep(every_s)

    def _user_socket_open(self) -> bool:
        """Tell whether an open ccxt websocket carries a pending user-data subscription."""
        for client in (getattr(self.user_client, "clients", None) or {}).values():
            waiting = " ".join(str(h) for h in getattr(client, "futures", {}))
            if not any(word in waiting for word in _USER_HASHES):
                continue
            connected = getattr(client, "connected", None)
            if connected is not None and connected.done() and not client.closed():
                return True
        return False

    async def _catch_up(self) -> bool:
        """After a reconnect, ask REST for what the stream may have missed; False if it failed.
        The outcome is that of a run started after this call: the run in flight, if any, is let
        finish, and every request made meanwhile shares the single run after it."""
        return await self._catch_ups()

    async def _catch_up_once(self) -> bool:
        """One catch-up: the balances, then each open order of ours, its state and fills."""
        if self._listener is None:
            return True
        try:
            self._listener.on_balances(self.name, await self.fetch_balances())
            for cid, (symbol, created) in list(self._open.items()):
                report = await self.fetch_order(cid, symbol)
                if report is None:
                    continue
                if report.filled > 0:
                    for fill in await self._open_order_fills(cid, symbol, report, created):
                        self._listener.on_fill(fill)
                self._listener.on_order_report(report)
                if report.status.is_terminal:
                    self._open.pop(cid, None)
        except (DefinitiveVenueError, AmbiguousVenueError) as exc:
            log.warning("venue %s: catch-up after reconnect failed: %s", self.name, exc)
            return False
        return True

    async def _open_order_fills(
        self, cid: str, symbol: str, report: OrderReport, created: int
    ) -> list[Fill]:
        """The fills of one of our open orders (open when the stream dropped) that a catch-up
        books: the order's own trades where the exchange reads them by order id, paged
        (Binance myTrades with orderId, weight 5; the symbol's history since the order was made
        cost 20 a read, and every page of the symbol's trades since); elsewhere its symbol's
        recent trades that are the order's."""
        if report.venue_order_id and self.exchange_id in FILL_PAGE_FROM_ID:
            return await self.fetch_order_fills(cid, report.venue_order_id, symbol)
        fills = await self.fetch_fills(symbol, max(created - 60_000, 0))
        return [f for f in fills if f.client_order_id == cid]

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

    def lists(self, symbol: str) -> bool:
        """Tell whether the exchange has the market `symbol` (loaded with the instruments)."""
        return symbol in (self.client.markets or {})

    async def fetch_reference_quote(self, symbol: str) -> Quote | None:
        """The best bid and ask of any market of the exchange, from its ticker."""
        from tradeguard.venues.ccxt_market import CcxtMarketData

        quote: Quote | None = await CcxtMarketData(self).fetch_quote(symbol)
        return quote

    def market_data(self) -> Any:
        """Return this venue's public market data for the live hub (klines, books, trades)."""
        from tradeguard.venues.ccxt_market import CcxtMarketData

        return CcxtMarketData(self)


def build_ccxt_venue(vc: Any, clock: Clock, *, credentials: Any = None) -> CcxtVenue:
    """Build the venue for a `kind = "ccxt"` VenueConfig with the credentials handed in."""
    fields = credentials.ccxt_config() if credentials is not None else {}
    factory = ccxt_client_factory(
        vc.exchange, fields, sandbox=vc.sandbox, rest_url=vc.rest_url, ws_url=vc.ws_url
    )
    if vc.exchange == "kraken":
        from tradeguard.venues.ccxt_kraken import KrakenCcxtVenue

        # Fills, orders and balances by the private stream, polled while it is down.
        return KrakenCcxtVenue(
            vc.name, factory, clock, symbols=list(vc.symbols) or None,
            market_orders=vc.market_orders,
        )  # fmt: skip
    return CcxtVenue(
        vc.name, factory, clock, symbols=list(vc.symbols) or None,
        market_orders=vc.market_orders,
    )  # fmt: skip
