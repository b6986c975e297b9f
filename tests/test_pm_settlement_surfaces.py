"""Settlements are first-class: an event per closed position, the API, the CLI, one source."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from kalshi_node_support import kalshi_node
from test_api_support import bearer, build_app, client
from tradeguard.cli.main import main
from tradeguard.execution.settlement import settle_resolved
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.events import EventKind
from tradeguard.model.order import OrderIntent
from tradeguard.model.outcome import Resolution
from tradeguard.node import TradingNode
from tradeguard.storage.settlement_log import load_settlements

D = Decimal
TICKER = "KXFED-26DEC-T4.00"
SYMBOL = f"{TICKER}:YES/USD"


async def test_settlement_is_an_event_listed_by_api_and_cli_with_venue_filter(
    tmp_path: Path, monkeypatch, capsys
):
    server, cfg, _ = await kalshi_node(tmp_path, monkeypatch)
    node = TradingNode(cfg)
    seen: list = []
    node.bus.subscribe(seen.append, EventKind.SETTLEMENT)
    try:
        await node.start()
        venue = node.venues["kalshi"]
        await node.on_quote(await venue.fetch_quote(SYMBOL))
        intent = OrderIntent("s1", "kalshi", SYMBOL, Side.BUY, D(10), OrderType.LIMIT, D("0.46"))
        assert (await node.submit(intent)).ok
        server.resolve(TICKER, Resolution.YES)
        await settle_resolved(node)
        await settle_resolved(node)  # seen again: no second event

        assert [(e.venue, e.symbol, D(e.data["cash"]), e.data["resolution"]) for e in seen] == [
            ("kalshi", SYMBOL, 10, "yes")
        ]
        (row,) = load_settlements(node.storage)  # committed with the settlement fill
        assert (row["market"], D(row["contracts"]), D(row["payout_price"])) == (TICKER, 10, 1)
        app, tokens = build_app(node)
        async with client(app) as http:
            got = (await http.get("/api/v1/settlements", headers=bearer(tokens.viewer))).json()
            other = await http.get(
                "/api/v1/settlements?venue=polymarket", headers=bearer(tokens.viewer)
            )
            anonymous = await http.get("/api/v1/settlements")
        assert got["total"] == 1 and D(got["items"][0]["cash"]) == 10
        assert got["items"][0]["strategy_id"] == "s1"
        assert other.json()["items"] == [] and anonymous.status_code == 401
    finally:
        await node.stop()
        await server.stop()

    db = cfg.node.database_url
    assert main(["pm", "settlements", "--db", db, "--venue", "kalshi", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["venue"], r["market"], D(r["cash"])) for r in listed] == [("kalshi", TICKER, 10)]
    assert main(["pm", "settlements", "--db", db]) == 0
    table = capsys.readouterr().out
    assert "Settlements" in table and TICKER[:24] in table and "10.00 USD" in table
    assert main(["pm", "settlements", "--db", db, "--limit", "0"]) == 2
    assert "--limit 0 is outside 1..500" in capsys.readouterr().err
