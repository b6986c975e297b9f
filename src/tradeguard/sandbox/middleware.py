"""Around every request: loopback-only admin, injected faults, request weight, error bodies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import InvalidOperation
from functools import partial
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Middleware

from tradeguard.sandbox.loopback import LOOPBACK, too_large
from tradeguard.sandbox.matching import EngineReject
from tradeguard.sandbox.params import ApiError, error_response
from tradeguard.sandbox.ratelimit import request_weight
from tradeguard.sandbox.unmatched import allowing, unmatched

if TYPE_CHECKING:
    from tradeguard.sandbox.server import SandboxExchange

_API_CODE = web.ResponseKey("api_code", int)
MAX_BODY = web.AppKey("max_body_bytes", int)  # the app's client_max_size, named in its 413

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_middleware(ex: SandboxExchange) -> Middleware:
    """The exchange's aiohttp middleware."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        missing = unmatched(request)
        if missing is not None:  # answered in the venue's shape, through the same faults/log
            handler = partial(_no_route, ex, *missing)
        path = request.path
        if path.startswith("/admin"):
            return await _admin(request, handler)
        if not (path.startswith("/api/") or path.startswith("/sapi/")):
            return await handler(request)
        resp = await _api(ex, request, handler)
        if ex.request_log is not None and resp.status != _CLIENT_GONE:
            body = await _logged_body(request, resp.status)
            ex.request_log.write(
                ex.now_ms(), request.method, path, request.query_string, body,
                request.headers.get("X-MBX-APIKEY"), resp.status,
                resp.get(_API_CODE),
            )  # fmt: skip
        return resp

    return middleware


async def _logged_body(request: web.Request, status: int) -> str:
    """The body the request log keeps: "" for none, or one over the limit (never read whole;
    a handler that read none, a public call's, left the answer its own)."""
    if not request.can_read_body or status == _TOO_LARGE:
        return ""
    try:
        return await request.text()
    except web.HTTPRequestEntityTooLarge:  # the log changes no answer
        return ""


async def _admin(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.remote not in LOOPBACK:
        return error_response(ApiError(-2015, "Admin endpoints answer loopback only.", 403))
    try:
        if request.method == "POST" and request.can_read_body:
            body = await request.json()  # aiohttp keeps the bytes for the handler's read
            if not isinstance(body, dict):
                kind = type(body).__name__
                return web.json_response(
                    {"error": f"the body is JSON {kind}; send a JSON object"}, status=400
                )
        return await handler(request)
    except RecursionError:  # json.loads on thousands of nested arrays
        return web.json_response(
            {"error": "the body is not valid JSON (nested too deeply)"}, status=400
        )
    except json.JSONDecodeError as exc:
        return web.json_response(
            {"error": f"the body is not valid JSON: {exc.msg} at column {exc.colno}"}, status=400
        )
    except KeyError as exc:
        return web.json_response({"error": f"missing field {exc}"}, status=400)
    except (ValueError, TypeError, InvalidOperation) as exc:  # the handlers name the field
        return web.json_response({"error": str(exc) or type(exc).__name__}, status=400)
    except EngineReject as exc:
        return error_response(ApiError(exc.code, exc.msg, exc.http_status))
    except web.HTTPRequestEntityTooLarge:
        return web.json_response({"error": too_large(request.app[MAX_BODY])}, status=_TOO_LARGE)


_CLIENT_GONE = 499  # nginx's "client closed request"; never seen by a client
_TOO_LARGE = 413


def body_too_large(limit: int) -> ApiError:
    """Binance's error for a body over `limit` bytes (aiohttp's own answer is plain text, which
    ccxt reads as a successful response); -1101, a request not to send again as it is."""
    return ApiError(
        -1101, f"Request body too large; the limit is {limit} bytes. Send fewer parameters.",
        _TOO_LARGE,
    )  # fmt: skip


async def _no_route(
    ex: SandboxExchange, status: int, why: str, request: web.Request
) -> web.Response:
    return allowing(request, ex.no_route(status, why))


def _client_gone() -> web.Response:
    return web.Response(status=_CLIENT_GONE, text="client closed the request")


def coded(exc: ApiError) -> web.Response:
    """Binance's error body for `exc`, its code kept for the request log."""
    resp = error_response(exc)
    resp[_API_CODE] = exc.code
    return resp


async def _api(ex: SandboxExchange, request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    delay = ex.faults.latency_for(path)
    if delay:
        await asyncio.sleep(delay / 1000)
    if ex.faults.take_5xx():
        return web.Response(status=503, text="Service Unavailable.")
    now = ex.now_ms()
    if ex.faults.take_429():
        burst = coded(
            ApiError(-1003, "Too many requests; current limit is exceeded. (injected)", 429)
        )
        burst.headers["Retry-After"] = "1"
        return burst
    ip = request.remote or "?"
    verdict = ex.limiter.check(ip, request_weight(request.method, path, dict(request.query)), now)
    if not verdict.allowed:
        if verdict.status == 418:
            msg = (
                f"Way too much request weight used; IP banned until "
                f"{verdict.banned_until_ms}. Please use WebSocket Streams for live "
                "updates to avoid bans."
            )
        else:
            msg = (
                "Too much request weight used; current limit is "
                f"{ex.limiter.limit_per_minute} request weight per 1 MINUTE. Please use "
                "WebSocket Streams for live updates to avoid polling the API."
            )
        refused = coded(ApiError(-1003, msg, verdict.status))
        refused.headers["Retry-After"] = str(verdict.retry_after_s)
        refused.headers["X-MBX-USED-WEIGHT-1M"] = str(verdict.used_weight)
        return refused
    resp: web.StreamResponse
    try:
        resp = await handler(request)
    except ConnectionResetError:
        # the client went away before its body arrived (killed mid-request): nothing to
        # answer, and no traceback on the sandbox's terminal
        return _client_gone()
    except ApiError as exc:
        resp = coded(exc)
    except web.HTTPRequestEntityTooLarge:
        resp = coded(body_too_large(request.app[MAX_BODY]))
    except EngineReject as exc:
        resp = coded(ApiError(exc.code, exc.msg, exc.http_status))
    held = ex.faults.latency_after_for(path)
    if held:  # executed already: only the answer waits (a client may die meanwhile)
        await asyncio.sleep(held / 1000)
    resp.headers["X-MBX-USED-WEIGHT-1M"] = str(verdict.used_weight)
    resp.headers["X-MBX-USED-WEIGHT"] = str(verdict.used_weight)
    return resp
