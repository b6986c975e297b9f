"""Pausing a strategy over HTTP: trader role and X-TOTP, audited with who and why, listed as
`paused`, and hostile requests refused with a clear 4xx."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx
from fastapi import FastAPI

from node_support import paper_config, write_slice
from test_api_support import PERMISSIVE, Tokens, bearer, build_app, client
from tradeguard.api.auth import TOTP_KEY_PREFIX
from tradeguard.model import OrderIntent, OrderType, Quote, Side
from tradeguard.node import TradingNode, build_node
from tradeguard.node.pause import PAUSED_CODE, pauses_of

SID = "ma_cross"
PAUSE = f"/api/v1/strategies/{SID}/pause"
RESUME = f"/api/v1/strategies/{SID}/resume"


async def _node(tmp_path: Path, data_dir: Path) -> TradingNode:
    data = write_slice(data_dir, tmp_path / "btc.csv", 60)
    cfg = paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, risk=PERMISSIVE, tmp=tmp_path)
    node = build_node(cfg)
    await node.start()
    await node.run()
    return node


async def _entry(node: TradingNode) -> None:
    """The strategy emits a market buy; a quote drains its intents into the order path."""
    strat = node.strategies[0]
    strat.emit(OrderIntent(SID, "paper", "BTC/USDT", Side.BUY, Decimal("0.001"), OrderType.MARKET))
    mid = node.market.mid("BTC/USDT")
    assert mid is not None
    q = Quote("BTC/USDT", node.clock.now_ms(), mid - 1, Decimal(5), mid + 1, Decimal(5))
    await node.on_quote(q)


def _fresh_codes(app: FastAPI) -> None:
    """Forget which TOTP steps were used, so one test can send several valid codes."""
    storage = app.state.api.tokens.storage
    for key, doc in storage.kv_prefixed(TOTP_KEY_PREFIX):
        if isinstance(doc, dict) and "last_step" in doc:
            storage.kv_set(key, {k: v for k, v in doc.items() if k != "last_step"})


async def _listed(http: httpx.AsyncClient, tokens: Tokens) -> dict[str, bool]:
    r = await http.get("/api/v1/strategies", headers=bearer(tokens.viewer))
    assert r.status_code == 200, r.text
    return {s["id"]: s["paused"] for s in r.json()["items"]}


async def test_pause_and_resume_need_totp_are_audited_and_show_in_the_list(
    tmp_path: Path, data_dir: Path
) -> None:
    node = await _node(tmp_path, data_dir)
    app, tokens = build_app(node)
    body = {"reason": "token unlock on Friday"}
    try:
        async with client(app) as http:
            assert await _listed(http, tokens) == {SID: False}
            missing = await http.post(PAUSE, json=body, headers=bearer(tokens.trader))
            assert missing.status_code == 401 and "X-TOTP" in missing.json()["detail"]
            viewer = await http.post(PAUSE, json=body, headers=bearer(tokens.viewer))
            assert viewer.status_code == 403
            assert pauses_of(node).ids == set()

            r = await http.post(PAUSE, json=body, headers=bearer(tokens.trader, tokens.trader_totp))
            assert r.status_code == 200, r.text
            assert r.json()["paused"] is True
            assert r.json()["pause"]["by"] == f"api:trader({tokens.trader_id})"
            assert await _listed(http, tokens) == {SID: True}
            one = await http.get(f"/api/v1/strategies/{SID}", headers=bearer(tokens.viewer))
            assert one.json()["pause"]["reason"] == "token unlock on Friday"
            await _entry(node)  # refused: listed with the other denials
            r = await http.get(
                "/api/v1/events", params={"kind_prefix": "risk.denied"},
                headers=bearer(tokens.viewer),
            )  # fmt: skip
            [denied] = [e for e in r.json()["items"] if e["data"]["code"] == PAUSED_CODE]
            assert denied["strategy_id"] == SID and "paused" in denied["data"]["reason"]
            metrics = await http.get("/metrics", headers=bearer(tokens.viewer))
            assert f'tradeguard_risk_denials_total{{code="{PAUSED_CODE}"}} 1.0' in metrics.text
            # An outside system sending the paused strategy's entry over HTTP is held too.
            order = {"strategy_id": SID, "venue": "paper", "symbol": "BTC/USDT", "side": "buy",
                     "amount": "0.001", "type": "market"}  # fmt: skip
            sent = await http.post("/api/v1/orders", json=order, headers=bearer(tokens.trader))
            assert sent.status_code == 200, sent.text
            assert (sent.json()["status"], sent.json()["code"]) == ("denied", PAUSED_CODE)
            other = await http.post("/api/v1/orders", json={**order, "strategy_id": "desk"},
                                    headers=bearer(tokens.trader))  # fmt: skip
            assert other.json()["code"] != PAUSED_CODE  # another strategy id is not paused

            _fresh_codes(app)
            r = await http.post(
                RESUME, json={"reason": "unlock done"},
                headers=bearer(tokens.trader, tokens.trader_totp),
            )  # fmt: skip
            assert r.status_code == 200, r.text
            assert r.json() == {"id": SID, "paused": False, "was_paused": True}
            assert await _listed(http, tokens) == {SID: False, "desk": False}
        [paused] = node.storage.load_events(kind_prefix="api.strategy_pause")
        assert paused.data["strategy"] == SID and paused.data["reason"] == body["reason"]
        assert paused.data["token_id"] == tokens.trader_id
        [resumed] = node.storage.load_events(kind_prefix="api.strategy_resume")
        assert resumed.data["reason"] == "unlock done"
    finally:
        node.close()


async def test_hostile_pause_requests_get_a_clear_4xx_and_pause_nothing(
    tmp_path: Path, data_dir: Path
) -> None:
    node = await _node(tmp_path, data_dir)
    app, tokens = build_app(node)
    try:
        async with client(app) as http:

            async def post(path: str, **kw: object) -> httpx.Response:
                _fresh_codes(app)
                headers = {**bearer(tokens.trader, tokens.trader_totp), **kw.pop("headers", {})}  # type: ignore[dict-item]
                return await http.post(path, headers=headers, **kw)  # type: ignore[arg-type]

            unknown = await post("/api/v1/strategies/nope/pause", json={"reason": "x"})
            assert unknown.status_code == 404
            assert "no strategy 'nope'" in unknown.json()["detail"]
            assert "['ma_cross']" in unknown.json()["detail"]
            for bad in ({"reason": "x" * 201}, {"reason": 5}, {"reason": ""}, {},
                        {"reason": "x", "strategy": "other"}, ["reason"]):  # fmt: skip
                r = await post(PAUSE, json=bad)
                assert r.status_code == 422, (bad, r.text)
            long_id = await post(f"/api/v1/strategies/{'a' * 65}/pause", json={"reason": "x"})
            assert long_id.status_code == 422
            not_json = await post(
                PAUSE, content=b"{reason", headers={"Content-Type": "application/json"}
            )
            assert not_json.status_code == 422
            huge = await post(PAUSE, content=b"x" * 2_000_000)
            assert huge.status_code == 413
            bad_code = await http.post(
                PAUSE, json={"reason": "x"}, headers={**bearer(tokens.trader), "X-TOTP": "12ab56"}
            )
            assert bad_code.status_code == 401 and "6-digit" in bad_code.json()["detail"]
            spoofed = await post(
                PAUSE, json={"reason": "spoofed"},
                headers={"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.8"},
            )  # fmt: skip
            assert spoofed.status_code == 200  # accepted, but recorded from the real address
        assert pauses_of(node).ids == {SID}
        [event] = node.storage.load_events(kind_prefix="api.strategy_pause")
        assert "203.0.113" not in event.data["client"]
    finally:
        node.close()


async def test_a_pause_may_cancel_the_strategy_s_working_entries_and_only_those(
    tmp_path: Path, data_dir: Path
) -> None:
    node = await _node(tmp_path, data_dir)
    app, tokens = build_app(node)
    mid = node.market.mid("BTC/USDT")
    assert mid is not None
    below = (mid * Decimal("0.99")).quantize(Decimal("0.01"))

    async def rest(sid: str) -> str:
        r = await node.submit(OrderIntent(sid, "paper", "BTC/USDT", Side.BUY, Decimal("0.001"),
                                          OrderType.LIMIT, price=below))  # fmt: skip
        assert r.ok and r.order is not None, r.reason
        return r.order.client_order_id

    try:
        mine, other = await rest(SID), await rest("desk")
        async with client(app) as http:
            r = await http.post(PAUSE, json={"reason": "news", "cancel_entries": True},
                                headers=bearer(tokens.trader, tokens.trader_totp))  # fmt: skip
            assert r.status_code == 200, r.text
            assert (r.json()["cancelled"], r.json()["cancel_failed"]) == ([mine], [])
            bad = await http.post(PAUSE, json={"reason": "x", "cancel_entries": "yes please"},
                                  headers=bearer(tokens.trader, tokens.trader_totp))  # fmt: skip
            assert bad.status_code in (401, 422)  # a used code, or the wrong type: never a 500
        assert mine not in node.orders.open and other in node.orders.open
        [paused] = node.storage.load_events(kind_prefix="api.strategy_pause")
        assert paused.data["cancelled"] == [mine]
    finally:
        node.close()
