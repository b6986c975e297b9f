"""The API offers no CORS: a browser's preflight from another site's page is refused at once,
without a token, and leaves no trace on the failed-auth limit.

A preflight (OPTIONS with Origin and Access-Control-Request-Method) carries no credentials by
the browser's rules: it was answered 401 and counted as a failed authentication, so a page
on another site could fill the limit of the user's own address and lock the dashboard out
with 429. It is now 403 naming why, with no Access-Control-Allow-* header (the browser then
refuses the request it was asking about), and uncounted.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from test_api_support import bearer, build_app, client, started_node

PREFLIGHT = {
    "Origin": "https://evil.example",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, x-totp",
}


@pytest.fixture
async def node(tmp_path: Path, data_dir: Path):
    async with started_node(tmp_path, data_dir, rows=30) as node:
        yield node


@pytest.mark.parametrize("path", ["/api/v1/kill", "/api/v1/positions", "/api/v1/health", "/"])
async def test_a_preflight_is_refused_without_a_token_and_without_cors_headers(node, path) -> None:
    app, _ = build_app(node)
    async with client(app) as http:
        r = await http.options(path, headers=PREFLIGHT)
    assert r.status_code == 403, r.text
    assert not [h for h in r.headers if h.startswith("access-control-")], r.headers
    assert r.json() == {
        "detail": "cross-origin request refused: this API offers no CORS (no other site's "
        "page may call it); use the dashboard it serves, or call it from a program"
    }
    assert r.headers["x-frame-options"] == "DENY"  # the usual security headers still come


async def test_preflights_never_count_as_failed_authentications(node) -> None:
    app, tokens = build_app(node, failures_per_min=2)
    async with client(app) as http:
        for _ in range(5):
            r = await http.options("/api/v1/orders", headers=PREFLIGHT)
            assert r.status_code == 403, r.text
        anonymous = await http.get("/api/v1/positions")
        held = await http.get("/api/v1/positions", headers=bearer(tokens.viewer))
    assert anonymous.status_code == 401, anonymous.text  # before: 429, the limit filled
    assert held.status_code == 200
    audited = node.storage.load_events(kind_prefix="api.auth_failed")
    assert len(audited) == 1, audited  # the anonymous GET alone


async def test_an_options_request_that_is_no_preflight_still_needs_a_token(node) -> None:
    app, _ = build_app(node)
    async with client(app) as http:
        r = await http.options("/api/v1/positions", headers={"Origin": "https://evil.example"})
    assert r.status_code == 401
