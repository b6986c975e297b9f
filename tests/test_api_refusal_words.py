"""A refused request is told what is wrong in words: the field, its value and the rule.

Before, a bad symbol was answered with the raw regular expression, a body of the wrong shape
with pydantic's "valid dictionary or object to extract fields from", and an unknown query
parameter (`?limt=10`) was ignored: the default page came back as if asked for.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIWebSocketRoute

from test_api_support import bare_paper_config, bearer, build_app, client
from tradeguard.api.errors import pattern_rule
from tradeguard.api.kill_body import KILL_ROUTES
from tradeguard.api.params import _declared
from tradeguard.node import build_node

FALLBACK = pattern_rule("^no route declares this$")
# what must never reach a client: regular expressions, Python/pydantic wording and addresses
LEAKS = re.compile(
    r"\[A-Z|\^\(|\)\$|\{1,|Input should|dictionary|pydantic|errors\.pydantic|"
    r"Field required|Extra inputs|<class|function-after|unable to parse"
)


@pytest.fixture
async def node(tmp_path: Path, data_dir: Path):
    node = build_node(bare_paper_config(tmp_path, data_dir, 30))
    await node.start()
    yield node
    await node.stop()


def _patterns(spec: Any) -> set[str]:
    if isinstance(spec, dict):
        found = {spec["pattern"]} if isinstance(spec.get("pattern"), str) else set()
        return found.union(*(_patterns(v) for v in spec.values()))
    if isinstance(spec, list):
        return set().union(*(_patterns(v) for v in spec))
    return set()


async def test_every_pattern_a_route_declares_has_its_rule_in_words(node) -> None:
    app, _ = build_app(node)
    patterns = _patterns(app.openapi())
    assert len(patterns) >= 8  # symbols, ids, decimals, choices, NUL-free text
    unworded = sorted(p for p in patterns if pattern_rule(p) == FALLBACK)
    assert not unworded, f"patterns with no rule in words (add to PATTERN_RULES): {unworded}"


BAD_BODIES = [
    ({"venue": "paper", "symbol": "btc-usdt", "side": "buy", "type": "market", "amount": "1"},
     "symbol", '"btc-usdt"', "BASE/QUOTE"),
    ({"venue": "Paper!", "symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "1"},
     "venue", '"Paper!"', "1 to 32 of a-z"),
    ({"venue": "paper", "symbol": ["BTC/USDT"], "side": "buy", "type": "market", "amount": "1"},
     "symbol", '["BTC/USDT"]', "must be a string"),
    ([], "(body)", "[]", "must be a JSON object"),
    ({"venue": "paper", "side": "buy", "type": "market", "amount": "1"},
     "symbol", None, "is required"),
    ({"venue": "paper", "symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "1",
      "colour": "red"}, "colour", '"red"', "is not a field of this request"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "field", "value", "rule"), BAD_BODIES)
async def test_a_bad_order_body_is_named_in_words(node, body, field, value, rule) -> None:
    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.post(
            "/api/v1/orders", json=body, headers=bearer(tokens.trader, tokens.trader_totp)
        )
    assert r.status_code == 422, r.text
    assert not LEAKS.search(r.text), r.text
    line = r.json()["error"]
    named = f"{field} = {value}:" if value is not None else f"{field}:"
    assert named in line and rule in line, line


@pytest.mark.parametrize(
    ("url", "field", "rule"),
    [
        ("/api/v1/orders?status=foo", "query.status", "must be one of all, open"),
        ("/api/v1/orders?limit=abc", "query.limit", "must be a whole number"),
        ("/api/v1/positions?status=x", "query.status", "must be one of open, closed"),
    ],
)
async def test_a_bad_query_value_is_named_in_words(node, url, field, rule) -> None:
    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.get(url, headers=bearer(tokens.viewer))
    assert r.status_code == 422, r.text
    assert not LEAKS.search(r.text), r.text
    assert f"{field} = " in r.json()["error"] and rule in r.json()["error"], r.text


def _filled(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(method, path, its query parameters) for every operation the API declares."""
    out = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            names = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
            out.append((method.upper(), path, sorted(names)))
    return out


async def test_every_route_refuses_an_unknown_query_parameter_naming_the_ones_it_takes(
    node,
) -> None:
    app, tokens = build_app(node)
    admin = bearer(tokens.admin, tokens.admin_totp)
    operations = _operations(app.openapi())
    assert len(operations) > 40  # the walk reaches the whole API
    failures = []
    async with client(app) as http:
        for method, path, takes in operations:
            admin["X-TOTP"] = tokens.admin_totp.now()
            r = await http.request(method, _filled(path) + "?limt=10", headers=admin)
            line = r.json().get("error", "") if r.status_code == 422 else ""
            listed = ", ".join(takes) if takes else "none"
            said = f"unknown query parameter; this route takes: {listed}"
            if path in KILL_ROUTES:  # a kill halts anyway, naming what it ignored
                [ignored] = r.json().get("ignored", [{}])
                line = f"{ignored.get('field')}: {ignored.get('message')}"
                halted = node.risk.state.name == "HALTED"
                node.risk.resume("test", "next route")
                line = line if halted else ""
            if f"query.limt: {said}" not in line:
                failures.append(f"{method} {path}: {r.status_code} {r.text[:160]}")
    assert not failures, "\n".join(failures)
    assert node.risk.state.name == "ACTIVE"  # the refused /pause did nothing


def _websocket_routes(routes: list[Any]) -> list[APIWebSocketRoute]:
    out = []
    for route in routes:
        if isinstance(route, APIWebSocketRoute):
            out.append(route)
        inner = getattr(route, "original_router", None) or getattr(route, "router", None)
        if inner is not None and inner is not route:
            out += _websocket_routes(getattr(inner, "routes", []))
    return out


async def test_declared_parameters_are_still_served_and_the_stream_takes_its_token(node) -> None:
    app, tokens = build_app(node)
    ws = _websocket_routes(app.routes)
    assert ws and all("token" in _declared(r) for r in ws)
    async with client(app) as http:
        ok = await http.get("/api/v1/orders?status=open&limit=10", headers=bearer(tokens.viewer))
        fast = await http.get("/api/v1/state", headers=bearer(tokens.viewer))
        slow = await http.get("/api/v1/state?limt=1", headers=bearer(tokens.viewer))
        cors = await http.head("/api/v1/health")
    assert ok.status_code == 200 and ok.json()["limit"] == 10
    assert fast.status_code == 200
    assert slow.status_code == 422 and "query.limt" in slow.json()["error"], slow.text
    assert cors.status_code == 200, cors.text
