"""Routes whose body is optional take a POST without one as their defaults.

`close-positions` ("without symbol: all of them") and `pm/arb/held/retry` ("body, optional")
answered a bare POST with 422 "(body): Field required"; `/kill` and the emergency stop are in
test_api_kill_totp.py.
"""

from __future__ import annotations

from test_api_support import bearer, build_app, client, replayed_node
from tradeguard.cli import main


async def test_close_positions_without_a_body_closes_all_of_the_bots(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    db = f"sqlite:///{tmp_path / 'tg.db'}"
    add = ["bot", "add", "alpha", "--max-order-usd", "50", "--max-position-usd", "100"]
    assert main([*add, "--daily-loss-usd", "20", "--db", db]) == 0
    app, tokens = build_app(node)
    async with client(app) as http:
        url = "/api/v1/bots/alpha/close-positions"
        r = await http.post(url, headers=bearer(tokens.trader, tokens.trader_totp))
        assert (r.status_code, r.json()) == (200, {"bot_id": "alpha", "orders": []}), r.text
        r = await http.post(url, headers=bearer(tokens.trader))  # the second factor still holds
        assert r.status_code == 401 and "X-TOTP" in r.text, r.text
    node.close()


async def test_held_retry_without_a_body_asks_every_cross_venue_strategy(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    app, tokens = build_app(node)
    async with client(app) as http:
        headers = bearer(tokens.trader, tokens.trader_totp)
        r = await http.post("/api/v1/pm/arb/held/retry", headers=headers)
    # read as {}: this node has no cross-venue strategy, which is what the answer says
    assert r.status_code == 404 and "no cross-venue strategy" in r.json()["detail"], r.text
    node.close()
