"""GET /state for a valid viewer token, answered straight from the ASGI scope."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from tradeguard.api.auth import Role, TokenInfo
from tradeguard.api.deps import API
from tradeguard.api.serialisers import json_response, state_payload
from tradeguard.api.state import ApiState

STATE_PATH = f"{API}/state"


class StateFastPath:
    """Answer GET /state for a valid viewer token without the framework.

    Dashboards and monitors poll it while a replay shares the event loop, where FastAPI's
    routing, dependency resolution and exception layers cost more than the answer itself. It
    sits inside the request gate, so only a request carrying a token the gate accepted is
    taken here; every other one goes on to the route.
    """

    def __init__(self, app: ASGIApp, api: ApiState) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == STATE_PATH
            and scope["method"] == "GET"
            and not scope.get("query_string")  # /state takes none: the route refuses them
            and self._viewer(scope)
        ):
            await json_response(state_payload(self.api.node))(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _viewer(self, scope: Scope) -> bool:
        info = scope.get("state", {}).get("token")  # checked at the gate
        # a token bound to a bot goes on to the route, which refuses it
        return isinstance(info, TokenInfo) and info.role >= Role.VIEWER and info.bot is None
