"""A token bound to a bot reads only the public text of a refusal, whatever the words of the
private one: a venue's error that names the account's figures in its own words (no "order
rejected" in it) reaches the trader's token whole and the bot's token as a code."""

from __future__ import annotations

from bots_support import SYMBOL, mid, quote, rig
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.model.order import Order
from tradeguard.model.reports import OrderReport
from tradeguard.storage.bot_rows import BotRows

FIGURE = "98765.43"
VENUE_SAYS = f"margin check failed: account equity {FIGURE} USDT is under the 120000 USDT needed"


async def test_a_venue_error_with_an_account_figure_never_reaches_the_bot_s_token(
    tmp_path, data_dir
):
    r = await rig(tmp_path, data_dir)
    node = r.node
    try:
        await quote(node, mid(node))

        async def refuse(order: Order) -> OrderReport:  # the venue answers no, in its words
            raise DefinitiveVenueError("paper", VENUE_SAYS, code="MARGIN")

        node.venues["paper"].submit = refuse  # type: ignore[method-assign]
        ask = {"bot_id": "alpha", "symbol": SYMBOL, "side": "buy", "score": "0.6"}
        valid = await r.http.post("/api/v1/safety/validate-trade", json=ask, headers=r.alpha)
        assert valid.status_code == 200 and valid.json()["approved"], valid.text
        body = {**ask, "confirmation_id": valid.json()["confirmation_id"]}
        done = await r.http.post("/api/v1/trades/execute", json=body, headers=r.alpha)
        assert done.status_code == 200 and done.json()["status"] == "rejected", done.text
        trade_id = done.json()["trade_id"]
        seen = [
            done.text,
            (await r.http.get(f"/api/v1/trades/status/{trade_id}", headers=r.alpha)).text,
            (await r.http.get("/api/v1/trades/recent/alpha", headers=r.alpha)).text,
        ]
        for text in seen:
            assert FIGURE not in text and "margin check" not in text, text
            assert "public_reason" not in text, text
        assert "MARGIN" in done.json()["reason"], done.text  # the code, with why it is short
        # the account's token reads the venue's words, for the operator to act on
        full = await r.http.get(f"/api/v1/trades/status/{trade_id}", headers=r.trader)
        assert FIGURE in full.json()["reason"], full.text
    finally:
        await r.http.aclose()
        node.close()


async def test_a_record_stored_before_public_reasons_keeps_the_bot_s_own_reason(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    node = r.node
    try:
        rows = BotRows(node.db)
        ts = node.clock.now_ms()
        own = "bot alpha: position would be 120 USD, above max_position_usd=100"
        account = "order rejected: today's loss 512.20 USDT is over max_daily_loss 500 USDT"
        old = {"side": "buy", "venue": "paper", "size_usd": "60"}  # no public_reason: stored so
        rows.save_trade("bt_own", "alpha", SYMBOL, "denied", None,
                        {**old, "code": "BOT_MAX_POSITION", "reason": own}, ts)  # fmt: skip
        rows.save_trade("bt_acct", "alpha", SYMBOL, "denied", None,
                        {**old, "code": "MAX_DAILY_LOSS", "reason": account}, ts + 1)  # fmt: skip
        seen = await r.http.get("/api/v1/trades/recent/alpha", headers=r.alpha)
        by_id = {t["trade_id"]: t["reason"] for t in seen.json()["items"]}
        # was: "BOT_MAX_POSITION: refused by the account's risk limits or the venue; ..."
        assert by_id["bt_own"] == own, by_id
        assert "512.20" not in by_id["bt_acct"] and "MAX_DAILY_LOSS" in by_id["bt_acct"], by_id
        one = await r.http.get("/api/v1/trades/status/bt_own", headers=r.alpha)
        assert one.json()["reason"] == own, one.text
    finally:
        await r.http.aclose()
        node.close()
