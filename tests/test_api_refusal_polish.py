"""A browser's dashboard link may carry query parameters; a body that is not JSON is shown as
the text sent.

The unknown-parameter refusal answered the dashboard page itself with a JSON 422 when its link
carried a parameter the page does not read (a bookmark's `?utm_source=...`, a cache-buster),
and a body sent as text/plain or a form was echoed as a Python bytes literal (`b'...'`). A body
with one very long key or thousands of unknown ones was echoed whole, twice.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from test_api_support import bare_paper_config, bearer, build_app, client
from tradeguard.node import build_node


@pytest.fixture
async def node(tmp_path: Path, data_dir: Path):
    node = build_node(bare_paper_config(tmp_path, data_dir, 30))
    await node.start()
    yield node
    await node.stop()


@pytest.mark.parametrize("query", ["?utm_source=mail", "?v=2&_=1733460000", "?tab=bots"])
async def test_the_dashboard_page_opens_whatever_its_link_carries(node, query) -> None:
    app, tokens = build_app(node)
    async with client(app) as http:
        page = await http.get("/" + query)
        api = await http.get("/api/v1/positions" + query, headers=bearer(tokens.viewer))
    assert page.status_code == 200, page.text[:200]
    assert page.headers["content-type"].startswith("text/html")
    assert "<title>tradeguard</title>" in page.text
    assert api.status_code == 422  # the API still refuses what it does not take
    assert "unknown query parameter" in api.json()["error"]


@pytest.mark.parametrize(
    ("content_type", "body", "shown"),
    [
        ("text/plain", b"hello world", '"hello world"'),
        ("application/x-www-form-urlencoded", b"venue=paper&side=buy", '"venue=paper&side=buy"'),
        ("text/plain", "caf\u00e9 <b>".encode(), '"caf\\u00e9 <b>"'),
        ("text/plain", b"\xff\xfe", '"\\ufffd\\ufffd"'),
    ],
)
async def test_a_body_not_sent_as_json_is_shown_as_its_text(
    node, content_type, body, shown
) -> None:
    app, tokens = build_app(node)
    headers = {**bearer(tokens.trader, tokens.trader_totp), "content-type": content_type}
    async with client(app) as http:
        r = await http.post("/api/v1/orders", content=body, headers=headers)
    assert r.status_code == 422, r.text
    error = r.json()["errors"][0]
    assert error["field"] == "(body)" and error["value"] == shown, r.text
    assert "b'" not in r.text and 'b\\"' not in r.text, r.text
    assert "Content-Type: application/json" in error["message"], r.text
    assert "(body) = " + shown in r.json()["error"]


async def test_a_json_body_of_the_wrong_shape_keeps_its_wording(node) -> None:
    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.post(
            "/api/v1/orders", json=[], headers=bearer(tokens.trader, tokens.trader_totp)
        )
    assert r.status_code == 422
    assert r.json()["errors"][0] == {
        "field": "(body)",
        "value": "[]",
        "message": "must be a JSON object",
    }


@pytest.mark.parametrize(
    "extra",
    [
        {"K" * 60_000: 1},  # a key as long as the body allows
        {str(i): 1 for i in range(3_000)},  # thousands of unknown keys
        {"amount": "9" * 60_000},  # a value a validator words in its message
    ],
    ids=["long-key", "many-keys", "long-value"],
)
async def test_a_refusal_never_echoes_the_body_at_length(node, extra) -> None:
    app, tokens = build_app(node)
    body = {"venue": "paper", "symbol": "BTC/USDT", "side": "buy", "type": "market",
            "amount": "1", **extra}  # fmt: skip
    async with client(app) as http:
        r = await http.post(
            "/api/v1/orders", json=body, headers=bearer(tokens.trader, tokens.trader_totp)
        )
    assert r.status_code == 422, r.text[:300]
    assert len(r.content) < 8_000, (len(r.content), r.text[:300])
    doc = r.json()
    assert doc["errors"] and all(len(e["field"]) <= 65 for e in doc["errors"])
    assert all(len(e["message"]) <= 301 for e in doc["errors"])
    if len(extra) > 1:
        assert f"and {3_000 - len(doc['errors'])} more" in doc["error"], doc["error"][-200:]


async def test_the_cache_buster_is_taken_by_every_route_and_checked_like_any_value(node) -> None:
    # `_=<time>` is what browsers' scripts and monitoring probes append to dodge caches
    app, tokens = build_app(node)
    async with client(app) as http:
        health = await http.get("/api/v1/health?_=1733460000")
        positions = await http.get("/api/v1/positions?_=1", headers=bearer(tokens.viewer))
        twice = await http.get("/api/v1/positions?_=1&_=2", headers=bearer(tokens.viewer))
        nul = await http.get("/api/v1/positions?_=%00", headers=bearer(tokens.viewer))
        other = await http.get("/api/v1/positions?__=1", headers=bearer(tokens.viewer))
    assert health.status_code in (200, 503) and "unknown" not in health.text, health.text[:200]
    assert positions.status_code == 200, positions.text[:200]
    assert twice.status_code == 422 and "more than once" in twice.text, twice.text[:300]
    assert nul.status_code == 422, nul.text[:300]
    assert other.status_code == 422 and "unknown query parameter" in other.text, other.text[:300]
