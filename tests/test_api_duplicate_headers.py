"""A credential header given twice with different values is refused, never read as its first.

Which of two `Authorization` or `X-TOTP` values counts is a guess a proxy, a log or the
node's audit may each make differently (the node took the first: a request naming a valid
token and then another ran as the first one's holder). As an `Idempotency-Key` given twice
with different values, each is refused naming the header; the same value twice is one.
"""

from __future__ import annotations

import httpx

from test_api_support import bearer, build_app, client, replayed_node
from tradeguard.model import TradingState


async def test_authorization_or_x_totp_twice_with_different_values_is_refused(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    app, tokens = build_app(node)
    trader, admin = bearer(tokens.trader)["Authorization"], bearer(tokens.admin)["Authorization"]
    async with client(app) as http:
        for i, pair in enumerate(([trader, admin], ["Bearer nope", trader], [trader, "Bearer x"])):
            hdr = httpx.Headers([("Authorization", v) for v in pair])
            r = await http.get("/api/v1/orders", headers=hdr)
            assert r.status_code == 400, (i, r.text)
            assert "Authorization is given twice with different values" in r.text, r.text
        r = await http.get("/api/v1/orders", headers=httpx.Headers([("Authorization", trader)] * 2))
        assert r.status_code == 200, r.text

        node.risk.halt("test", "ops")
        code = tokens.trader_totp.now()
        hdr = httpx.Headers([("Authorization", trader), ("X-TOTP", "000000"), ("X-TOTP", code)])
        r = await http.post("/api/v1/resume", json={"reason": "x"}, headers=hdr)
        assert r.status_code == 401, r.text
        assert "X-TOTP is given twice with different values" in r.text, r.text
        assert node.risk.state is TradingState.HALTED
        hdr = httpx.Headers([("Authorization", trader), ("X-TOTP", code), ("X-TOTP", code)])
        r = await http.post("/api/v1/resume", json={"reason": "x"}, headers=hdr)
        assert r.status_code == 200, r.text
    node.close()
