"""A small async client for Kalshi's Trade API v2: every request signed with RSA-PSS."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tradeguard.venues.http_answer import error_detail, retry_after_s, route_of
from tradeguard.venues.kalshi.signing import API_PREFIX, auth_headers, load_private_key
from tradeguard.venues.paging import MAX_PAGES, kalshi_pages

# An answer that is not a JSON object (a proxy's HTML page, garbage): the call's outcome is unknown.
INVALID_RESPONSE = "invalid_response"


class KalshiApiError(Exception):
    """Kalshi answered with an error (or a body that is not JSON, code `not_json`): HTTP status,
    Kalshi's code and message, the route and the answer's Retry-After."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        route: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{route} answered HTTP {status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.route, self.retry_after = route, retry_after


class KalshiClient:
    """Signed REST calls; `rest_url` ends with `/trade-api/v2`."""

    def __init__(
        self,
        rest_url: str,
        key_id: str,
        private_key_pem: str,
        timeout_s: float = 10.0,
        venue: str = "kalshi",
    ) -> None:
        self.rest_url = rest_url.rstrip("/")
        self.venue = venue  # names the venue in a listing's errors
        self.max_pages = MAX_PAGES  # the account's listings longer than this are refused
        if not self.rest_url.endswith(API_PREFIX):
            raise ValueError(f"kalshi rest_url {rest_url!r} must end with {API_PREFIX}")
        self.key_id = key_id
        self._key = load_private_key(private_key_pem)
        self._http = httpx.AsyncClient(timeout=timeout_s)

    def signed_headers(self, method: str, path: str, now_ms: int) -> dict[str, str]:
        """Headers for `path` below /trade-api/v2 (also used for the WebSocket handshake)."""
        return auth_headers(self.key_id, self._key, now_ms, method, path)

    async def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Call `path` (below /trade-api/v2); raise KalshiApiError on an error answer."""
        full = f"{API_PREFIX}{path}"
        headers = self.signed_headers(method, full, int(time.time() * 1000))
        resp = await self._http.request(
            method, f"{self.rest_url}{path}", params=params, json=body, headers=headers
        )
        route = route_of(resp)
        if resp.status_code >= 400:
            code, message = error_detail(resp)
            raise KalshiApiError(resp.status_code, code, message, route, retry_after_s(resp))
        try:
            data: dict[str, Any] = resp.json()
        except (ValueError, RecursionError):  # RecursionError: deeply nested arrays
            raise KalshiApiError(resp.status_code, "not_json", resp.text, route) from None
        if not isinstance(data, dict):  # a list or a bare value: not an answer of this API
            raise KalshiApiError(resp.status_code, "not_json", resp.text, route)
        return data

    async def close(self) -> None:
        await self._http.aclose()

    def reopen(self) -> None:
        """Take requests again once closed (a stop, a failed start-up): the node may start
        again in this process."""
        if self._http.is_closed:
            self._http = httpx.AsyncClient(timeout=self._http.timeout)

    # the calls the venue uses ------------------------------------------------------------
    async def markets(
        self, status: str = "open", venue: str = "kalshi", max_pages: int = MAX_PAGES
    ) -> list[dict[str, Any]]:
        """Every market with `status`, following the listing's cursor over all its pages."""

        async def page(query: dict[str, str]) -> dict[str, Any]:
            return await self.request("GET", "/markets", query)

        op = f"GET /markets?status={status}"
        return await kalshi_pages(
            page, "markets", {"status": status}, venue=venue, op=op, max_pages=max_pages
        )

    async def orderbook(self, ticker: str) -> dict[str, Any]:
        data = await self.request("GET", f"/markets/{ticker}/orderbook")
        return dict(data["orderbook_fp"])

    async def create_order(self, body: dict[str, Any]) -> dict[str, Any]:
        """The whole answer: `{"order": {...}}` from Kalshi (the caller reads the order)."""
        return await self.request("POST", "/portfolio/orders", body=body)

    async def cancel_order(self, order_id: str) -> dict[str, Any]:
        """The whole answer: `{"order": {...}}` from Kalshi (the caller reads the order)."""
        return await self.request("DELETE", f"/portfolio/orders/{order_id}")

    async def orders(
        self, ticker: str | None = None, status: str | None = None, venue: str = "kalshi"
    ) -> list[Any]:
        """Every order of the account (of `ticker`, with `status`), all pages (200 a page)."""
        params = {k: v for k, v in (("ticker", ticker), ("status", status)) if v}
        return await self._listing("/portfolio/orders", "orders", params, venue)

    async def fills(
        self, ticker: str | None = None, order_id: str | None = None, min_ts: int = 0
    ) -> list[Any]:
        """The account's fills (in `ticker`, of `order_id`, from Unix second `min_ts` on when
        it is above 0), all pages."""
        params = {k: v for k, v in (("ticker", ticker), ("order_id", order_id)) if v}
        if min_ts > 0:
            params["min_ts"] = str(min_ts)
        return await self._listing("/portfolio/fills", "fills", params, self.venue)

    async def balance(self) -> dict[str, Any]:
        return await self.request("GET", "/portfolio/balance")

    async def positions(self, venue: str = "kalshi") -> list[Any]:
        """Every market position of the account, all pages (200 a page)."""
        return await self._listing("/portfolio/positions", "market_positions", {}, venue)

    async def _listing(self, path: str, key: str, params: dict[str, str], venue: str) -> list[Any]:
        async def page(query: dict[str, str]) -> dict[str, Any]:
            data = await self.request("GET", path, query)
            rows = data[key]  # a page without its list is no empty page: KeyError, read as such
            if not isinstance(rows, list):
                raise TypeError(f"{key} is {type(rows).__name__}, not a list")
            return data

        op = f"GET {path}"
        return await kalshi_pages(
            page, key, params, venue=venue, op=op, limit=200, max_pages=self.max_pages
        )

    async def settlements(self, venue: str = "kalshi", max_pages: int = MAX_PAGES) -> list[Any]:
        """Every settlement of the account, all pages (200 a page)."""

        async def page(query: dict[str, str]) -> dict[str, Any]:
            return await self.request("GET", "/portfolio/settlements", query)

        op = "GET /portfolio/settlements"
        return await kalshi_pages(
            page, "settlements", {}, venue=venue, op=op, limit=200, max_pages=max_pages
        )
