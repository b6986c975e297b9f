"""The sandbox exchange speaking Kraken's spot REST API and websockets v2 (public and
authenticated), over the same engine as the Binance one.

async with KrakenSandbox(SandboxConfig()) as ex:
    ex.add_market("BTC/USD", "BTC", "USD", tick="0.1", step="0.00000001",
                  min_qty="0.0001", min_notional="0.5")
    ex.add_account("key", base64_secret, {"USD": Decimal("10000")})
    ex.set_book("BTC/USD", bids=[("49999", "1")], asks=[("50001", "1")])
    ...  # point ccxt.kraken at ex.base_url (see kraken.client)

Markets, books, accounts, faults (latency, 5xx), seeding, the house's refill, random walk and
replay are the Binance sandbox's; fees are Kraken's (both sides pay in the quote asset).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tradeguard.sandbox.kraken.auth import KrakenAuthError, KrakenKeys
from tradeguard.sandbox.kraken.names import asset_id, pair_altname, pair_id
from tradeguard.sandbox.kraken.private import KrakenPrivate
from tradeguard.sandbox.kraken.public import KrakenPublic
from tradeguard.sandbox.kraken.wire import KrakenError
from tradeguard.sandbox.kraken.ws import KrakenWs
from tradeguard.sandbox.kraken.ws_private import KrakenPrivateWs
from tradeguard.sandbox.matching import MarketSpec, Result
from tradeguard.sandbox.orders import EngineReject
from tradeguard.sandbox.server import MAX_BODY_BYTES, SandboxExchange

KRAKEN_MAKER_FEE = Decimal("0.0016")
KRAKEN_TAKER_FEE = Decimal("0.0026")
RATE_LIMITED = "EAPI:Rate limit exceeded"
WS_PATH = "/kraken-ws/v2"  # "v2" in it: ccxt pings a v2 socket with {"method": "ping"}
WS_AUTH_PATH = "/kraken-ws-auth/v2"  # the authenticated socket (Kraken's ws-auth.kraken.com/v2)


class KrakenSandbox(SandboxExchange):
    """A local exchange answering `/0/public/*` and signed `/0/private/*` like Kraken."""

    MARKET_FEES = (KRAKEN_MAKER_FEE, KRAKEN_TAKER_FEE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.kraken_keys = KrakenKeys()
        self.pair_symbols: dict[str, str] = {}  # pair id, altname or symbol -> engine symbol
        self.kraken_public = KrakenPublic(self)
        self.kraken_private = KrakenPrivate(self)
        self.kraken_ws = KrakenWs(self)
        self.kraken_ws_private = KrakenPrivateWs(self)
        self._bodies: dict[int, str] = {}  # request -> its form body, for the request log
        super().__init__(*args, **kwargs)

    @property
    def kraken_url(self) -> str:
        """Base of the REST API (`<base>/0/public/Time`), what ccxt's `urls['api']` takes."""
        return self.base_url

    @property
    def kraken_ws_url(self) -> str:
        """Kraken's public websocket v2 here, what ccxt's `urls['api']['ws']['publicV2']` takes."""
        return f"ws://{self.config.host}:{self.port}{WS_PATH}"

    @property
    def kraken_ws_auth_url(self) -> str:
        """Kraken's authenticated websocket v2 here (ccxt's `urls['api']['ws']['privateV2']`)."""
        return f"ws://{self.config.host}:{self.port}{WS_AUTH_PATH}"

    async def start(self) -> None:
        await super().start()
        self.spawn(self.kraken_ws.heartbeats())
        self.spawn(self.kraken_ws_private.heartbeats())

    async def stop(self) -> None:
        await self.kraken_ws.close_all()
        await self.kraken_ws_private.close_all()
        await super().stop()

    def disconnect_websockets(self) -> int:
        """Drop every websocket, Kraken's and the Binance-shaped ones; return how many."""
        dropped = self.kraken_ws.drop_all() + self.kraken_ws_private.drop_all()
        return dropped + super().disconnect_websockets()

    def publish(
        self, result: Result, symbols: set[str], withhold_reports_of: str | None = None
    ) -> None:
        """Send an engine result to the websocket's subscribers, then as the base exchange does
        (which triggers crossed stops and publishes their results through here too)."""
        self.kraken_ws.on_result(result, symbols)
        self.kraken_ws_private.on_result(result, withhold_reports_of)
        super().publish(result, symbols, withhold_reports_of)

    def asset_id(self, asset: str) -> str:
        return asset_id(asset)

    def _keyed(self, api_key: str, secret: str, account_id: str) -> None:
        """Sign this key's requests with its base64 secret, as Kraken issues them."""
        self.kraken_keys.add(api_key, secret, account_id)

    def _listing(self, spec: MarketSpec) -> MarketSpec:
        """Its fees are charged in the quote asset and an order that would trade with its own
        account's is cancelled, as Kraken does; the pair answers to Kraken's names too."""
        for name in (pair_id(spec.base, spec.quote), pair_altname(spec.base, spec.quote)):
            self.pair_symbols[name] = spec.symbol
        return replace(spec, fee_in_quote=True, self_trade_cancels_newest=True)

    def no_route(self, status: int, why: str) -> web.Response:
        """Kraken's error list for a request no route takes (ccxt: ExchangeError)."""
        return web.json_response({"error": [f"EGeneral:Unknown method:{why}"]}, status=status)

    def _build_app(self) -> web.Application:
        app = super()._build_app()
        self.kraken_public.register(app.router, self._wrap)
        self.kraken_private.register(app.router, self._wrap)
        app.router.add_get(WS_PATH, self.kraken_ws.handle)
        app.router.add_get(WS_AUTH_PATH, self.kraken_ws_private.handle)
        return app

    def _wrap(self, fn: Callable[..., Any], private: bool = False) -> Any:
        """A handler answering `{"error": [...], "result": ...}` with the sandbox's faults
        (latency before and after execution, 5xx, 429 bursts as Kraken's rate-limit error) and
        the request log."""

        async def handler(request: web.Request) -> web.StreamResponse:
            path = request.path
            delay = self.faults.latency_for(path)
            if delay:
                await asyncio.sleep(delay / 1000)
            if self.faults.take_5xx():
                return self._logged(request, web.Response(status=503, text="Service Unavailable."))
            if self.faults.take_429():
                body: dict[str, Any] = {"error": [RATE_LIMITED]}
            else:
                body = await self._answer(request, fn, private)
            held = self.faults.latency_after_for(path)
            if held:  # executed already: only the answer waits
                await asyncio.sleep(held / 1000)
            answer = web.Response(text=json.dumps(body), content_type="application/json")
            return self._logged(request, answer)

        return handler

    async def _answer(self, request: web.Request, fn: Callable[..., Any], private: bool) -> Any:
        try:
            result = await self._private(request, fn) if private else await fn(request)
        except (KrakenError, KrakenAuthError) as exc:
            return {"error": [str(exc)]}
        except EngineReject as exc:
            return {"error": [f"EGeneral:Invalid arguments:{exc.msg}"]}
        return {"error": [], "result": result}

    def _logged(self, request: web.Request, resp: web.Response) -> web.Response:
        if self.request_log is not None:
            body = self._bodies.pop(id(request), "")
            self.request_log.write(
                self.now_ms(), request.method, request.path, request.query_string, body,
                request.headers.get("API-Key"), resp.status, None,
            )  # fmt: skip
        return resp

    async def _private(self, request: web.Request, fn: Callable[[str, dict[str, str]], Any]) -> Any:
        try:
            raw = await request.text()
        except UnicodeDecodeError:
            raise KrakenError("EGeneral:Invalid arguments:body is not UTF-8") from None
        except web.HTTPRequestEntityTooLarge:  # aiohttp's own answer is plain text
            raise KrakenError(
                f"EGeneral:Invalid arguments:request body over {MAX_BODY_BYTES} bytes"
            ) from None
        if self.request_log is not None:
            self._bodies[id(request)] = raw
        fields = dict(parse_qsl(raw, keep_blank_values=True))
        account = self.kraken_keys.verify(
            request.headers.get("API-Key", ""),
            request.headers.get("API-Sign", ""),
            request.path,
            fields.get("nonce", ""),
            raw,
        )
        return fn(account, fields)
