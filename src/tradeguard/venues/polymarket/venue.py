"""The `polymarket` venue: CLOB V2 orders signed locally, L2-authenticated REST, heartbeats.

The order hash is Polymarket's order id and is a pure function of the journaled order (see
`signing`), so an unknown outcome is resolved by recomputing it and asking `/data/order/{hash}`.
While orders rest, a heartbeat runs as a dead-man switch: if this process dies the CLOB cancels
them after 10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx
from py_clob_client_v2.headers.headers import create_level_1_headers
from py_clob_client_v2.signer import Signer

from tradeguard.clock import Clock
from tradeguard.model.balance import Balance
from tradeguard.model.enums import OrderStatus, OrderType, Side, TimeInForce
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Quote
from tradeguard.model.money import ZERO
from tradeguard.model.order import Order
from tradeguard.model.outcome import Settlement, parse_outcome_symbol
from tradeguard.model.reports import OrderReport
from tradeguard.venues.base import Venue
from tradeguard.venues.fill_balances import BalanceReader
from tradeguard.venues.http_answer import answer_json, no_answer, not_object
from tradeguard.venues.outcome_stream import StreamStats, venue_book_stream
from tradeguard.venues.paging import CLOB_END, CLOB_START, MAX_PAGES, clob_pages, clob_pages_from
from tradeguard.venues.polymarket.book_stream import TokenBook, market_ws_quotes
from tradeguard.venues.polymarket.heartbeat import beat
from tradeguard.venues.polymarket.listing_pass import account_rows, listing_pass, market_rows
from tradeguard.venues.polymarket.markets import QUOTE, listed_tokens, market_resolution
from tradeguard.venues.polymarket.order_rows import LISTING, queried, read_unread
from tradeguard.venues.polymarket.pending import follow_trades
from tradeguard.venues.polymarket.signing import SCALE, OrderSigner, l2_headers, order_payload
from tradeguard.venues.polymarket.trade_rows import fills_after_submit, kept_fills, row_fills
from tradeguard.venues.polymarket.trade_time import row_second, since_filter
from tradeguard.venues.user_stream import (
    FILL_ROW_ERRORS,
    UserStreamState,
    await_subscribed,
    cancel_task,
    frame_object,
    parsed_rows,
    skip_frame,
    skip_reason,
)

if TYPE_CHECKING:
    from tradeguard.marketdata.live.streams import RestFallback

log = logging.getLogger(__name__)

_TIF = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "FAK", TimeInForce.FOK: "FOK"}


class PolymarketVenue(Venue):
    """A Polymarket wallet; the private key and (optionally) L2 credentials are handed in."""

    def __init__(
        self,
        name: str,
        url: str,
        private_key: str,
        clock: Clock,
        api_creds: dict[str, str] | None = None,
        heartbeat_s: float = 5.0,
        quote_poll_s: float = 1.0,
        ws_url: str = "",
    ) -> None:
        super().__init__(name)
        self.url = url.rstrip("/")
        self.clock = clock
        self._key = private_key
        self.signer = OrderSigner(private_key)
        self.api_creds = dict(api_creds) if api_creds else None
        self.heartbeat_s = heartbeat_s
        self.quote_poll_s = quote_poll_s
        self.instruments: dict[str, Instrument] = {}
        self.max_pages = MAX_PAGES  # listings longer than this many pages are refused
        # symbol -> where its trades' read goes on (`fetch_fills_part` stopped at the cap, what
        # it read booked: `fills_part_kept`) and its round's newest second; where the last stopped
        self._trades_resume: dict[str, tuple[str, int]] = {}
        self._trades_read: dict[str, tuple[str, int]] = {}
        self._tokens: dict[str, tuple[str, bool]] = {}  # symbol -> token id, neg risk
        self._symbol_of_token: dict[str, str] = {}
        self._market_of: dict[str, str] = {}  # symbol -> its market's condition id
        self._hashes: dict[str, str] = {}  # client order id -> order hash
        self.failed_fills: dict[str, Fill] = {}  # trade id -> our fill of a FAILED trade
        self._failed_of: dict[str, dict[str, Decimal]] = {}  # hash -> trade id -> FAILED size
        self._failed_at: dict[str, int] = {}  # hash -> its newest FAILED fill's time (bound)
        self._resting: set[str] = set()  # hashes whose last query found the order open
        self._failed_ids: dict[str, None] = {}  # read FAILED: a MATCHED read later is stale
        self.pending_trades: dict[str, int] = {}  # booked, not settled: trade id -> its time
        self.pending_restored = False  # those stored at the last stop taken up (reconcile)
        self.unknown_told: set[str] = set()  # trade statuses no CLOB sends yet, warned of once
        self._unread: dict[str, int] = {}  # adopted order's hash -> from when its trades are
        self._http = httpx.AsyncClient(timeout=10.0)
        self._heartbeat: asyncio.Task[None] | None = None
        self.ws_url = ws_url
        self._user_task: asyncio.Task[None] | None = None
        self._user_ready = asyncio.Event()
        self.book_stats = StreamStats()
        # The user channel carries fills, not balances: read them after fills. The CLOB
        # answers one token per /balance-allowance request, so a read after a fill asks only
        # for the tokens held at the last read and those traded since; reconciliation's read
        # (`fetch_balances`) still asks for every listed token.
        self.balance_reader = BalanceReader(name, self._fill_balances, self.push_balances)
        self._held: set[str] = set()  # symbols with a balance at the last read
        self._traded: set[str] = set()  # symbols filled since their last read

    listing_pass = staticmethod(listing_pass)  # reads listing each market's trades once
    follow_trades = follow_trades  # pending trades (a stop left) read again by id

    def __repr__(self) -> str:
        return f"PolymarketVenue(name={self.name!r}, address={self.signer.address})"

    async def connect(self) -> None:
        """Derive L2 credentials by L1 auth (unless handed in) and load the markets."""
        if self.api_creds is None:
            headers = create_level_1_headers(Signer(self._key, 137), timestamp=int(time.time()))
            data = await self._send("derive_api_key", "GET", "/auth/derive-api-key", headers)
            self.api_creds = {
                "api_key": data["apiKey"], "secret": data["secret"],
                "passphrase": data["passphrase"],
            }  # fmt: skip
        await self.load_instruments()
        if self.ws_url:
            self.user_stream = UserStreamState()
            self._user_task = asyncio.create_task(self._watch_user(), name=f"{self.name}:user")
            await await_subscribed(self.name, self._user_ready, f"user channel {self.ws_url}")

    async def close(self) -> None:
        await self.balance_reader.close()
        await asyncio.gather(*(cancel_task(t) for t in (self._heartbeat, self._user_task)))
        http, self._http = self._http, httpx.AsyncClient(timeout=10.0)  # to start again
        await http.aclose()

    def _on_user_frame(self, msg: aiohttp.WSMessage) -> None:
        text = msg.data if msg.type is aiohttp.WSMsgType.TEXT else f"<{msg.type.name} frame>"
        event = frame_object(self.name, str(text))
        if event is None:
            return
        if event.get("event_type") == "subscribed":
            self._user_ready.set()
        elif event.get("event_type") == "trade" and self._listener is not None:
            try:
                fills = self.fills_from(event)
            except FILL_ROW_ERRORS as exc:
                skip_frame(self.name, skip_reason(exc))
                return
            for fill in fills:
                self._listener.on_fill(fill)
                self._traded.add(fill.symbol)
            self.balance_reader.after_fill()

    async def _watch_user(self) -> None:
        """Fills of resting orders from the `user` channel, reconnecting when it drops."""
        assert self.api_creds is not None
        stream = self.user_stream or UserStreamState()
        auth = {
            "apiKey": self.api_creds["api_key"], "secret": self.api_creds["secret"],
            "passphrase": self.api_creds["passphrase"],
        }  # fmt: skip
        while True:
            try:
                async with (
                    aiohttp.ClientSession() as session,
                    session.ws_connect(self.ws_url, heartbeat=10) as ws,
                ):
                    await ws.send_json({"auth": auth, "markets": [], "type": "user"})
                    async for msg in ws:
                        stream.on_message()
                        self._on_user_frame(msg)
            except (aiohttp.ClientError, OSError) as exc:
                log.warning(
                    "%s: user channel lost (%s); reconnecting", self.name, type(exc).__name__
                )
            stream.set_connected(False)  # closed, by an error or by the server
            await asyncio.sleep(0.5)

    # HTTP --------------------------------------------------------------------------------
    def _l2(self, method: str, path: str, body: str) -> dict[str, str]:
        assert self.api_creds is not None
        return l2_headers(self.api_creds, self.signer.address, method, path, body)

    async def _send(
        self, op: str, method: str, path: str, headers: dict[str, str], body: str = "", **kw: Any
    ) -> Any:
        try:
            resp = await self._http.request(
                method, f"{self.url}{path}", headers=headers, content=body or None, **kw
            )
        except (httpx.TransportError, OSError) as exc:
            raise no_answer(self.name, op, exc, self.url) from None
        return answer_json(self.name, op, resp)

    async def _private(
        self, op: str, method: str, path: str, payload: Any = None, **kw: Any
    ) -> Any:
        body = json.dumps(payload, separators=(",", ":")) if payload is not None else ""
        return await self._send(op, method, path, self._l2(method, path, body), body, **kw)

    # markets -----------------------------------------------------------------------------
    async def _listing(self, op: str) -> list[Any]:
        """Every market of GET /markets, following `next_cursor` over all its pages."""

        async def page(query: dict[str, str]) -> Any:
            return await self._send(op, "GET", "/markets", {}, params=query)

        return await clob_pages(page, venue=self.name, op=op, max_pages=self.max_pages)

    async def load_instruments(self) -> dict[str, Instrument]:
        for m in await self._listing("load_instruments"):
            for inst, token in listed_tokens(self.name, m):
                self.instruments[inst.symbol] = inst
                self._tokens[inst.symbol] = (token, m.get("neg_risk") is True)
                self._symbol_of_token[token] = inst.symbol
                self._market_of[inst.symbol] = str(m.get("condition_id", ""))
        return dict(self.instruments)

    async def fetch_settlements(self) -> list[Settlement]:
        """Resolved markets: a winning YES or NO token, or neither (void, paid 0.50 each)."""
        out = []
        for m in await self._listing("fetch_settlements"):
            resolution = market_resolution(m)
            if resolution is None:
                continue
            out.append(Settlement(
                self.name, m["market_slug"], resolution, ZERO, ZERO, ZERO, QUOTE,
                self.clock.now_ms(),
            ))  # fmt: skip
        return out

    # orders ------------------------------------------------------------------------------
    def order_hash(self, order: Order) -> str:
        """Polymarket's id of `order`, computed from the journaled fields alone."""
        return self._signed(order)[0]

    def _signed(self, order: Order) -> tuple[str, Any]:
        token, neg_risk = self._token(order.symbol)
        price = order.price
        if order.type is OrderType.MARKET or price is None:
            price = Decimal("0.99") if order.side is Side.BUY else Decimal("0.01")
        return self.signer.sign(
            order.client_order_id, token, order.side is Side.BUY, order.amount, price,
            order.created_ts, neg_risk,
        )  # fmt: skip

    def token_id(self, symbol: str) -> str | None:
        """Return the token id listed for an outcome symbol, None if it is not listed."""
        found = self._tokens.get(symbol)
        return found[0] if found is not None else None

    def _token(self, symbol: str) -> tuple[str, bool]:
        found = self._tokens.get(symbol)
        if found is None:
            parse_outcome_symbol(symbol)
            raise DefinitiveVenueError(self.name, f"unknown market {symbol}", "BAD_SYMBOL")
        return found

    async def submit(self, order: Order) -> OrderReport:
        order_hash, signed = self._signed(order)
        self._hashes[order.client_order_id] = order_hash
        assert self.api_creds is not None
        tif = "FAK" if order.type is OrderType.MARKET else _TIF[order.time_in_force]
        payload = order_payload(signed, self.api_creds["api_key"], tif, False)
        answer = await self._private("submit", "POST", "/order", payload)
        if not isinstance(answer, dict):  # the order may be placed: resolved by query
            raise not_object(self.name, "submit", "POST /order", answer)
        if "success" not in answer:  # not the CLOB's answer (it always says): no refusal either
            why = "no 'success' field, not the CLOB's order answer"
            raise not_object(self.name, "submit", "POST /order", answer, why)
        if not answer.get("success"):
            raise DefinitiveVenueError(self.name, f"submit refused: {answer}", "REJECTED")
        report = await self._query(order.client_order_id, order.symbol, order_hash)
        if report is not None and report.filled > 0:
            for fill in await fills_after_submit(self, order.symbol):
                if fill.venue_order_id == order_hash and self._listener is not None:
                    self._listener.on_fill(fill)
            self._traded.add(order.symbol)
            self.balance_reader.after_fill()
        if report is not None and report.status.is_open:
            self._start_heartbeat()
        return report or OrderReport(
            self.name, order.symbol, order.client_order_id, order_hash, OrderStatus.ACCEPTED,
            amount=order.amount, ts=self.clock.now_ms(),
        )  # fmt: skip

    async def _query(self, cid: str, symbol: str, order_hash: str) -> OrderReport | None:
        row = await self._private("fetch_order", "GET", f"/data/order/{order_hash}")
        if not row:
            return None
        return queried(self, (symbol, cid, order_hash), row)  # its FAILED sizes taken off

    def adopt(self, order: Order) -> None:
        """Recompute the hash of a journaled order (after a restart) so it can be queried."""
        try:
            self._hashes[order.client_order_id] = order_hash = self.order_hash(order)
            self._unread[order_hash] = max(order.created_ts - 60_000, 0)
        except DefinitiveVenueError as exc:  # its market is gone: queries stay unanswered
            log.warning("%s: cannot adopt %s: %s", self.name, order.client_order_id, exc)

    async def cancel(self, order: Order) -> OrderReport:
        order_hash = self._hashes.get(order.client_order_id) or self.order_hash(order)
        answer = await self._private("cancel", "DELETE", "/order", {"orderID": order_hash})
        if not isinstance(answer, dict):  # the order may be cancelled: resolved by query
            raise not_object(self.name, "cancel", "DELETE /order", answer)
        if order_hash not in answer.get("canceled", []):
            raise DefinitiveVenueError(self.name, f"cancel refused: {answer}", "ORDER_NOT_FOUND")
        report = await self._query(order.client_order_id, order.symbol, order_hash)
        assert report is not None
        return report

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderReport | None:
        order_hash = self._hashes.get(client_order_id)
        if order_hash is None:
            # Not knowing the hash is not the venue saying "no such order": stay unknown.
            raise AmbiguousVenueError(
                self.name,
                f"fetch_order: no order hash for {client_order_id}; adopt the journaled order",
                "HASH_UNKNOWN",
            )
        report = await self._query(client_order_id, symbol, order_hash)
        since = self._unread.pop(order_hash, None)
        if report is not None and report.filled > 0 and since is not None:
            # a journaled order's trades were never read here: one FAILED counts in
            # `size_matched` until read (`order_rows`); a listing that fails leaves it counted
            with contextlib.suppress(DefinitiveVenueError, AmbiguousVenueError):
                await self.fetch_fills(symbol, since)
            if order_hash in self._failed_of:
                return await self._query(client_order_id, symbol, order_hash)
        return report

    async def _rows(self, op: str, path: str) -> list[Any]:
        """The `data` list of a CLOB listing; an answer without it (a proxy's `{}`) is an
        ambiguous venue error naming it."""
        data = await self._private(op, "GET", path)
        rows = data.get("data") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise not_object(self.name, op, f"GET {path}", data, "no 'data' list")
        return rows

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        """The orders resting on the book, each as its own row reads (`queried`, after
        `read_unread`): the sizes of its trades read FAILED taken off `size_matched`."""
        rows = await self._rows("fetch_open_orders", "/data/orders")
        by_hash = {h: c for c, h in self._hashes.items()}
        listed = []
        for row in rows:
            try:
                sym = self._symbol_of_token.get(row["asset_id"], "")
                order_hash = row["id"]
            except (KeyError, TypeError) as exc:
                why = f"an order missing {exc}" if isinstance(exc, KeyError) else "not an order"
                raise not_object(self.name, "fetch_open_orders", "GET /data/orders", row,
                                 why) from None  # fmt: skip
            if symbol is not None and sym != symbol:
                continue
            listed.append((sym, order_hash, row))
        await read_unread(self, listed)
        return [queried(self, (s, by_hash.get(h, ""), h), row, LISTING) for s, h, row in listed]

    async def _trades_page(self, query: dict[str, str]) -> Any:
        # a trade beyond the first page, left unread, would read as no trade at all
        data = await self._private("fetch_fills", "GET", "/data/trades", params=query)
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise not_object(self.name, "fetch_fills", "GET /data/trades", data, "no 'data' list")
        return data

    def _trades_of(self, narrowed: dict[str, str]) -> Any:
        """A page reader of `/data/trades` narrowed by `narrowed` (`market`: one market's
        trades, never the whole account's listing; `after`: those since a time)."""

        async def page(query: dict[str, str]) -> Any:
            return await self._trades_page({**narrowed, **query})

        return page

    def _listed_by(self, symbol: str) -> dict[str, str] | None:
        """The filter listing each trade of `symbol` we are on: its market's. A row is the
        taker's, so `asset_id` (our token) misses our maker side of a complementary match."""
        market = self._market_of.get(symbol)
        return None if market is None else {"market": market}

    async def fetch_fills(self, symbol: str, since_ts: int = 0) -> list[Fill]:
        """Every trade of `symbol` from `since_ts` on, over all pages of `/data/trades` for its
        market (`_listed_by`; once per pass, `listing_pass`): from the start of `since_ts`'s
        second, as the CLOB dates a trade to the second (one made at 12:00:00.700 is stamped
        12:00:00: left out from 12:00:00.500 on, it would never be read again)."""
        market = self._listed_by(symbol)
        if market is None:
            return []  # not listed: the CLOB lists no trade of it
        rows = await market_rows(market["market"], since_ts, partial(
            clob_pages, self._trades_of(market | since_filter(since_ts)), venue=self.name,
            op="fetch_fills", max_pages=self.max_pages,
        ))  # fmt: skip
        fills = self._fills(rows)
        first = since_ts - since_ts % 1000
        return [f for f in fills if f.symbol == symbol and f.ts >= first]

    async def traded_symbols(self, since_ts: int = 0) -> set[str]:
        """The symbols of the account's trades on `/data/trades` from `since_ts`'s second on,
        whatever market: a trade made outside the node on a market no strategy names yet. Only
        the trades since that second are listed (`after`): an account's older history, however
        long, is never paged through (nor refused past the page cap)."""
        rows = await clob_pages(
            self._trades_of(since_filter(since_ts)), venue=self.name, op="fetch_fills",
            max_pages=self.max_pages,
        )  # fmt: skip
        account_rows(set(self._market_of.values()), since_ts, rows)  # the pass's (`listing_pass`)
        fills = self._fills(rows)
        first = since_ts - since_ts % 1000
        return {f.symbol for f in fills if f.symbol and f.ts >= first}

    async def fetch_fills_part(self, symbol: str) -> tuple[list[Fill], bool]:
        """The trades of `symbol` on the next pages of `/data/trades` (its market's alone), from
        where the last call for it stopped at the page cap (`max_pages`) once its trades were
        booked (`fills_part_kept`), and whether the listing was read to its end (the next call
        then starts over): a listing longer than the cap is read over several calls, never
        refused, and a part whose booking failed is read again, never skipped.

        The CLOB lists trades newest first, its cursor an offset. A round's first part reads
        from the top and dates the round by its newest trade (the CLOB's clock, whole seconds);
        the parts after it list only trades up to that second (`before`), so the listing they
        page holds still. A round ended from a cursor then reads the trades since that second
        (`after`): one made between two parts is read in that round, never missed (one
        listed twice is booked once). More of them than a read holds: the round is not whole
        and the next starts over from the top."""
        self._trades_read.pop(symbol, None)
        market = self._listed_by(symbol)
        if market is None:
            return [], True
        start, since = self._trades_resume.get(symbol, (CLOB_START, -1))
        paged = since >= 0  # pages read listed up to the round's second (`before`)
        if not paged:  # the round's first part: dated by its first page's newest trade
            rows, cursor, since, paged = await self._round_top(market)
        else:
            narrowed = market | {"before": str(since + 1)}
            rows, cursor = await clob_pages_from(
                self._trades_of(narrowed), start, max_pages=self.max_pages
            )
        fills = self._fills(rows)
        whole = cursor == CLOB_END
        if whole and paged:  # ended on pages up to its second: the trades since it began
            newer = self._trades_of(market | {"after": str(since - 1)})
            rows, end = await clob_pages_from(newer, CLOB_START, max_pages=self.max_pages)
            fills += self._fills(rows)
            whole = end == CLOB_END
        self._trades_read[symbol] = (cursor, since)
        return [f for f in fills if f.symbol == symbol], whole

    async def _round_top(self, market: dict[str, str]) -> tuple[list[Any], str, int, bool]:
        """A round's first part: its first page from the top, the round dated by that page's
        newest trade, and its other pages listed up to that second (`before`), as the round's
        later parts are. A trade made once the first page is read lands on top of the listing
        and, were the pages after it read unnarrowed, would shift the cursor past one the
        narrowed listing holds: that trade skipped for good. Whether pages after the first
        were read (the trades since that second are then read too)."""
        first = self._trades_of(market)
        rows, cursor = await clob_pages_from(first, CLOB_START, max_pages=1)
        since = max(map(row_second, rows), default=-1)
        if since < 0 and cursor != CLOB_END:  # no time read: the CLOB's clock, not ours
            since = await self._clob_second()
        if cursor != CLOB_END and self.max_pages > 1:
            narrowed = self._trades_of(market | {"before": str(since + 1)})
            more, cursor = await clob_pages_from(narrowed, cursor, max_pages=self.max_pages - 1)
            return rows + more, cursor, since, True
        return rows, cursor, since, False

    async def _clob_second(self) -> int:
        """The CLOB's clock (`GET /time`, seconds): no trade read before it is dated later."""
        now = await self._send("fetch_fills", "GET", "/time", {})
        if isinstance(now, bool) or not isinstance(now, int) or now <= 0:
            raise not_object(self.name, "fetch_fills", "GET /time", now, "not a Unix second")
        return now

    def fills_part_kept(self, symbol: str) -> None:
        """The trades the last `fetch_fills_part` of `symbol` read are booked: the next read
        goes on from where it stopped (starts over once it read to the end)."""
        read = self._trades_read.pop(symbol, None)
        if read is None:
            return
        if read[0] == CLOB_END:
            self._trades_resume.pop(symbol, None)
        else:
            self._trades_resume[symbol] = read

    def fills_from(self, row: dict[str, Any]) -> list[Fill]:
        """Our fills in a trade row (REST, `user` channel): `trade_rows`; a FAILED's kept apart."""
        by_hash = {h: c for c, h in self._hashes.items()}
        key = self.api_creds["api_key"] if self.api_creds else ""
        fills = row_fills(self.name, row, self._symbol_of_token, by_hash, self.signer.address, key)
        return kept_fills(self, row, fills)

    def _fills(self, rows: list[Any]) -> list[Fill]:
        parsed = parsed_rows(self.name, rows, self.fills_from, self.unreadable_fills)
        return [fill for fills in parsed for fill in fills]

    async def fetch_balances(self) -> list[Balance]:
        """pUSD cash and the outcome tokens held (every listed token is asked)."""
        return await self._balances(list(self._tokens))

    async def _fill_balances(self) -> list[Balance]:
        # after a fill: the tokens held at the last read and those traded since
        traded, self._traded = self._traded, set()
        try:
            return await self._balances(sorted((self._held | traded) & self._tokens.keys()))
        except BaseException:
            self._traded |= traded  # asked again by the next read
            raise

    async def _balances(self, symbols: list[str]) -> list[Balance]:
        self.balance_reader.read_started()
        try:
            return await self._read_balances(symbols)
        finally:
            self.balance_reader.read_finished()

    async def _read_balances(self, symbols: list[str]) -> list[Balance]:
        data = await self._private(
            "fetch_balances", "GET", "/balance-allowance", params={"asset_type": "COLLATERAL"}
        )
        out = [Balance(self.name, QUOTE, Decimal(data["balance"]) / SCALE)]
        for symbol in symbols:
            held = await self._private(
                "fetch_balances", "GET", "/balance-allowance",
                params={"asset_type": "CONDITIONAL", "token_id": self._tokens[symbol][0]},
            )  # fmt: skip
            amount = Decimal(held["balance"]) / SCALE
            if amount:
                out.append(Balance(self.name, symbol.split("/", 1)[0], amount))
                self._held.add(symbol)
            else:
                self._held.discard(symbol)
        return out

    async def fetch_quote(self, symbol: str) -> Quote:
        """One outcome token's quote with depth from the REST book."""
        token, _ = self._token(symbol)
        book = TokenBook()
        book.reset(await self._send("fetch_quote", "GET", "/book", {}, params={"token_id": token}))
        return book.quote(symbol, self.clock.now_ms())

    @property
    def market_ws_url(self) -> str:
        """The `market` channel next to the `user` channel (empty when streams are off)."""
        return self.ws_url.removesuffix("/user") + "/market" if self.ws_url else ""

    def lists(self, symbol: str) -> bool:
        """Tell whether `symbol` is one of the outcomes loaded with the instruments: a held
        contract no strategy streams (`tradeguard serve`) is still valued at its book."""
        return symbol in self.instruments

    async def fetch_reference_quote(self, symbol: str) -> Quote | None:
        """A held outcome's quote from Polymarket's REST book (bid 0 where the book has no bids)."""
        return await self.fetch_quote(symbol) if symbol in self.instruments else None

    @property
    def quotes_polled(self) -> bool:
        """No WebSocket configured: books come from REST every `quote_poll_s`, by design."""
        return not self.market_ws_url

    def stream_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        return self.stream_quotes_reporting(symbols, None)

    def stream_quotes_reporting(
        self, symbols: list[str], fallback: RestFallback | None
    ) -> AsyncIterator[Quote]:
        """The `market` channel after a REST snapshot; REST polling while it is down, told to
        `fallback` (each failed attempt, then the first WebSocket quote)."""
        if not self.market_ws_url:
            return venue_book_stream(self, symbols, None)
        tokens = {self._token(s)[0]: s for s in symbols}

        def ws() -> AsyncIterator[Quote]:
            return market_ws_quotes(self.market_ws_url, tokens, self.clock.now_ms)

        return venue_book_stream(self, symbols, ws, fallback)

    # dead-man switch ---------------------------------------------------------------------
    def _start_heartbeat(self) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.create_task(beat(self), name=f"{self.name}:heartbeat")
