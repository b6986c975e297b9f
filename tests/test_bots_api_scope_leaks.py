"""What a token bound to a bot could still read of the whole account after the read routes
refused it: the account's figures inside a risk denial's reason, and `/health?verbose=true`.
A trader's token keeps both."""

from __future__ import annotations

from decimal import Decimal

from bots_support import SYMBOL, rig
from tradeguard.risk.rules.entry import MinAccountBalance


def _min_balance(node) -> MinAccountBalance:
    rules = [c.__self__ for c in node.risk._entry_rules]
    rule = next(r for r in rules if isinstance(r, MinAccountBalance))
    assert isinstance(rule, MinAccountBalance)
    return rule


async def test_a_risk_denial_hides_the_account_equity_from_a_bot_token(tmp_path, data_dir):
    # was: alpha's token read "equity 10000 USD is below min_account_balance_usd=…" (the
    # account's equity) in the reasons of validate-trade, and so in its trade records
    r = await rig(tmp_path, data_dir)
    try:
        body = {"bot_id": "alpha", "symbol": SYMBOL, "side": "buy", "score": "0.75"}
        ok = await r.http.post("/api/v1/safety/validate-trade", json=body, headers=r.alpha)
        assert ok.json()["approved"] is True, ok.text
        _min_balance(r.node).limit = Decimal(10**9)
        v = await r.http.post("/api/v1/safety/validate-trade", json=body, headers=r.alpha)
        assert v.status_code == 200, v.text
        out = v.json()
        assert out["approved"] is False and out["codes"] == ["MIN_ACCOUNT_BALANCE"], out
        assert "equity" not in " ".join(out["reasons"]), out["reasons"]
        assert "bound to bot 'alpha'" in " ".join(out["reasons"]), out["reasons"]
        confirmed = {**body, "confirmation_id": ok.json()["confirmation_id"]}
        e = await r.http.post("/api/v1/trades/execute", json=confirmed, headers=r.alpha)
        assert e.status_code == 200 and e.json()["code"] == "MIN_ACCOUNT_BALANCE", e.text
        assert "equity" not in e.json()["reason"], e.text
        recent = await r.http.get("/api/v1/trades/recent/alpha", headers=r.alpha)
        assert recent.status_code == 200 and recent.json()["items"], recent.text
        assert all("equity" not in t["reason"] for t in recent.json()["items"]), recent.text
        status = await r.http.get(
            f"/api/v1/trades/status/{recent.json()['items'][0]['trade_id']}", headers=r.alpha
        )
        assert status.status_code == 200 and "equity" not in status.json()["reason"], status.text
        # the trader's token still reads the whole reason
        t = await r.http.post("/api/v1/safety/validate-trade", json=body, headers=r.trader)
        assert "equity" in " ".join(t.json()["reasons"]), t.text
        t = await r.http.get("/api/v1/trades/recent/alpha", headers=r.trader)
        assert "equity" in t.json()["items"][0]["reason"], t.text
    finally:
        await r.http.aclose()
        r.node.close()


async def test_verbose_health_refuses_a_bot_token(tmp_path, data_dir):
    # was 200 with the venues' last errors and the stale streams' names, which
    # /api/v1/marketdata/streams refuses the same token
    r = await rig(tmp_path, data_dir)
    try:
        v = await r.http.get("/api/v1/health?verbose=true", headers=r.alpha)
        assert v.status_code == 403 and "bound to bot 'alpha'" in v.json()["detail"], v.text
        plain = await r.http.get("/api/v1/health", headers=r.alpha)
        assert plain.status_code == 200, plain.text
        t = await r.http.get("/api/v1/health?verbose=true", headers=r.trader)
        assert t.status_code == 200, t.text
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_halt_by_a_breaker_hides_its_figures_from_a_bot_token(tmp_path, data_dir):
    # was: alpha's token read the drawdown breaker's cause, "… from the equity peak 10,000.00
    # USD …", in a TRADING_HALTED denial
    r = await rig(tmp_path, data_dir)
    try:
        cause = "drawdown 12.5% from the equity peak 10,000.00 USD reached max_drawdown_pct=10"
        r.node.risk.halt(cause, "breaker:drawdown")
        body = {"bot_id": "alpha", "symbol": SYMBOL, "side": "buy", "score": "0.75"}
        v = await r.http.post("/api/v1/safety/validate-trade", json=body, headers=r.alpha)
        out = v.json()
        assert v.status_code == 200 and out["approved"] is False, v.text
        assert "TRADING_HALTED" in out["codes"], out
        assert "10,000.00" not in " ".join(out["reasons"]), out["reasons"]
        assert "HALTED" in " ".join(out["reasons"]), out["reasons"]
        t = await r.http.post("/api/v1/safety/validate-trade", json=body, headers=r.trader)
        assert "10,000.00" in " ".join(t.json()["reasons"]), t.text
    finally:
        await r.http.aclose()
        r.node.close()
