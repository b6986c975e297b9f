"""Kraken through ccxt: our client order ids as Kraken takes them, and orders found by them.

Kraken keys an order by `cl_ord_id` (a UUID, or free text of at most 18 ASCII characters) or by
`userref` (an int32, which cannot hold our ids without collisions, so it is not used). Our ids
(`tg<random part>-<seq>`, 14-18 characters for the first 60 million orders after a start) go out
as they are; a longer one goes out as a UUID derived from it (uuid5), so the same id always maps
to the same `cl_ord_id`, after a restart too. ccxt's Kraken cannot query one order by client id
(QueryOrders takes a txid), so an order is looked up in OpenOrders, then ClosedOrders, filtered
by `cl_ord_id`. AddOrder answers only the txid: the order is queried once right after (an
immediate-or-cancel order has its outcome by then) and its fills fetched by their trade ids.
Fills, order states and balances arrive on Kraken's authenticated websocket v2 (ccxt.pro's
watch_orders / watch_my_trades / watch_balance on `executions` and `balances`): a fill's trade
id is its `exec_id`, the trade's txid as REST names it, and the order's client id is read from
the row's `cl_ord_id` (ccxt puts `order_userref` in `clientOrderId`, and leaves `filled` out:
it is the row's `cum_qty`). The token those subscriptions need (GetWebSocketsToken) is asked for
as every private request is: refused for its nonce, it is sent again with a new one, up to
`max_rate_limit_retries` times. A balances update carries totals only, so it sets off one REST read
of the balances with their holds. While that stream is not live (not yet subscribed, dropped, or
its subscription refused) the venue polls its open orders (those listed at start-up too) every
`order_poll_s` for fills (by the order's own trade ids), ends and balances; every subscription
confirmed catches up by REST first (one that fails leaves the stream not live: the polling
retries it until one succeeds). Catch-ups run one at a time: those asked for while one runs (a
reconnect asks once per watch and once per subscription) share a single run after it. A fill
that comes both ways is booked once (the journal keys fills by trade id). Public market data
(ticker, book, trades, candles) streams over ccxt.pro's websocket v2, the local sandbox's too;
the live hub resubscribes a failed stream and stands in with REST meanwhile.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import Any

import ccxt.pro as ccxt

from tradeguard.model.enums import OrderStatus
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.money import dec
from tradeguard.model.order import Order
from tradeguard.model.reports import OrderReport
from tradeguard.secrets.redact import redact
from tradeguard.venues.ccxt_clients import own_decimal_context
from tradeguard.venues.ccxt_venue import CcxtVenue, log
from tradeguard.venues.trade_rows import trade_row_key

FREE_TEXT_MAX = 18
ORDER_POLL_S = 1.0  # without user streams: how often our open orders are queried
TRADES_PAGE = 50  # trades TradesHistory answers at a time
HISTORY_PASSES = 10  # reads of a history from the newest trade read on, while trades are made
QUERY_TRADES_IDS = 19  # trade ids per fetch_order_trades call (see _fills_of)
_NAMESPACE = uuid.UUID("6f1c3a52-4b9e-5d0a-9c2e-7a5b8e1d3f40")


def kraken_cl_ord_id(client_order_id: str) -> str:
    """The `cl_ord_id` Kraken gets for one of our client order ids."""
    if len(client_order_id) <= FREE_TEXT_MAX:
        return client_order_id
    return str(uuid.uuid5(_NAMESPACE, client_order_id))


class KrakenCcxtVenue(CcxtVenue):
    """A Kraken account through ccxt.kraken (REST; ccxt.pro's streams where they are on)."""

    def __init__(
        self, name: str, client_factory: Any, *args: Any, polled_market_data: bool = False,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(name, client_factory, *args, **kwargs)
        # The private streams get a ccxt client of their own: on the one the live hub's public
        # watches share, a public trade watch was left waiting when its socket dropped.
        self._user = own_decimal_context(client_factory())
        self._user.enableRateLimit = False
        # The token ccxt asks for before a private subscription (GetWebSocketsToken) goes out as
        # every private request does: paced, and signed again with a new nonce when refused for
        # its nonce (another client of the key was ahead), a bounded number of times.
        self._user.privatePostGetWebSocketsToken = partial(
            self._call, "ws_token", self._user.privatePostGetWebSocketsToken
        )
        self._cid_param = "clientOrderId"  # ccxt sends it as cl_ord_id
        self._ours: dict[str, str] = {}  # cl_ord_id sent -> our client order id
        self._polled: dict[str, set[str]] = {}  # open order -> trade ids its polling delivered
        # Public data polled by REST instead of streamed (an endpoint without the websocket).
        self.polled_market_data = polled_market_data
        self.order_poll_s = ORDER_POLL_S
        self.executions_live = False  # the private `executions` subscription is confirmed
        # The last catch-up failed: polling stands in, the stream live or not, until one works.
        # (Subscriptions confirmed, watches back after a drop and the polling all ask for one;
        # the base venue runs them one at a time.)
        self._catch_up_owed = False
        self._balance_read: asyncio.Future[Any] | None = None
        self._side: set[asyncio.Future[Any]] = set()  # short jobs the stream sets off
        self._answers = self._user.handle_message  # ccxt's reader of every websocket message
        self._user.handle_message = self._on_ws_message
        # ccxt.kraken has no fetch_bids_asks; its tickers carry the best bid and ask, so the quote
        # stream's REST snapshots (first, and while the websocket is down) come from Ticker.
        if not self.client.has.get("fetchBidsAsks") and self.client.has.get("fetchTickers"):
            self.client.has["fetchBidsAsks"] = True
            self.client.fetch_bids_asks = self.client.fetch_tickers

    @property
    def user_client(self) -> Any:
        """The private streams' own ccxt client."""
        return self._user

    async def connect(self) -> None:
        """Load markets, start the private streams (when on) and the polling that stands in for
        them while they are not live."""
        self.executions_live = False
        await super().connect()
        self._tasks.append(
            asyncio.create_task(self._poll_open_orders(), name=f"{self.name}:poll_orders")
        )

    async def load_instruments(self) -> dict[str, Instrument]:
        """The markets, shared with the private streams' client (which need not load them)."""
        found = await super().load_instruments()
        self._user.set_markets(self.client.markets, self.client.currencies)
        return found

    async def close(self) -> None:
        side, self._side = list(self._side), set()
        for job in side:
            job.cancel()
        await asyncio.gather(*side, return_exceptions=True)
        await super().close()
        await self._user.close()

    def _spawn(self, job: Any) -> asyncio.Future[Any]:
        """Run a short job the stream sets off, forgotten once done (a long-running node sets
        off one per balance update), cancelled at close."""
        task = asyncio.ensure_future(job)
        self._side.add(task)
        task.add_done_callback(self._side.discard)
        return task

    def stream_live(self) -> bool:
        """Fills and order states come by the private stream now (no polling needed)."""
        stream = self.user_stream
        return (
            self.executions_live and stream is not None and stream.connected and not self._failing
            and not self._catch_up_owed
        )  # fmt: skip

    async def _catch_up_once(self) -> bool:
        """The base catch-up, remembering whether it failed (polling then retries it)."""
        done = await super()._catch_up_once()
        self._catch_up_owed = not done
        return done

    async def _poll_open_orders(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.order_poll_s)
            if self.stream_live():
                continue
            if (self._open or self._catch_up_owed) and self._listener is not None:
                try:
                    await self._catch_up()  # each open order's state, fills and the balances
                except Exception as exc:  # an answer it cannot read must not end the polling
                    self._catch_up_owed = True
                    why = redact(f"{type(exc).__name__}: {exc}")
                    log.warning("venue %s: polling open orders failed: %s", self.name, why)

    def _instrument(self, m: Mapping[str, Any]) -> Instrument | None:
        """The market as ccxt loaded it, its price tick from AssetPairs' `tick_size`: ccxt takes
        the tick from `pair_decimals`, which is 0.1 for a tick of 0.5 or 0.25, so prices
        rounded to it would be refused."""
        inst = super()._instrument(m)
        raw = (m.get("info") or {}).get("tick_size")
        if inst is None or raw in (None, ""):
            return inst
        try:
            tick = dec(raw, "tick_size")
        except ValueError:
            log.warning("venue %s: %s has tick_size %r; using pair_decimals", self.name,
                        m.get("symbol"), raw)  # fmt: skip
            return inst
        return replace(inst, price_tick=tick) if tick > 0 else inst

    def _wire_cid(self, client_order_id: str) -> str:
        wire = kraken_cl_ord_id(client_order_id)
        self._ours[wire] = client_order_id
        return wire

    def _our_cid(self, wire: str) -> str:
        return self._ours.get(wire, wire)

    def _report(self, raw: Mapping[str, Any], cid: str = "") -> OrderReport:
        wire = str(raw.get("clientOrderId") or "")
        if wire:
            raw = {**raw, "clientOrderId": self._our_cid(wire)}
        return super()._report(raw, cid)

    async def submit(self, order: Order) -> OrderReport:
        """Send the order, then ask for its state and fills (AddOrder answers only its txid)."""
        report = await super().submit(order)
        if report.status is not OrderStatus.ACCEPTED or not report.venue_order_id:
            return report
        try:
            raw = await self._call(
                "fetch_order", self.client.fetch_order, report.venue_order_id, order.symbol, {}
            )
            fills = await self._fills_of(raw, order.client_order_id, order.symbol)
        except Exception as exc:  # an error, or an answer it cannot read (ValueError)
            # Sent and accepted: its outcome comes with the next query or reconciliation.
            why = redact(f"{type(exc).__name__}: {exc}")
            log.warning(
                "venue %s: state of %s after sending: %s", self.name, order.client_order_id, why
            )
            return report
        if self._listener is not None:
            for fill in fills:
                self._listener.on_fill(fill)
        return self._report(raw, order.client_order_id)

    async def cancel(self, order: Order) -> OrderReport:
        """Cancel by client order id, then report the order as Kraken now has it."""
        params = {"clientOrderId": self._wire_cid(order.client_order_id)}
        await self._call(
            "cancel", self.client.cancel_order, order.venue_order_id or None, order.symbol, params
        )
        report = await self.fetch_order(order.client_order_id, order.symbol)
        if report is None:
            raise AmbiguousVenueError(
                self.name,
                f"cancel of {order.client_order_id} answered, but the order is not found after",
                "ORDER_NOT_FOUND",
            )
        return report

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderReport | None:
        """Find an order by client order id among the open, then the closed orders."""
        params = {"clientOrderId": self._wire_cid(client_order_id)}
        for op, fetch in (
            ("fetch_open_orders", self.client.fetch_open_orders),
            ("fetch_closed_orders", self.client.fetch_closed_orders),
        ):
            rows = await self._call(op, fetch, symbol, None, None, dict(params))
            for raw in rows:
                if self._our_cid(str(raw.get("clientOrderId") or "")) == client_order_id:
                    return self._report(raw, client_order_id)
        return None

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        """Every open order; each with a client id is polled from now on, so an order resting
        from before a restart (listed by the start-up reconciliation) has its fills polled too."""
        reports = await super().fetch_open_orders(symbol)
        for r in reports:
            if r.client_order_id and r.symbol and not r.status.is_terminal:
                self._open.setdefault(r.client_order_id, (r.symbol, r.ts or self.clock.now_ms()))
        return reports

    async def fetch_order_fills(
        self, client_order_id: str, venue_order_id: str, symbol: str
    ) -> list[Fill]:
        """Every execution of one order: its trade ids from QueryOrders, then QueryTrades."""
        if not venue_order_id:
            return []
        raw = await self._call("fetch_order", self.client.fetch_order, venue_order_id, symbol, {})
        return await self._fills_of(raw, client_order_id, symbol)

    async def _trade_rows(self, op: str, symbol: str, since_ts: int, order_id: str = "") -> list:
        """The account's trades on `symbol` at or after `since_ts`, every page of them:
        TradesHistory answers 50 at a time, newest first, of every pair, after a `start`
        (exclusive) and up to an `end` (inclusive), each a time or a trade txid. The first
        read starts a second before `since_ts` (whole seconds); pages go on by txid, never by
        `ofs` (trades made while it pages would shift every offset). When that took more than
        a page, the trades made meanwhile are read after it, from the newest one read on."""
        if order_id or not since_ts:
            return await super()._trade_rows(op, symbol, since_ts, order_id)
        start: int | str = max(since_ts // 1000 - 1, 0)
        rows: list[Any] = []
        seen: set[tuple[str, str, str]] = set()
        for _ in range(HISTORY_PASSES):
            new, newest, pages = await self._history_down(op, start, seen)
            rows += [r for r in new if r.get("symbol") == symbol and
                     int(r.get("timestamp") or 0) >= since_ts]  # fmt: skip
            if pages == 1 or not new:
                break
            start = newest
        else:
            log.warning(
                "venue %s: trade history since %s still growing after %d passes: trades "
                "after %s not read by this catch-up", self.name, since_ts, HISTORY_PASSES, start,
            )  # fmt: skip
        return rows

    async def _history_down(
        self, op: str, start: int | str, seen: set[tuple[str, str, str]]
    ) -> tuple[list[Any], str, int]:
        """TradesHistory after `start`, newest first, page by page: the rows not in `seen`
        (added to it), the txid of the newest trade read, and how many pages it took. After
        the first page, every next one ends (`end`, inclusive) at one trade of that first page
        of its oldest time, and pages on under it by `ofs`: trades made meanwhile come after
        that `end` and shift no offset. Which of trades of one time is the oldest, their txids
        do not tell (ccxt lists them by txid): a page up to one of them re-reads those older on
        the first page, kept once, and skips none; a bound moved page by page to such a trade
        got the same page of trades of one time back again."""
        rows: list[Any] = []
        newest, params, pages = "", {"start": start}, 0
        while True:
            page = list(await self._call(op, self.client.fetch_my_trades, None, None, None, params))
            pages += 1
            if any(not str(r.get("id") or "") for r in page):  # no bound, no key to read it once
                raise AmbiguousVenueError(
                    self.name, f"trade history after {start}: a trade with no txid on the page "
                    f"read with {params}; it can neither bound the next page nor be read once",
                )  # fmt: skip
            new = [r for r in page if trade_row_key(r) not in seen]
            seen.update(trade_row_key(r) for r in new)
            rows += new
            if page and not newest:
                newest = str(max(reversed(page), key=_time_of).get("id") or "")
            if len(page) < TRADES_PAGE:
                return rows, newest, pages
            if pages == 1:
                end = str(min(page, key=_time_of).get("id") or "")
                params = {"start": start, "end": end}  # ofs 0
                continue
            if not new and "ofs" in params:  # up to `end` (ofs 0) it may re-read them all
                raise AmbiguousVenueError(
                    self.name, f"trade history after {start}: the page up to {params.get('end')} "
                    f"at ofs {params.get('ofs', 0)} holds no trade not read already",
                )  # fmt: skip
            params = {**params, "ofs": int(params.get("ofs") or 0) + TRADES_PAGE}

    async def _open_order_fills(
        self, cid: str, symbol: str, report: OrderReport, created: int
    ) -> list[Fill]:
        """The order's own trades (TradesHistory answers only the account's newest 50); those
        this polling delivered already are not asked for again."""
        if not report.venue_order_id:
            return []
        raw = await self._call(
            "fetch_order", self.client.fetch_order, report.venue_order_id, symbol, {}
        )
        delivered = self._polled.setdefault(cid, set())
        fills = await self._fills_of(raw, cid, symbol, skip=delivered)
        delivered.update(f.trade_id for f in fills)
        if report.status.is_terminal:
            self._polled.pop(cid, None)  # no longer polled
        return fills

    async def _fills_of(
        self, raw: Mapping[str, Any], cid: str, symbol: str, skip: set[str] | None = None
    ) -> list[Fill]:
        ids = [str(t["id"]) for t in raw.get("trades") or () if t.get("id")]
        ids = [i for i in ids if i not in (skip or ())]
        rows: list[Any] = []
        # ccxt asks QueryTrades 20 ids at a time and, when the ids fill those batches exactly,
        # once more with none, which Kraken refuses: fewer than 20 per call is one request.
        for at in range(0, len(ids), QUERY_TRADES_IDS):
            rows += await self._call(
                "fetch_fills", self.client.fetch_order_trades, raw.get("id"), symbol, None, None,
                {"trades": ids[at : at + QUERY_TRADES_IDS]},
            )  # fmt: skip
        out = []
        for t in rows:
            fill = self._fill({"symbol": symbol, **t}, cid)
            if fill is not None:
                out.append(fill)
        return out

    def market_data(self) -> Any:
        """Public market data for the live hub; every kind polled by REST when
        `polled_market_data` (the local sandbox)."""
        from tradeguard.venues.ccxt_market import CcxtMarketData

        class PolledMarketData(CcxtMarketData):
            def streams(self) -> set[str]:
                return set()

        return PolledMarketData(self) if self.polled_market_data else super().market_data()

    def _undelivered(self, symbols: list[str], delivered: dict[str, Any]) -> dict[str, Any]:
        """The cached tickers of `symbols` not handed on yet: ccxt's Kraken keeps a `bbo`
        ticker subscription's messages in `tickers`, not `bidsasks`."""
        cache = getattr(self.client, "tickers", None) or {}
        return {s: cache[s] for s in symbols if s in cache and cache[s] is not delivered.get(s)}

    async def _cid_for(self, trade: Mapping[str, Any]) -> str:
        ours = self._our_cid(await super()._cid_for(trade))
        vid = str(trade.get("order") or "")
        if vid and ours:
            self._cid_by_venue_id[vid] = ours
        return ours

    # private websocket ---------------------------------------------------------------------
    def _on_ws_message(self, client: Any, message: Any) -> Any:
        """ccxt's reader, told first of the answers to private subscriptions: ccxt leaves a
        refused one waiting forever, so the socket is failed here (the watchers then retry with
        a fresh token and polling stands in); a confirmed `executions` catches up by REST."""
        if isinstance(message, dict) and message.get("method") == "subscribe":
            result = message.get("result")
            channel = result.get("channel") if isinstance(result, dict) else None
            if message.get("success") is True and channel == "executions":
                self.executions_live = True
                self._spawn(self._caught_up())
            elif message.get("success") is False and self._is_private(client):
                self._refused(client, str(message.get("error") or "refused"))
                return None
        return self._answers(client, message)

    async def _caught_up(self) -> None:
        """A catch-up after a confirmed subscription; a failure is logged and the polling
        retries it (while it is owed the stream does not count as live)."""
        try:
            await self._catch_up()
        except Exception as exc:
            self._catch_up_owed = True
            log.warning("venue %s: catch-up after subscribing failed: %s", self.name,
                        redact(f"{type(exc).__name__}: {exc}"))  # fmt: skip

    def _is_private(self, client: Any) -> bool:
        urls = (self._user.urls.get("api") or {}).get("ws") or {}
        return bool(getattr(client, "url", None) == urls.get("privateV2"))

    def _refused(self, client: Any, error: str) -> None:
        self.executions_live = False
        log.warning("venue %s: private stream refused (%s); polling meanwhile", self.name,
                    redact(error)[:200])  # fmt: skip
        clients = self._user.clients or {}
        clients.pop(client.url, None)
        # the cached token was refused: the next subscription asks for a new one
        private = (self._user.urls.get("api") or {}).get("ws", {}).get("private")
        cached = clients.get(private)
        if cached is not None:
            cached.subscriptions.pop("authenticated", None)
        client.reset(ccxt.AuthenticationError(f"kraken private stream: {error}"))
        self._spawn(client.close())

    def _on_orders(self, orders: Any) -> None:
        """Order states from `executions`: the client id from `cl_ord_id`, filled `cum_qty`."""
        for raw in orders:
            info = raw.get("info") or {}
            wire = str(info.get("cl_ord_id") or "")
            if not wire or self._listener is None:
                continue
            fixed = {**raw, "clientOrderId": wire, "filled": info.get("cum_qty"),
                     "amount": info.get("order_qty") or raw.get("amount")}  # fmt: skip
            self._listener.on_order_report(self._report(fixed))

    def _on_trades(self, trades: Any) -> None:
        """Fills from `executions`; each is booked once, by trade id, whichever way it came."""
        for raw in trades:
            info = raw.get("info") or {}
            wire = str(info.get("cl_ord_id") or "")
            vid = str(raw.get("order") or "")
            cid = self._our_cid(wire) if wire else self._cid_by_venue_id.get(vid, "")
            fill = self._fill(raw, cid)
            if fill is None or self._listener is None:
                continue
            if cid in self._open:  # the polling need not fetch it again
                self._polled.setdefault(cid, set()).add(fill.trade_id)
            self._listener.on_fill(fill)

    def _on_balance(self, raw: Any) -> None:
        """Kraken streams balance totals only: read them with their holds, once per burst."""
        if self._balance_read is None or self._balance_read.done():
            self._balance_read = self._spawn(self._read_balances())

    async def _read_balances(self) -> None:
        if self._listener is None:
            return
        try:
            self._listener.on_balances(self.name, await self.fetch_balances())
        except Exception as exc:
            log.warning("venue %s: balances after a stream update: %s", self.name,
                        redact(f"{type(exc).__name__}: {exc}"))  # fmt: skip


def _time_of(row: Mapping[str, Any]) -> int:
    return int(row.get("timestamp") or 0)
