"""A bot's trade whose request is garbage (numbers that are not, wrong types, markup, an HTML
page, bytes that are not UTF-8, an empty or huge body) is refused on both safety routes with a
4xx answer naming the field, never a server error, and no order reaches the journal."""

from __future__ import annotations

from typing import Any

from bots_support import SYMBOL, rig

ROUTES = ("/api/v1/safety/validate-trade", "/api/v1/trades/execute")
FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"score": "NaN"}, "score"), ({"score": "1e999"}, "score"), ({"score": "-Infinity"}, "score"),
    ({"score": [1]}, "score"), ({"score": {"a": 1}}, "score"), ({"score": True}, "score"),
    ({"score": 1e308}, "score"), ({"side": "<b>buy</b>"}, "side"),
    ({"symbol": "BTC/USDT\x1b[2J"}, "symbol"), ({"bot_id": 7}, "bot_id"),
]  # fmt: skip
BODIES = [("text/html", b"<html><body>502 Bad Gateway</body></html>"),
          ("application/json", b"<html>"), ("application/json", b"\xff\xfe"),
          ("application/json", b"")]  # fmt: skip


async def test_garbage_bot_requests_are_refused_naming_the_field_and_place_nothing(
    tmp_path, data_dir
):
    r = await rig(tmp_path, data_dir)
    try:
        for route in ROUTES:
            base = {"bot_id": "alpha", "symbol": SYMBOL, "side": "buy", "score": "0.75"}
            if route.endswith("execute"):
                base["confirmation_id"] = "c_unknown"
            for change, field in FIELDS:
                resp = await r.http.post(route, json={**base, **change}, headers=r.alpha)
                assert resp.status_code == 422, (route, change, resp.text)
                assert field in [e["field"] for e in resp.json()["errors"]], resp.text
            huge = {**base, "bot_id": "a" * 100_000}
            big = await r.http.post(route, json=huge, headers=r.alpha)
            assert big.status_code == 413 and "api.max_body_bytes" in big.text
            for ctype, body in BODIES:
                resp = await r.http.post(route, content=body,
                                         headers={**r.alpha, "Content-Type": ctype})  # fmt: skip
                assert resp.status_code == 422, (route, body, resp.text)
                assert resp.json()["errors"][0]["field"] == "(body)", resp.text
        assert r.node.storage.count_orders() == 0
    finally:
        await r.http.aclose()
        r.node.close()
