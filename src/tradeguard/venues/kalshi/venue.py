"""The `kalshi` venue: binary contracts on Kalshi through our signed client.

Every order carries our client order id (journaled before send); an unknown outcome (timeout,
5xx, 429, a duplicate id) is resolved by listing the account's orders, never by guessing.
Fills arrive on the signed `fill` WebSocket channel and in the answer to `submit`; balances are
read after fills (`venues.fill_balances`), as the channel carries none.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx

from tradeguard.clock import Clock
from tradeguard.model.balance import Balance
from tradeguard.model.enums import LiquiditySide, OrderStatus, OrderType, Side, TimeInForce
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Quote
from tradeguard.model.money import ZERO, dec, venue_amount
from tradeguard.model.order import Order
from tradeguard.model.outcome import (
    Outcome,
    Resolution,
    Settlement,
    outcome_price,
    outcome_symbol,
    parse_outcome_symbol,
    split_signed_position,
)
from tradeguard.model.reports import OrderReport
from tradeguard.venues.base import Venue
from tradeguard.venues.fill_balances import BalanceReader
from tradeguard.venues.http_answer import no_answer, not_json, one_line, status_error
from tradeguard.venues.kalshi.book_stream import KalshiBook, kalshi_ws_quotes
from tradeguard.venues.kalshi.client import KalshiApiError, KalshiClient
from tradeguard.venues.kalshi.markets import QUOTE, listed_instruments
from tradeguard.venues.kalshi.signing import API_PREFIX
from tradeguard.venues.outcome_stream import StreamStats, venue_book_stream
from tradeguard.venues.paging import MAX_PAGES
from tradeguard.venues.user_stream import (
    FILL_ROW_ERRORS,
    UserStreamState,
    await_subscribed,
    cancel_task,
    frame_object,
    iso_ms,
    parsed_rows,
    skip_frame,
    skip_reason,
)

if TYPE_CHECKING:
    from tradeguard.marketdata.live.streams import RestFallback

log = logging.getLogger(__name__)

_TIF = {
    TimeInForce.GTC: "good_till_canceled",
    TimeInForce.IOC: "immediate_or_cancel",
    TimeInForce.FOK: "fill_or_kill",
}
_STATUS = {"resting": OrderStatus.ACCEPTED, "canceled": OrderStatus.CANCELLED}


def _status(row: dict[str, Any]) -> OrderStatus:
    filled, size = dec(row["fill_count_fp"]), dec(row["initial_count_fp"])
    if row["status"] == "executed" or (size > 0 and filled == size):
        return OrderStatus.FILLED
    if row["status"] == "resting" and filled > 0:
        return OrderStatus.PARTIALLY_FILLED
    return _STATUS.get(row["status"], OrderStatus.ACCEPTED)


class KalshiVenue(Venue):
    """A Kalshi account; credentials (key id, RSA key PEM) are handed in by the builder."""

    nets_outcome_pairs = True  # one signed position per market: YES + NO held pay 1 at once

    def __init__(
        self,
        name: str,
        rest_url: str,
        key_id: str,
        private_key_pem: str,
        clock: Clock,
        ws_url: str = "",
        stream_fills: bool = True,
        quote_poll_s: float = 1.0,
    ) -> None:
        super().__init__(name)
        self.client = KalshiClient(rest_url, key_id, private_key_pem, venue=name)
        self.clock = clock
        self.ws_url = ws_url
        self.stream_fills = stream_fills and bool(ws_url)
        self.quote_poll_s = quote_poll_s
        self.instruments: dict[str, Instrument] = {}
        self.max_pages = MAX_PAGES  # listings longer than this many pages are refused
        self._ws_task: asyncio.Task[None] | None = None
        self._ws_ready = asyncio.Event()
        self.book_stats = StreamStats()
        self.balance_reader = BalanceReader(name, self.fetch_balances, self.push_balances)

    async def connect(self) -> None:
        self.client.reopen()
        await self.load_instruments()
        if self.stream_fills:
            self.user_stream = UserStreamState()
            self._ws_task = asyncio.create_task(self._watch_fills(), name=f"{self.name}:fills")
            await await_subscribed(self.name, self._ws_ready, f"fill stream {self.ws_url}")

    async def close(self) -> None:
        await self.balance_reader.close()
        await cancel_task(self._ws_task)
        await self.client.close()

    async def _call(self, op: str, coro: Any) -> Any:
        try:
            return await coro
        except KalshiApiError as exc:
            if exc.code == "not_json":
                raise not_json(self.name, op, exc.route, exc.status, exc.message) from None
            # a reused client order id may hide an order placed by an earlier, lost answer
            raise status_error(self.name, op, exc.route, exc.status, exc.message, exc.code,
                               exc.retry_after, ambiguous=exc.code == "order_already_exists",
                               ) from None  # fmt: skip
        except (httpx.TransportError, OSError) as exc:
            raise no_answer(self.name, op, exc, self.client.rest_url) from None
        except (KeyError, TypeError) as exc:  # a JSON object without what the call reads
            raise self._bad_body(op, exc) from None

    @property
    def max_pages(self) -> int:
        """The page cap of every listing: markets, settlements and the account's own (fills,
        orders, positions: its client's)."""
        return self.client.max_pages

    @max_pages.setter
    def max_pages(self, pages: int) -> None:
        self.client.max_pages = pages

    def _bad_body(self, op: str, exc: Exception) -> AmbiguousVenueError:
        why = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
        return AmbiguousVenueError(
            self.name, f"{op} failed: the answer is not Kalshi's ({one_line(why)})", "BAD_BODY"
        )

    async def load_instruments(self) -> dict[str, Instrument]:
        for m in await self._call(
            "load_instruments", self.client.markets("open", self.name, self.max_pages)
        ):
            for inst in listed_instruments(self.name, m):
                self.instruments[inst.symbol] = inst
        return dict(self.instruments)

    def order_body(self, order: Order) -> dict[str, Any]:
        """The create-order request for `order` (a market order becomes an IOC at the limit)."""
        ticker, outcome, _ = parse_outcome_symbol(order.symbol)
        if order.type is OrderType.MARKET:
            price = Decimal("0.99") if order.side is Side.BUY else Decimal("0.01")
            tif = "immediate_or_cancel"
        else:
            assert order.price is not None
            price, tif = order.price, _TIF[order.time_in_force]
        return {
            "ticker": ticker,
            "client_order_id": order.client_order_id,
            "side": outcome.value,
            "action": order.side.value,
            "count_fp": f"{order.amount:.2f}",
            f"{outcome.value}_price_dollars": f"{price:.4f}",
            "time_in_force": tif,
            "self_trade_prevention_type": "taker_at_cross",
            "post_only": False,
            "reduce_only": order.reduce_only,
        }

    def _report(self, row: dict[str, Any]) -> OrderReport:
        side = Outcome(row["side"])
        own = dec(row[f"{side.value}_price_dollars"])
        # finite and >= 0: a NaN count made `filled > 0` raise outside every error path
        filled = venue_amount(row["fill_count_fp"], "fill_count_fp")
        cost = venue_amount(row.get("taker_fill_cost_dollars", "0"), "taker_fill_cost_dollars")
        return OrderReport(
            venue=self.name,
            symbol=outcome_symbol(row["ticker"], side, QUOTE),
            client_order_id=row["client_order_id"],
            venue_order_id=row["order_id"],
            status=_status(row),
            filled=filled,
            avg_price=cost / filled if filled else ZERO,
            amount=venue_amount(row["initial_count_fp"], "initial_count_fp"),
            ts=self.clock.now_ms(),
            side=row["action"],
            price=own,
        )

    def fill_from(self, row: dict[str, Any]) -> Fill:
        """A Fill from a REST or WebSocket fill row (the fill id makes it idempotent); a row
        no venue would send (an unknown side, a NaN or negative count or price) is ValueError."""
        if row.get("side") not in ("yes", "no"):
            raise ValueError(f"side: {row.get('side')!r} is not yes or no")
        side = Outcome(row["side"])
        return Fill(
            venue=self.name,
            symbol=outcome_symbol(row.get("ticker") or row["market_ticker"], side, QUOTE),
            client_order_id=row.get("client_order_id", ""),
            venue_order_id=row["order_id"],
            trade_id=row.get("fill_id") or row["trade_id"],  # the `fill` channel: trade_id
            side=Side(row["action"]),
            price=_own_price(row, side),
            amount=venue_amount(row["count_fp"], "count_fp"),
            fee=venue_amount(row.get("fee_cost", "0"), "fee_cost"),
            fee_asset=QUOTE,
            liquidity=LiquiditySide.TAKER if row.get("is_taker") else LiquiditySide.MAKER,
            ts=fill_ts_ms(row),
        )

    def _order_answer(self, op: str, route: str, data: dict[str, Any]) -> tuple[Any, OrderReport]:
        """The order of an order answer and its report; an answer with no readable order (a
        proxy's `{}`) leaves the request's effect unknown: an ambiguous error naming it."""
        try:
            row = data["order"]
            return row, self._report(row)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            why = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise AmbiguousVenueError(
                self.name,
                f"{op} failed: {route} answered no readable order ({why}): "
                f"{one_line(json.dumps(data))!r}",
                "BAD_BODY",
            ) from None

    async def submit(self, order: Order) -> OrderReport:
        data = await self._call("submit", self.client.create_order(self.order_body(order)))
        row, report = self._order_answer("submit", f"POST {API_PREFIX}/portfolio/orders", data)
        if report.filled > 0:
            await self._deliver_fills(row["order_id"])
        return report

    async def _deliver_fills(self, order_id: str) -> None:
        rows = await self._call("fetch_fills", self.client.fills(order_id=order_id))
        if self._listener is not None:
            for fill in parsed_rows(self.name, rows, self.fill_from, self.unreadable_fills):
                self._listener.on_fill(fill)
        if rows:
            self.balance_reader.after_fill()

    async def cancel(self, order: Order) -> OrderReport:
        order_id = order.venue_order_id
        if not order_id:
            found = await self.fetch_order(order.client_order_id, order.symbol)
            if found is None:
                raise DefinitiveVenueError(self.name, "cancel: order unknown", "ORDER_NOT_FOUND")
            order_id = found.venue_order_id
        data = await self._call("cancel", self.client.cancel_order(order_id))
        route = f"DELETE {API_PREFIX}/portfolio/orders/{order_id}"
        return self._order_answer("cancel", route, data)[1]

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderReport | None:
        ticker = parse_outcome_symbol(symbol)[0]
        rows = await self._call("fetch_order", self.client.orders(ticker=ticker, venue=self.name))
        try:  # a row no venue would send leaves the order's state unknown
            for row in rows:
                if row["client_order_id"] == client_order_id:
                    return self._report(row)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise self._bad_body("fetch_order", exc) from None
        return None

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        ticker = parse_outcome_symbol(symbol)[0] if symbol else None
        rows = await self._call(
            "fetch_open_orders", self.client.orders(ticker, "resting", self.name)
        )
        try:
            reports = [self._report(r) for r in rows]
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise self._bad_body("fetch_open_orders", exc) from None
        return [r for r in reports if symbol is None or r.symbol == symbol]

    async def fetch_fills(self, symbol: str, since_ts: int = 0) -> list[Fill]:
        """`symbol`'s fills from `since_ts` on: Kalshi lists those from the second before it
        (`min_ts`, whole seconds), so a long stop reads what it missed, never the market's
        whole history."""
        ticker = parse_outcome_symbol(symbol)[0]
        since_s = since_ts // 1000 - 1
        rows = await self._call("fetch_fills", self.client.fills(ticker=ticker, min_ts=since_s))
        fills = parsed_rows(self.name, rows, self.fill_from, self.unreadable_fills)
        return [f for f in fills if f.symbol == symbol and f.ts >= since_ts]

    async def fetch_balances(self) -> list[Balance]:
        """USD cash and, per market, the YES and NO held: a negative Kalshi position is NO, and
        contracts locked by resting sells are held beside it (the venue nets free ones only)."""
        self.balance_reader.read_started()
        try:
            return await self._read_balances()
        finally:
            self.balance_reader.read_finished()

    async def _read_balances(self) -> list[Balance]:
        # resting sells first: a sell filling between the reads leaves a fill to book, and the
        # balance check waits for it, where the other order would misplace the locked part
        rows = await self._call("fetch_balances", self.client.orders(None, "resting", self.name))
        bal = await self._call("fetch_balances", self.client.balance())
        positions = await self._call("fetch_balances", self.client.positions(self.name))
        try:  # a row no venue would send refuses the read: a lock misread misplaces contracts
            locks = resting_sell_locks(rows)
            out = [Balance(self.name, QUOTE, dec(bal["balance_dollars"]))]
            signed = {
                str(_row(p, "a position row")["ticker"]): _signed(p["position_fp"])
                for p in positions
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise self._bad_body("fetch_balances", exc) from None
        for ticker in sorted(set(signed) | {t for t, _ in locks}):
            out += outcome_balances(self.name, ticker, signed.get(ticker, ZERO), locks)
        return out

    async def fetch_settlements(self) -> list[Settlement]:
        """Every settled market of the account, as cash events."""
        rows = await self._call(
            "fetch_settlements", self.client.settlements(self.name, self.max_pages)
        )
        return [
            Settlement(
                venue=self.name,
                market=r["ticker"],
                resolution=Resolution.parse(r["market_result"]),
                yes_contracts=dec(r["yes_count_fp"]),
                no_contracts=dec(r["no_count_fp"]),
                cash=dec(r["revenue_dollars"]),
                quote=QUOTE,
                ts=settled_ms(r["settled_time"]),
            )
            for r in rows
        ]

    async def fetch_quote(self, symbol: str) -> Quote:
        """One outcome's quote with depth from the REST order book (bids only on both sides)."""
        ticker, outcome, _ = parse_outcome_symbol(symbol)
        book = KalshiBook()
        book.reset(await self._call("fetch_quote", self.client.orderbook(ticker)))
        return book.quote(symbol, outcome, self.clock.now_ms())

    def lists(self, symbol: str) -> bool:
        """Tell whether `symbol` is one of the outcomes loaded with the instruments: a held
        contract no strategy streams (`tradeguard serve`) is still valued at its book."""
        return symbol in self.instruments

    async def fetch_reference_quote(self, symbol: str) -> Quote | None:
        """A held outcome's quote from Kalshi's REST book (bid 0 where the book has no bids)."""
        return await self.fetch_quote(symbol) if symbol in self.instruments else None

    @property
    def quotes_polled(self) -> bool:
        """No WebSocket configured: books come from REST every `quote_poll_s`, by design."""
        return not self.ws_url

    def stream_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        return self.stream_quotes_reporting(symbols, None)

    def stream_quotes_reporting(
        self, symbols: list[str], fallback: RestFallback | None
    ) -> AsyncIterator[Quote]:
        """The `orderbook_delta` channel after a REST snapshot; REST polling while it is down,
        told to `fallback` (each failed attempt, then the first WebSocket quote)."""
        if not self.ws_url:
            return venue_book_stream(self, symbols, None)
        path = "/" + self.ws_url.split("://", 1)[1].split("/", 1)[1]

        def ws() -> AsyncIterator[Quote]:
            headers = lambda: self.client.signed_headers("GET", path, self.clock.now_ms())  # noqa: E731
            return kalshi_ws_quotes(self.ws_url, headers, symbols, self.clock.now_ms)

        return venue_book_stream(self, symbols, ws, fallback)

    def _on_frame(self, msg: aiohttp.WSMessage) -> None:
        data = (
            frame_object(self.name, str(msg.data)) if msg.type is aiohttp.WSMsgType.TEXT else None
        )
        if data is None:
            return
        if data.get("type") == "subscribed":
            self._ws_ready.set()
        elif data.get("type") == "fill" and self._listener is not None:
            row = data.get("msg")
            try:
                fill = self.fill_from(row if isinstance(row, dict) else {})
            except FILL_ROW_ERRORS as exc:
                skip_frame(self.name, skip_reason(exc))
                return
            self._listener.on_fill(fill)
            self.balance_reader.after_fill()

    async def _watch_fills(self) -> None:
        path = self.ws_url.split("://", 1)[1].split("/", 1)[1]
        stream = self.user_stream or UserStreamState()
        while True:
            headers = self.client.signed_headers("GET", f"/{path}", self.clock.now_ms())
            try:
                async with (
                    aiohttp.ClientSession() as session,
                    session.ws_connect(self.ws_url, headers=headers, heartbeat=10) as ws,
                ):
                    await ws.send_json(
                        {"id": 1, "cmd": "subscribe", "params": {"channels": ["fill"]}}
                    )
                    async for msg in ws:
                        stream.on_message()
                        self._on_frame(msg)
            except (aiohttp.ClientError, OSError) as exc:
                log.warning(
                    "%s: fill stream lost (%s); reconnecting", self.name, type(exc).__name__
                )
            stream.set_connected(False)  # closed, by an error or by the server
            await asyncio.sleep(0.5)


def resting_sell_locks(rows: list[Any]) -> dict[tuple[str, Outcome], Decimal]:
    """Contracts each (ticker, outcome) has locked in resting sells of the listed orders."""
    locks: dict[tuple[str, Outcome], Decimal] = {}
    for row in map(_row, rows):
        if row.get("action") != "sell" or row.get("status") != "resting":
            continue
        left = row.get("remaining_count_fp")
        rest = (
            venue_amount(left, "remaining_count_fp") if left is not None
            else venue_amount(row["initial_count_fp"], "initial_count_fp")
            - venue_amount(row["fill_count_fp"], "fill_count_fp")
        )  # fmt: skip
        if row.get("side") not in ("yes", "no"):
            raise ValueError(f"side {row.get('side')!r} is not yes or no")
        key = (str(row["ticker"]), Outcome(row["side"]))
        locks[key] = locks.get(key, ZERO) + rest
    return locks


def _row(row: Any, what: str = "an order row") -> dict[str, Any]:
    if not isinstance(row, dict):
        raise TypeError(f"{what} is {type(row).__name__}, not an object")
    return row


def _signed(value: Any) -> Decimal:
    signed = dec(value, "position_fp")
    if not signed.is_finite():
        raise ValueError(f"position_fp {value!r} is not a finite number")
    return signed


def outcome_balances(
    venue: str, ticker: str, signed: Decimal, locks: dict[tuple[str, Outcome], Decimal]
) -> list[Balance]:
    """The YES and NO balances behind a market's signed position: contracts a resting sell
    locks are held (never netted) beside the free side the sign names."""
    ly, ln = locks.get((ticker, Outcome.YES), ZERO), locks.get((ticker, Outcome.NO), ZERO)
    yes, no = split_signed_position(signed, ly, ln)
    return [
        Balance(venue, f"{ticker}:{o.value.upper()}", total - locked, locked)
        for o, total, locked in ((Outcome.YES, yes, ly), (Outcome.NO, no, ln))
        if total
    ]


def _own_price(row: dict[str, Any], side: Outcome) -> Decimal:
    """The price of the side filled: REST rows carry both sides' prices, the `fill` channel
    only `yes_price_dollars` (a NO fill's price is 1 minus it)."""
    key = f"{side.value}_price_dollars"
    if key in row or side is Outcome.YES:
        return outcome_price(row[key], key)
    return 1 - outcome_price(row["yes_price_dollars"], "yes_price_dollars")


def settled_ms(value: object) -> int:
    """A settlement's time in ms: Kalshi sends `settled_time` as RFC 3339 (a number is taken
    as ms, as before)."""
    ms = iso_ms(value)
    return int(Decimal(str(value))) if ms is None else ms


def fill_ts_ms(row: dict[str, Any]) -> int:
    """A fill's time in ms: `created_time` carries the fraction of a second `ts` (whole
    seconds) drops, and start-up reconciliation tells a trade made by hand after the ledger
    opened from one before it by that fraction; `ts` when `created_time` is absent or not ISO
    8601."""
    ms = iso_ms(row.get("created_time"))
    return int(row["ts"]) * 1000 if ms is None else ms
