"""What a POST route does with a body that is no object (`null`, `[]`, `"x"`, `0`), on every
route that writes.

A kill or an emergency stop takes `null` as no body (the defaults: trading halts), as
documented, and halts on any other body too, naming it as ignored: a kill that halts on any
authenticated request is the safe one. Every other route answers 422 naming the body.
`close-positions` and `pm/arb/held/retry` read `null` as no body and acted on their defaults
(every position of the bot closed); `bots/{id}/enable`, `disable` and `orders/{id}/cancel`
read no body and dropped whatever was sent unread.
"""

from __future__ import annotations

from test_api_support import bearer, build_app, client, replayed_node
from tradeguard.cli import main
from tradeguard.model import TradingState

NOT_OBJECTS = ["null", "[]", '"x"', "0", '{"reason": "rotating keys"}']


async def test_a_body_that_is_no_object_is_refused_naming_the_body(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    db = f"sqlite:///{tmp_path / 'tg.db'}"
    add = ["bot", "add", "alpha", "--max-order-usd", "50", "--max-position-usd", "100"]
    assert main([*add, "--daily-loss-usd", "20", "--db", db]) == 0
    app, tokens = build_app(node)
    optional = ["/api/v1/bots/alpha/close-positions", "/api/v1/pm/arb/held/retry"]
    none = ["/api/v1/bots/alpha/enable", "/api/v1/bots/alpha/disable", "/api/v1/orders/x1/cancel"]
    async with client(app) as http:
        for route in optional + none:
            for body in NOT_OBJECTS[: 4 if route in optional else 5]:
                hdr = {**bearer(tokens.admin), "Content-Type": "application/json"}
                r = await http.post(route, content=body, headers=hdr)
                assert r.status_code == 422, (route, body, r.text)
                assert r.json()["errors"][0]["field"] == "(body)", (route, body, r.text)
        for route in none:  # no body, or {} (as the dashboard sends), is still taken
            for body in ("", "{}"):
                r = await http.post(route, content=body, headers=bearer(tokens.admin))
                assert r.status_code in (200, 404), (route, body, r.text)
    node.close()


async def test_a_kill_halts_on_any_body_and_names_one_that_is_no_object(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    app, tokens = build_app(node)
    hdr = {**bearer(tokens.trader), "Content-Type": "application/json"}
    async with client(app) as http:
        for route in ("/api/v1/kill", "/api/v1/safety/emergency-stop"):
            for body in ("[]", '"x"', "0", "null"):
                assert node.risk.state is TradingState.ACTIVE
                r = await http.post(route, content=body, headers=hdr)
                assert r.status_code == 200, r.text
                assert node.risk.state is TradingState.HALTED
                ignored = r.json().get("ignored", [])
                assert [i["field"] for i in ignored] == ([] if body == "null" else ["(body)"])
                node.risk.resume("test", "next body")
    node.close()
