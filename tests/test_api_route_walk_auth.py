"""Every route the app serves needs a token, except the documented public ones.

The route list is walked from the app itself (routes left out of the OpenAPI schema, routers
included in routers, WebSockets), not from the schema, so a route added without the gate in
mind cannot slip by: each HTTP method of each route is asked without a token and must be
refused 401 (its body unread); each WebSocket must close 4401 without one.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import websockets
from fastapi.routing import APIWebSocketRoute
from starlette.routing import Mount, Route, WebSocketRoute

from test_api_support import build_app, client, replayed_node
from tradeguard.api.server import ApiServer

# Public by design (README): the health probe, the dashboard page and its static files, and
# the API's own description.
PUBLIC = {
    ("GET", "/api/v1/health"),
    ("HEAD", "/api/v1/health"),
    ("GET", "/"),
    ("HEAD", "/"),
    ("GET", "/openapi.json"),
    ("HEAD", "/openapi.json"),
}
PUBLIC_MOUNTS = {"/static"}


def walk(routes: list[Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(full path, route) of every route, routers included in routers opened up."""
    out: list[tuple[str, Any]] = []
    for route in routes:
        candidates = getattr(route, "effective_candidates", None)
        if candidates is not None:  # an included router
            out += walk(candidates(), prefix)
            continue
        original = getattr(route, "original_route", None)
        if original is not None:  # a route of an included router, its path with the prefix
            path = route.path or route.frontend_prefix + getattr(original, "path", "")
            out.append((prefix + path, original))
            continue
        out.append((prefix + getattr(route, "path", ""), route))
    return out


def _filled(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


async def test_every_http_route_refuses_a_request_without_a_token(tmp_path, data_dir) -> None:
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, _ = build_app(node)
    routes = walk(app.routes)
    http_routes = [(p, r) for p, r in routes if isinstance(r, Route)]
    mounts = {p for p, r in routes if isinstance(r, Mount)}
    assert mounts == PUBLIC_MOUNTS, mounts
    walked = {(m, p) for p, r in http_routes for m in r.methods or ()}
    described = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    assert described <= walked, described - walked  # the walk reaches every described route
    failures = []
    seen = 0
    async with client(app) as http:
        for path, route in http_routes:
            for method in sorted(route.methods or ()):
                if (method, path) in PUBLIC:
                    continue
                seen += 1
                r = await http.request(method, _filled(path), content=b'{"reason": "x"}')
                if r.status_code != 401:
                    failures.append(f"{method} {path}: {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures)
    assert seen >= len(described) - 2
    assert node.risk.state.name == "ACTIVE"  # nothing reached a route: no kill, no pause
    node.close()


async def test_every_websocket_closes_4401_without_a_token(tmp_path, data_dir) -> None:
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, _ = build_app(node)
    sockets = [p for p, r in walk(app.routes) if isinstance(r, APIWebSocketRoute | WebSocketRoute)]
    assert "/api/v1/stream" in sockets
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    outcomes = {}
    try:
        for path in sockets:
            url = f"ws://127.0.0.1:{server.port}{_filled(path)}"
            try:
                async with websockets.connect(url) as ws:
                    await ws.send(json.dumps({"type": "subscribe"}))  # no token in it
                    outcomes[path] = f"answered {await asyncio.wait_for(ws.recv(), 8)}"
            except websockets.ConnectionClosed as exc:
                outcomes[path] = f"closed {exc.rcvd.code if exc.rcvd else None}"
            except websockets.InvalidStatus as exc:
                outcomes[path] = f"status {exc.response.status_code}"
    finally:
        await server.stop()
        node.close()
    assert outcomes == {p: "closed 4401" for p in sockets}, outcomes
