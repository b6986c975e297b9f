"""A token bound to a bot reads only the public text of a refusal, whatever the words of the
private one: a venue's error that names the account's figures in its own words (no "order
rejected" in it) reaches the trader's token whole and the bot's token as a code."""

from __future__ import annotations

from bots_support import SYMBOL, mid, quote, rig
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.model.order import Order
from tradeguard.model.reports import OrderReport

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
