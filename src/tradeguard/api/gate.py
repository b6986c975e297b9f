"""The door of every HTTP request: the token checked and the body capped before it is read.

A request to a route that needs a token is refused (401, or 429 for a client over the
failed-auth limit) from its headers alone, so an anonymous upload is never read. A body larger
than `api.max_body_bytes` is refused with 413: at once when Content-Length says so, else as
soon as the bytes streamed in pass the limit. A valid token is never refused by the failed-auth
limit, so a trader locked behind someone else's bad guesses can still hit the kill switch.

The API offers no CORS: a browser's preflight (OPTIONS with Origin and
Access-Control-Request-Method, which never carries a token) is refused with 403 before any
token check and without any Access-Control-Allow-* header, so another site's page is refused
and never counts against the failed-auth limit of its visitor's address. A request (or a
stream's handshake) whose Host is not a name the API answers to is refused first (`hosts`).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradeguard.api.clients import client_address
from tradeguard.api.deps import API, authenticate
from tradeguard.api.hosts import allowed_names, host_refusal
from tradeguard.api.kill_body import KILL_ROUTES, note_ignored
from tradeguard.api.state import ApiState

_OPEN_PATHS = frozenset({f"{API}/health"})
NO_CORS = (
    "cross-origin request refused: this API offers no CORS (no other site's page may call it); "
    "use the dashboard it serves, or call it from a program"
)


def needs_token(path: str) -> bool:
    """Tell whether a request to `path` must carry a valid token."""
    return (path.startswith("/api/") and path not in _OPEN_PATHS) or path == "/metrics"


def is_preflight(scope: Scope) -> bool:
    """Tell whether the request is a browser's CORS preflight."""
    if scope.get("method") != "OPTIONS":
        return False
    names = {k for k, _ in scope["headers"]}
    return b"origin" in names and b"access-control-request-method" in names


def bearer_token(scope: Scope) -> str | None:
    """Return the credentials of an `Authorization: Bearer …` header, as HTTPBearer reads it;
    raise 400 when the header is given twice with different values (which one a proxy or a
    log took for the caller is a guess: the first was read here)."""
    given = {v for k, v in scope["headers"] if k == b"authorization"}
    if len(given) > 1:
        raise HTTPException(400, "Authorization is given twice with different values: send one")
    header = next(iter(given), None)
    if header is None:
        return None
    scheme, _, credentials = header.decode("latin-1").partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        return None
    return credentials


class BodyTooLarge(HTTPException):
    """The body streamed in passed the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large(limit))


def too_large(limit: int) -> str:
    """Say that a body is over the limit, naming the limit and the key."""
    return f"request body exceeds {limit} bytes (api.max_body_bytes)"


async def _refuse(send: Send, status: int, detail: str, headers: dict[str, str]) -> None:
    body = orjson.dumps({"detail": detail})
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    # The body is left unread: the server closes the connection after answering.
    raw.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _declared_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def _closing(send: Send) -> Send:
    """`send`, answering with `Connection: close` (the body left unread is not read on)."""

    async def closing(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), (b"connection", b"close")]
        await send(message)

    return closing


class RequestGate:
    """Resolve the client, check the token, cap the body (see the module docstring)."""

    def __init__(self, app: ASGIApp, api: ApiState) -> None:
        self.app = app
        self.api = api
        self.hosts = allowed_names(api.node.config.api)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            refused = host_refusal(scope, self.hosts)
            if refused is not None:  # a DNS-rebinding page: its name is not this node's
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008, "reason": ""})
                else:
                    await _refuse(send, 400, refused, {})
                return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = self.api
        client = client_address(scope, api.proxies)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["client"] = client
        if is_preflight(scope):
            await _refuse(send, 403, NO_CORS, {})
            return
        if needs_token(scope["path"]):
            try:
                state["token"] = authenticate(api, bearer_token(scope), client)
            except HTTPException as exc:
                await _refuse(send, exc.status_code, str(exc.detail), dict(exc.headers or {}))
                return
        limit = api.max_body_bytes
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            if scope["path"] in KILL_ROUTES:  # it halts anyway, its body left unread
                note_ignored(scope, [{"type": "value_error", "loc": ("body",),
                                      "msg": too_large(limit), "input": None}])  # fmt: skip
                await self.app(scope, _no_body, _closing(send))
                return
            await _refuse(send, 413, too_large(limit), {})
            return
        await self._capped(scope, receive, send, limit)

    async def _capped(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = over = False

        async def counted() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if over:  # hang up rather than read the rest of the body to keep the connection
                    message["headers"] = [*message.get("headers", ()), (b"connection", b"close")]
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(send, 413, too_large(limit), {})
