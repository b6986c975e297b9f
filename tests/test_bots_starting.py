"""A bot that posts while the node starts (`tradeguard run` serves the API before the venues'
markets are loaded) is told to retry: 503 STARTING with Retry-After, as `/orders` answers, never
an approval computed on an empty state nor a 500. Once started, the same calls are answered."""

from __future__ import annotations

import pytest

from bots_support import add_bot
from test_api_support import bare_paper_config, bearer, build_app, client
from tradeguard.node import build_node

SIGNAL = {"bot_id": "alpha", "symbol": "BTC/USDT", "side": "buy", "score": "0.8"}
ROUTES = [
    ("/api/v1/safety/validate-trade", SIGNAL),
    ("/api/v1/trades/execute", {**SIGNAL, "idempotency_key": "k-starting-1"}),
    ("/api/v1/bots/alpha/close-positions", None),
]


@pytest.mark.parametrize(("path", "body"), ROUTES)
async def test_a_bot_posting_while_the_node_starts_is_told_to_retry(tmp_path, data_dir, path, body):
    node = build_node(bare_paper_config(tmp_path, data_dir, rows=30))
    try:
        add_bot(node, "alpha", require_confirmation=False)
        app, tokens = build_app(node)
        async with client(app) as http:
            # the close needs a second factor: refused before it is read, so the code stays good
            totp = tokens.trader_totp if "close-positions" in path else None
            early = await http.post(path, json=body, headers=bearer(tokens.trader, totp))
            assert early.status_code == 503, early.text
            assert early.headers.get("retry-after") == "1", early.headers
            doc = early.json()
            assert doc["code"] == "STARTING", doc
            assert doc["reason"] == "starting: markets not loaded yet, retry", doc
            assert "approved" not in doc and "confirmation_id" not in doc, doc
            await node.start()
            later = await http.post(path, json=body, headers=bearer(tokens.trader, totp))
            assert later.status_code != 503, later.text
            assert later.json().get("code") != "STARTING", later.text
    finally:
        node.close()
