"""GET /state for a valid viewer token, answered straight from the ASGI scope."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from tradeguard.api.auth import Role
from tradeguard.api.deps import API
from tradeguard.api.serialisers import json_response, state_payload
from tradeguard.api.state import ApiState

STATE_PATH = f"{API}/state"


class StateFastPath:
    """Answer GET /state for a valid viewer token without the framework.

    Dashboards and monitors poll it while a replay shares the event loop, where FastAPI's
    routing, dependency resolution and exception layers cost more than the answer itself. Only
    a request the route would answer with 200 is taken here, after the same bearer parsing, rate
    limit and token check; every other one (no token, a bad or revoked one, a client being
    limited) goes on to the route, which refuses and audits it as always.
    """

    def __init__(self, app: ASGIApp, api: ApiState) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == STATE_PATH
            and scope["method"] == "GET"
            and self._viewer(scope)
        ):
            await json_response(state_payload(self.api.node))(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _viewer(self, scope: Scope) -> bool:
        header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if header is None:
            return False
        # As HTTPBearer reads it: "<scheme> <credentials>", scheme case-insensitive.
        scheme, _, credentials = header.decode("latin-1").partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials:
            return False
        client = scope["client"][0] if scope.get("client") else "unknown"
        if self.api.limiter.blocked_for(client) > 0:
            return False
        info = self.api.tokens.verify(credentials)
        return info is not None and info.role >= Role.VIEWER
