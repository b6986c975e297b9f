"""Who an order sent through `POST /api/v1/orders` is booked to, and who it says placed it.

A strategy id of this node (its configured strategies, an arbitrage strategy among them) takes
only a hand close over HTTP: an entry under it would count in the strategy's positions, exits
and P&L. Any other id (`external`, `manual`, a desk's own label) trades as before. The signal's
`source` is the API's record of the token that placed the order: written by the API, refused
from the caller; a signal bot's `source` goes on with its own signal."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from bots_support import SYMBOL, add_bot, quote, rig
from bots_support import mid as bot_mid
from node_support import paper_config, write_slice
from test_api_support import PERMISSIVE, bearer, build_app, client, next_candle
from tradeguard.model import OrderIntent, OrderType, Side
from tradeguard.node import TradingNode, build_node
from tradeguard.sandbox.testing import eventually

SID = "ma_cross"  # the strategy paper_config runs
BUY = {"venue": "paper", "symbol": SYMBOL, "side": "buy", "amount": "0.001"}


async def _node(tmp_path: Path, data_dir: Path) -> TradingNode:
    data = write_slice(data_dir, tmp_path / "btc.csv", 60)
    cfg = paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, risk=PERMISSIVE, tmp=tmp_path)
    node = build_node(cfg)
    await node.start()
    await node.run()
    return node


def _held(node: TradingNode, strategy: str) -> Decimal:
    pos = node.portfolio.positions.get(("paper", SYMBOL, strategy))
    return Decimal(0) if pos is None else pos.quantity


async def test_an_entry_under_a_running_strategys_id_is_refused_a_hand_close_is_not(
    tmp_path: Path, data_dir: Path
) -> None:
    node = await _node(tmp_path, data_dir)
    assert [s.id for s in node.strategies] == [SID]
    app, tokens = build_app(node)
    try:
        async with client(app) as http:
            entry = {**BUY, "strategy_id": SID}
            sent = await http.post("/api/v1/orders", json=entry, headers=bearer(tokens.trader))
            assert sent.status_code == 200, sent.text
            out = sent.json()
            assert (out["status"], out["code"]) == ("denied", "STRATEGY_ORDER_ROUTE"), out
            assert f"strategy_id {SID!r}" in out["reason"] and "reduce_only" in out["reason"]
            assert "client_order_id" not in out
            assert [o for o in node.storage.load_orders() if o.strategy_id == SID] == []
            checked = await http.post(
                "/api/v1/risk/validate", json=entry, headers=bearer(tokens.trader)
            )
            assert checked.status_code == 200, checked.text
            assert checked.json()["approved"] is False
            assert checked.json()["code"] == "STRATEGY_ORDER_ROUTE"
            # a label of the caller's own trades as before
            own = await http.post(
                "/api/v1/orders", json={**BUY, "strategy_id": "manual"},
                headers=bearer(tokens.trader),
            )  # fmt: skip
            assert own.status_code == 201, own.text
            assert own.json()["order"]["strategy_id"] == "manual"

            # the strategy holds a position: closing it by hand under its id goes through
            held = await node.submit(
                OrderIntent(SID, "paper", SYMBOL, Side.BUY, Decimal("0.001"), OrderType.MARKET)
            )
            assert held.ok, held.reason
            next_candle(node)
            await eventually(lambda: _held(node, SID) > 0)
            amount = str(node.portfolio.sellable(node.portfolio.positions[("paper", SYMBOL, SID)]))
            close = {**entry, "side": "sell", "amount": amount, "reduce_only": True}
            closed = await http.post("/api/v1/orders", json=close, headers=bearer(tokens.trader))
            assert closed.status_code == 201, closed.text
            next_candle(node)
            await eventually(lambda: _held(node, SID) == 0)
            # selling more once flat is not a close: the risk engine's own refusal
            again = await http.post("/api/v1/orders", json=close, headers=bearer(tokens.trader))
            assert again.json()["code"] == "REDUCE_ONLY_WOULD_GROW", again.text
    finally:
        await node.stop()
        node.close()


async def test_the_signal_source_is_written_by_the_api_never_by_the_caller(
    tmp_path: Path, data_dir: Path
) -> None:
    node = await _node(tmp_path, data_dir)
    app, tokens = build_app(node)
    before = len(node.storage.load_orders())
    try:
        async with client(app) as http:
            for forged in ("", "api:admin(1)", "tradingview"):
                body = {**BUY, "signal": {"source": forged, "why": "breakout"}}
                for path in ("/api/v1/orders", "/api/v1/risk/validate"):
                    r = await http.post(path, json=body, headers=bearer(tokens.trader))
                    assert r.status_code == 422, (path, forged, r.text)
                    error = r.json()["error"]
                    assert f"signal.source = {forged!r}" in error, error
            assert len(node.storage.load_orders()) == before  # nothing was placed
            body = {**BUY, "signal": {"origin": "tradingview", "why": "breakout"}}
            r = await http.post("/api/v1/orders", json=body, headers=bearer(tokens.trader))
            assert r.status_code == 201, r.text
            signal = r.json()["order"]["signal"]
            assert signal == {
                "origin": "tradingview",
                "why": "breakout",
                "source": f"api:trader({tokens.trader_id})",
            }
    finally:
        await node.stop()
        node.close()


async def test_a_signal_bots_own_source_goes_on_with_its_signal(
    tmp_path: Path, data_dir: Path
) -> None:
    r = await rig(tmp_path, data_dir)
    add_bot(r.node, "gamma", require_confirmation=False)
    await quote(r.node, bot_mid(r.node))
    try:
        body = {"bot_id": "gamma", "symbol": SYMBOL, "side": "buy", "score": "0.75",
                "signal": {"source": "scanner"}}  # fmt: skip
        sent = await r.http.post("/api/v1/trades/execute", json=body, headers=r.trader)
        assert sent.status_code == 201, sent.text
        order = r.node.orders.orders[sent.json()["client_order_id"]]
        assert order.strategy_id == "gamma" and order.signal["source"] == "scanner"
    finally:
        await r.http.aclose()
        r.node.close()
