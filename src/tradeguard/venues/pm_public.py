"""Public market data of Kalshi and Polymarket (`data_only = true`): markets and books, no key.

```toml
[[venues]]
name = "pm-data"
kind = "polymarket"
data_only = true          # no credentials: listing, books and the public market channel only
```

A data-only venue lists the open markets (the instruments a paper venue takes) and streams
their books with depth, and reads which markets have resolved. It holds no key and sends no
signed request: Polymarket's `market` WebSocket channel is public; Kalshi's WebSocket needs a
key for every channel, so a data-only Kalshi venue polls the public REST book every
`quote_poll_s` (1 s) instead. Listings are read over every page (`venues/paging.py`). Before
streaming a Polymarket market's books it reads that market's fee from the public
`GET /clob-markets/{condition id}` (`fd: {r, e}`); the CLOB's `/markets` carries no fee.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx

from tradeguard.clock import Clock
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError, VenueError
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Quote
from tradeguard.model.money import ONE, ZERO, dec
from tradeguard.model.outcome import Resolution, parse_outcome_symbol
from tradeguard.venues.http_answer import answer_json, no_answer
from tradeguard.venues.kalshi import markets as kalshi_markets
from tradeguard.venues.kalshi.book_stream import KalshiBook
from tradeguard.venues.outcome_stream import StreamStats, venue_book_stream
from tradeguard.venues.paging import MAX_PAGES, clob_pages, kalshi_pages
from tradeguard.venues.polymarket import markets as clob_markets
from tradeguard.venues.polymarket.book_stream import TokenBook, market_ws_quotes

if TYPE_CHECKING:
    from tradeguard.marketdata.live.streams import RestFallback

log = logging.getLogger(__name__)


class PublicData:
    """What both data-only venues share: unsigned GETs, instruments, the node's hooks."""

    kind = ""
    quote = ""

    def __init__(self, name: str, rest_url: str, clock: Clock, quote_poll_s: float = 1.0) -> None:
        self.name = name
        self.rest_url = rest_url.rstrip("/")
        self.clock = clock
        self.quote_poll_s = quote_poll_s
        self.instruments: dict[str, Instrument] = {}
        # taker fee (rate, exponent) per symbol where the listing gives the market's own
        self.fee_rates: dict[str, tuple[Decimal, Decimal]] = {}
        self.book_stats = StreamStats()
        self.max_pages = MAX_PAGES  # listings longer than this many pages are refused
        self._http = httpx.AsyncClient(timeout=10.0)

    async def get(self, op: str, path: str, params: dict[str, str] | None = None) -> Any:
        """One public GET (no key, no signature); venue errors name the operation."""
        try:
            resp = await self._http.get(f"{self.rest_url}{path}", params=params)
        except (httpx.TransportError, OSError) as exc:
            raise no_answer(self.name, op, exc, self.rest_url) from None
        return answer_json(self.name, op, resp)

    async def close(self) -> None:
        # a new client to start again with (a node started again in this process)
        http, self._http = self._http, httpx.AsyncClient(timeout=10.0)
        await http.aclose()

    async def kalshi_listing(self, op: str, status: str) -> list[Any]:
        """Every market of Kalshi's GET /markets with `status`, all pages."""

        async def page(query: dict[str, str]) -> Any:
            return await self.get(op, "/markets", query)

        return await kalshi_pages(
            page, "markets", {"status": status}, venue=self.name, op=op, max_pages=self.max_pages
        )

    async def clob_listing(self, op: str) -> list[Any]:
        """Every market of the CLOB's GET /markets, all pages."""

        async def page(query: dict[str, str]) -> Any:
            return await self.get(op, "/markets", query)

        return await clob_pages(page, venue=self.name, op=op, max_pages=self.max_pages)

    def lists(self, symbol: str) -> bool:
        """Tell whether `symbol` is an outcome of an open market listed here: a leg a paper
        venue on this data holds is valued at its public book where no strategy streams it
        (`tradeguard serve`). An outcome prices only itself: no other asset pairs with it."""
        return symbol in self.instruments

    async def fetch_reference_quote(self, symbol: str) -> Quote | None:
        """A held outcome's quote from the public REST book (bid 0 where it has no bids)."""
        return await self.fetch_quote(symbol) if symbol in self.instruments else None

    async def fetch_quote(self, symbol: str) -> Quote:
        raise NotImplementedError

    async def fetch_resolutions(self) -> dict[str, Resolution]:
        """Resolved markets by id (each venue reads its public listing)."""
        raise NotImplementedError

    def venue_instruments(self, venue: str) -> dict[str, Instrument]:
        """This venue's instruments as the paper venue `venue` lists them."""
        return {s: _renamed(i, venue) for s, i in self.instruments.items()}


def _renamed(inst: Instrument, venue: str) -> Instrument:
    from dataclasses import replace

    return replace(inst, venue=venue)


class KalshiPublicData(PublicData):
    """Kalshi's open markets and REST books (`rest_url` ends with /trade-api/v2)."""

    kind = "kalshi"
    quote = kalshi_markets.QUOTE
    quotes_polled = True  # no public WebSocket: REST books every `quote_poll_s`, by design

    async def load_instruments(self) -> dict[str, Instrument]:
        for m in await self.kalshi_listing("load_instruments", "open"):
            for inst in kalshi_markets.listed_instruments(self.name, m):
                self.instruments[inst.symbol] = inst
        return dict(self.instruments)

    async def fetch_quote(self, symbol: str) -> Quote:
        ticker, outcome, _ = parse_outcome_symbol(symbol)
        book = KalshiBook()
        data = await self.get("fetch_quote", f"/markets/{ticker}/orderbook")
        book.reset(data.get("orderbook_fp") if isinstance(data, dict) else None)
        return book.quote(symbol, outcome, self.clock.now_ms())

    def stream_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        return venue_book_stream(self, symbols, None)

    async def fetch_resolutions(self) -> dict[str, Resolution]:
        """Markets no longer open with a result, by ticker."""
        out = {}
        for m in await self.kalshi_listing("fetch_resolutions", "settled"):
            resolution = kalshi_markets.market_resolution(m)
            if resolution is not None and isinstance(m.get("ticker"), str):
                out[m["ticker"]] = resolution
        return out


class PolymarketPublicData(PublicData):
    """Polymarket's open markets, REST books and the public `market` channel."""

    kind = "polymarket"
    quote = clob_markets.QUOTE
    quotes_polled = False

    def __init__(
        self, name: str, rest_url: str, clock: Clock, ws_url: str, quote_poll_s: float = 1.0
    ) -> None:
        super().__init__(name, rest_url, clock, quote_poll_s)
        self.ws_url = ws_url
        self._tokens: dict[str, str] = {}  # symbol -> token id
        self._conditions: dict[str, str] = {}  # symbol -> condition id (its market's fee info)

    async def load_instruments(self) -> dict[str, Instrument]:
        for m in await self.clob_listing("load_instruments"):
            for inst, token in clob_markets.listed_tokens(self.name, m):
                self.instruments[inst.symbol] = inst
                self._tokens[inst.symbol] = token
                self._conditions[inst.symbol] = str(m.get("condition_id") or "")
        return dict(self.instruments)

    async def load_fees(self, symbols: list[str]) -> list[str]:
        """Each market's taker fee (rate r, exponent e) from GET /clob-markets/{condition id},
        `fd: {r, e}`, where the official client reads it (absent: no fee, as it takes it).
        Return the symbols whose fee could not be read (logged; asked again next time)."""
        unread: list[str] = []
        wanted = (self._conditions.get(s, "") for s in symbols if s not in self.fee_rates)
        for cid in sorted({c for c in wanted if c}):
            market = sorted(s for s, c in self._conditions.items() if c == cid)
            try:
                fee = await self._market_fee(cid)
            except (VenueError, ValueError) as exc:
                log.warning("%s: fee of %s not read (%s): no book for it until it is",
                            self.name, ", ".join(market), exc)  # fmt: skip
                unread += [s for s in market if s in symbols]
                continue
            for symbol in market:
                self.fee_rates[symbol] = fee
        return unread

    async def _market_fee(self, cid: str) -> tuple[Decimal, Decimal]:
        info = await self.get("load_fees", f"/clob-markets/{cid}")
        fd = info.get("fd") if isinstance(info, dict) else None
        fd = fd if isinstance(fd, dict) else {}
        return _fee_part(fd, "r", ONE), _fee_part(fd, "e", Decimal(10))

    def token_id(self, symbol: str) -> str | None:
        """Return the token id listed for an outcome symbol, None if it is not listed."""
        return self._tokens.get(symbol)

    def _token(self, symbol: str) -> str:
        token = self._tokens.get(symbol)
        if token is None:
            raise DefinitiveVenueError(self.name, f"unknown market {symbol}", "BAD_SYMBOL")
        return token

    async def fetch_quote(self, symbol: str) -> Quote:
        book = TokenBook()
        book.reset(await self.get("fetch_quote", "/book", {"token_id": self._token(symbol)}))
        return book.quote(symbol, self.clock.now_ms())

    def stream_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        return self.stream_quotes_reporting(symbols, None)

    async def stream_quotes_reporting(
        self, symbols: list[str], fallback: RestFallback | None
    ) -> AsyncIterator[Quote]:
        """The markets' fees first (a paper venue charges them on the fills these books make),
        then the public `market` channel after a REST snapshot; REST polling while it is down,
        told to `fallback`."""
        unread = await self.load_fees(symbols)
        # A market whose fee is unknown streams no book: a paper fill there would be charged
        # nothing. The others stream; a later stream start asks for it again.
        symbols = [s for s in symbols if s not in unread]
        if not symbols:
            raise AmbiguousVenueError(self.name, "no market's fee could be read", "FEES")
        tokens = {self._token(s): s for s in symbols}

        def ws() -> AsyncIterator[Quote]:
            return market_ws_quotes(self.ws_url, tokens, self.clock.now_ms)

        async for quote in venue_book_stream(self, symbols, ws, fallback):
            yield quote

    async def fetch_resolutions(self) -> dict[str, Resolution]:
        """Closed markets by slug: the winning token's side, or void when none won."""
        out = {}
        for m in await self.clob_listing("fetch_resolutions"):
            resolution = clob_markets.market_resolution(m)
            if resolution is not None:
                out[m["market_slug"]] = resolution
        return out


def build_pm_data_venue(vc: Any, clock: Clock) -> PublicData:
    """The data-only venue of a kalshi or polymarket VenueConfig (public endpoints only), its
    listings capped at the config's `max_pages`."""
    from tradeguard.venues.pm_build import KALSHI_URLS, POLYMARKET_URL

    data: PublicData
    if vc.kind == "kalshi":
        rest = vc.rest_url or KALSHI_URLS[bool(vc.sandbox)][0]
        data = KalshiPublicData(vc.name, rest, clock)
    else:
        rest = vc.rest_url or POLYMARKET_URL
        ws = vc.ws_url or (
            rest.replace("http", "ws", 1) + "/ws/market" if vc.rest_url else POLYMARKET_MARKET_WS
        )
        data = PolymarketPublicData(vc.name, rest, clock, ws)
    data.max_pages = int(getattr(vc, "max_pages", MAX_PAGES))
    return data


POLYMARKET_MARKET_WS = "wss://ws-subscriptions-clob.polymarket.com/ws/market"


def _fee_part(fd: dict[str, Any], key: str, high: Decimal) -> Decimal:
    """fd[key] of a market's fee info (absent: 0) as a number in [0, high], else ValueError."""
    raw = fd.get(key, 0)
    value = Decimal("NaN")
    if isinstance(raw, (int, float, str)) and not isinstance(raw, bool):
        with contextlib.suppress(ValueError):  # refused below, by name
            value = dec(str(raw), f"fd.{key}")
    if not value.is_finite() or not ZERO <= value <= high:
        raise ValueError(f"fd.{key} = {str(raw)[:40]!r}: expected a number in [0, {high}]")
    return value
