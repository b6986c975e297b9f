"""The HTTP API, WebSocket stream, metrics and dashboard of one running node.

```python
app = create_app(node)               # FastAPI; serve it with ApiServer(node, host, port)
```

Every route lives under `/api/v1`. Reads need a viewer token, actions a trader token, the paper
reset an admin token; resume, flatten, the paper reset and a switch to live also need the
token's TOTP code in `X-TOTP`. Handlers are all `async`: they run on the node's event loop, so
they never race the trading loop.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from tradeguard.api.arb_figures import ArbFigures
from tradeguard.api.auth import FailureLimiter, TokenStore
from tradeguard.api.bot_desk import BotDesk
from tradeguard.api.clients import parse_networks
from tradeguard.api.deps import NotStarted, starting_response
from tradeguard.api.errors import invalid_request, unparsable_body
from tradeguard.api.fastpath import StateFastPath
from tradeguard.api.gate import RequestGate
from tradeguard.api.headers import SecurityHeaders
from tradeguard.api.metrics import NodeMetrics
from tradeguard.api.params import checked_parameters, declare_limits
from tradeguard.api.routes import (
    arbitrage,
    bots,
    control,
    dashboard,
    marketdata,
    orders,
    pm_arb,
    portfolio,
    safety,
    settlements,
    status,
    strategies,
    stream,
    trading,
)
from tradeguard.api.state import ApiState
from tradeguard.api.strict_json import declare_not_null
from tradeguard.secrets.vault import PASSPHRASE_ENV

if TYPE_CHECKING:
    from tradeguard.node import TradingNode

_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ROUTERS = (status, portfolio, orders, strategies, arbitrage, control, stream, dashboard, safety)
_ROUTERS_MORE = (bots, trading, settlements, pm_arb, marketdata)


def create_app(
    node: TradingNode,
    *,
    tokens: TokenStore | None = None,
    passphrase: str | None = None,
    auth_failures_per_min: int | None = None,
) -> FastAPI:
    """Build the API, stream, metrics and dashboard for `node`."""
    limit = auth_failures_per_min or node.config.api.auth_failures_per_min
    arb = ArbFigures(node.storage)
    state = ApiState(
        node=node,
        tokens=tokens or TokenStore(node.db, node.storage),
        limiter=FailureLimiter(
            limit,
            60.0,
            node.config.api.auth_failures_per_min_network,
            global_limit=node.config.api.auth_failures_per_min_global,
        ),
        passphrase=passphrase if passphrase is not None else os.environ.get(PASSPHRASE_ENV),
        metrics=NodeMetrics(node, arb=arb),
        arb=arb,
        max_body_bytes=node.config.api.max_body_bytes,
        proxies=parse_networks(node.config.api.trusted_proxies),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.metrics.start()
        try:
            yield
        finally:
            await state.metrics.stop()

    app = FastAPI(
        title="tradeguard",
        version="1",
        summary="Watch and steer a trading node: every order passes the risk engine.",
        lifespan=lifespan,
        dependencies=[Depends(checked_parameters)],  # NUL, non-UTF-8, overlong, repeated
        # FastAPI's /docs and /redoc pages load their scripts from CDNs: the CSP refuses them
        # (a blank page) and the browser still calls out; /openapi.json describes the API
        docs_url=None,
        redoc_url=None,
    )
    app.state.api = state
    spec = app.openapi
    declared = lambda: declare_not_null(declare_limits(spec()))  # noqa: E731
    app.openapi = lambda: app.openapi_schema or declared()  # type: ignore[method-assign]
    BotDesk.for_node(node)  # stored exit rules are enforced from the start

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return invalid_request(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return unparsable_body(exc) or await http_exception_handler(request, exc)

    @app.exception_handler(NotStarted)
    async def _starting(request: Request, exc: NotStarted) -> JSONResponse:
        return starting_response()

    for area in (*_ROUTERS, *_ROUTERS_MORE):
        app.include_router(area.router)
    dashboard.mount_static(app)
    # Valid requests for the state skip the framework; the route stays for the schema and for
    # every request that must be refused.
    app.add_middleware(StateFastPath, api=state)
    app.add_middleware(RequestGate, api=state)
    app.add_middleware(SecurityHeaders)
    return app


def mutating_routes(app: FastAPI) -> list[tuple[str, str]]:
    """List (method, path) of every state-changing operation in the app's OpenAPI schema."""
    out = []
    for path, ops in app.openapi().get("paths", {}).items():
        for method in ops:
            if method.upper() in _MUTATING:
                out.append((method.upper(), path))
    return sorted(out)
