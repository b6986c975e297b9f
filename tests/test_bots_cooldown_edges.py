"""A bot's cooldown at its edges: denied up to the last millisecond, taken at the very end, a
close never held back by it, and a denied or refused trade starting none."""

from __future__ import annotations

from bots_support import SYMBOL, add_bot, mid, quote, rig


def _body(bot: str, side: str = "buy", **extra: object) -> dict[str, object]:
    return {"bot_id": bot, "symbol": SYMBOL, "side": side, "score": "0.75", **extra}


async def _validate(r, bot: str, side: str = "buy") -> dict:  # type: ignore[no-untyped-def]
    answer = await r.http.post("/api/v1/safety/validate-trade", json=_body(bot, side),
                               headers=r.trader)  # fmt: skip
    return answer.json()


async def test_the_cooldown_ends_exactly_cooldown_s_after_the_trade(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        add_bot(r.node, "delta", one_position_per_symbol=False, cooldown_s=600,
                max_position_usd="1000")  # fmt: skip
        first = await _validate(r, "delta")
        sent = await r.http.post(
            "/api/v1/trades/execute",
            headers=r.trader,
            json=_body("delta", confirmation_id=first["confirmation_id"]),
        )
        assert sent.json()["status"] == "submitted", sent.json()
        traded_at = r.node.clock.now_ms()
        await quote(r.node, mid(r.node))  # the entry fills on the next bar, a minute later
        # a close of the position is never held back by the cooldown
        close = await _validate(r, "delta", "sell")
        assert "BOT_COOLDOWN" not in close["codes"], close
        r.node.clock.advance_to(traded_at + 600_000 - 1)
        held = await _validate(r, "delta")
        assert held["approved"] is False and held["codes"] == ["BOT_COOLDOWN"], held
        assert "0.001 s more" in held["reasons"][0], held
        r.node.clock.advance_to(traded_at + 600_000)
        free = await _validate(r, "delta")
        # the bot's checks pass (the risk engine then asks for market data newer than 10 min)
        assert free["codes"] == ["STALE_MARKET_DATA"], (free["codes"], free["reasons"])
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_denied_entry_starts_no_cooldown(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        add_bot(r.node, "theta", cooldown_s=600, require_confirmation=False)
        big = _body("theta", score="0.75", idempotency_key="too-big")
        big["symbol"] = "DOGE/USDT"  # not one of its symbols: denied
        denied = await r.http.post("/api/v1/trades/execute", json=big, headers=r.trader)
        assert denied.json()["status"] == "denied", denied.json()
        after = await _validate(r, "theta")
        assert after["approved"] is True, after
    finally:
        await r.http.aclose()
        r.node.close()
