"""Every response carries the security headers; health and figures stay JSON-clean."""

from __future__ import annotations

import math

from test_api_support import bearer, build_app, client, replayed_node
from tradeguard.api.serialisers import performance_json
from tradeguard.portfolio.analytics import performance

EXPECTED = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


async def test_security_headers_on_api_refusals_dashboard_and_static_files(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, tokens = build_app(node)
    async with client(app) as http:
        answers = [
            await http.get("/api/v1/state", headers=bearer(tokens.viewer)),  # the fast path
            await http.get("/api/v1/orders", headers=bearer(tokens.viewer)),
            await http.get("/api/v1/orders"),  # refused at the gate
            await http.get("/api/v1/health"),
            await http.get("/"),
            await http.get("/static/app.js"),
        ]
    for r in answers:
        for name, value in EXPECTED.items():
            assert r.headers.get(name) == value, (r.request.url, name, r.headers.get(name))
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
    node.close()


async def test_health_names_the_mode_without_a_token(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, _ = build_app(node)
    async with client(app) as http:
        r = await http.get("/api/v1/health")
    assert r.status_code == 200
    assert r.json()["mode"] == "paper" and r.json()["status"] == "ok"
    node.close()


def test_an_unbounded_profit_factor_is_null_with_a_flag_never_inf():
    out = performance_json(performance([3, 4]))
    assert out["profit_factor"] is None and out["profit_factor_infinite"] is True
    bounded = performance_json(performance([10, -5]))
    assert bounded["profit_factor"] == 2.0 and bounded["profit_factor_infinite"] is False
    assert all(not (isinstance(v, float) and not math.isfinite(v)) for v in out.values())
