"""The bots API takes symbols by the rule `bot add` and the config use (the venue's spelling:
mixed-case DEX tokens, outcome markets), with its length limit and no control characters."""

from __future__ import annotations

import pytest

from bots_support import rig
from tradeguard.model.instrument import SYMBOL_MAX_LEN


@pytest.mark.parametrize("symbol", ["wstETH/WETH", "fed-above-4pct-dec:YES/PUSD"])
async def test_a_symbol_bot_add_accepts_reaches_the_bot_rules(tmp_path, data_dir, symbol):
    r = await rig(tmp_path, data_dir)
    try:
        body = {"bot_id": "alpha", "symbol": symbol, "side": "buy", "score": "0.8"}
        v = await r.http.post("/api/v1/safety/validate-trade", json=body, headers=r.trader)
        assert v.status_code == 200, v.text  # judged by the bot's symbol list, not the shape
        assert v.json()["approved"] is False and symbol in " ".join(v.json()["reasons"])
    finally:
        await r.http.aclose()
        r.node.close()


@pytest.mark.parametrize(
    "symbol",
    ["btc/usdt", "BTC/USDT\x1b[2J", "BTC/USDT\n", "BTC\x00/USDT", "A" * SYMBOL_MAX_LEN + "/USDT"],
    ids=["lowercase", "escape", "newline", "nul", "too-long"],
)
async def test_a_misshapen_symbol_is_refused_before_the_bot_rules(tmp_path, data_dir, symbol):
    r = await rig(tmp_path, data_dir)
    try:
        body = {"bot_id": "alpha", "symbol": symbol, "side": "buy", "score": "0.8"}
        v = await r.http.post("/api/v1/safety/validate-trade", json=body, headers=r.trader)
        assert v.status_code == 422, v.text
        assert "symbol" in v.text and "\x1b" not in v.text
    finally:
        await r.http.aclose()
        r.node.close()
