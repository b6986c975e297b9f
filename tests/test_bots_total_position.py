"""`max_total_position_usd` caps what a bot holds on every symbol together: max_position_usd is
per symbol, so a bot on five symbols could otherwise hold five times it."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bots_support import SYMBOL, add_bot, desk, mid, quote, rig
from tradeguard.bots.gate import BotBook, TradeAsk, check_trade
from tradeguard.bots.spec import BotError, BotSpec
from tradeguard.cli.main import main
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.market import Quote
from tradeguard.model.order import Order

ETH = "ETH/USDT"
LIMITS = {"max_order_usd": "60", "max_position_usd": "100", "daily_loss_usd": "40"}


def test_the_total_limit_is_checked_against_every_symbol_s_exposure() -> None:
    spec = BotSpec.parse("multi", {**LIMITS, "max_total_position_usd": "150"})
    ask = TradeAsk(ETH, Side.BUY, Decimal(60))
    assert check_trade(spec, True, ask, BotBook(total_usd=Decimal(90)), 0).approved
    v = check_trade(spec, True, ask, BotBook(total_usd=Decimal(91)), 0)
    assert v.codes == ["BOT_MAX_TOTAL_POSITION"], v
    assert "151 USD" in v.reasons[0] and "max_total_position_usd=150" in v.reasons[0], v
    # unset: only the per-symbol limit, as before
    unset = BotSpec.parse("multi", LIMITS)
    assert check_trade(unset, True, ask, BotBook(total_usd=Decimal(10_000)), 0).approved


def test_a_total_below_the_per_symbol_limit_is_refused_naming_both() -> None:
    with pytest.raises(BotError, match=r"max_total_position_usd=50 is below max_position_usd=100"):
        BotSpec.parse("multi", {**LIMITS, "max_total_position_usd": "50"})
    with pytest.raises(BotError, match=r"max_total_position_usd=-1 must be > 0"):
        BotSpec.parse("multi", {**LIMITS, "max_total_position_usd": "-1"})
    doc = BotSpec.parse("multi", {**LIMITS, "max_total_position_usd": "300"}).to_doc()
    assert doc["max_total_position_usd"] == "300"


async def test_a_bot_holding_one_symbol_is_held_to_its_total_on_another(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    node = r.node
    try:
        add_bot(node, "multi", symbols=[SYMBOL, ETH], max_total_position_usd="100",
                require_confirmation=False, one_position_per_symbol=False)  # fmt: skip
        await quote(node, mid(node))
        buy = {"symbol": SYMBOL, "side": "buy", "score": "1"}  # 60 USD
        done = await desk(node).execute("multi", buy, by="test")
        assert done["status"] == "submitted", done
        await quote(node, mid(node))  # the entry fills
        assert ("paper", SYMBOL, "multi") in node.portfolio.positions
        ts = node.clock.now_ms()
        eth = Decimal(2000)
        await node.on_quote(Quote(ETH, ts, eth, Decimal(50), eth, Decimal(50), venue="paper"))
        out = desk(node).validate("multi", {"symbol": ETH, "side": "buy", "score": "1"})
        # was: approved, 60 USD on ETH beside 60 USD on BTC, each under max_position_usd=100
        assert "BOT_MAX_TOTAL_POSITION" in out["codes"], out
        assert "BOT_MAX_POSITION" not in out["codes"], out
    finally:
        await r.http.aclose()
        node.close()


def test_bot_add_takes_the_total_limit_and_refuses_one_below_a_position(tmp_path, capsys):
    db = ["--db", f"sqlite:///{tmp_path / 'tg.db'}"]
    limits = ["--max-order-usd", "50", "--max-position-usd", "100", "--daily-loss-usd", "20"]
    assert main(["bot", "add", "alpha", *limits, "--max-total-position-usd", "250", *db]) == 0
    capsys.readouterr()
    assert main(["bot", "list", "--json", *db]) == 0
    [bot] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert bot["max_total_position_usd"] == "250", bot
    code = main(["bot", "add", "beta", *limits, "--max-total-position-usd", "60", *db])
    err = capsys.readouterr().err
    assert code == 2 and "max_total_position_usd=60 is below max_position_usd=100" in err, err
    assert "Traceback" not in err


async def test_a_working_entry_with_no_price_yet_counts_at_its_limit(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    node = r.node
    try:
        add_bot(node, "multi", symbols=[SYMBOL, ETH], max_total_position_usd="100",
                require_confirmation=False, one_position_per_symbol=False)  # fmt: skip
        await quote(node, mid(node))
        # a limit entry of 90 USD on ETH rests (restored after a restart: no ETH price yet)
        entry = Order("multi-eth-1", "multi", "paper", ETH, Side.BUY, OrderType.LIMIT,
                      Decimal("0.045"), Decimal(2000), status=OrderStatus.ACCEPTED)  # fmt: skip
        node.orders.orders[entry.client_order_id] = entry
        node.orders.open[entry.client_order_id] = entry
        assert node.portfolio.mark_of("paper", ETH)[0] is None
        out = desk(node).validate("multi", {"symbol": SYMBOL, "side": "buy", "score": "1"})
        # was: approved, the ETH entry counted 0 USD: 60 + 90 = 150 over 100
        assert "BOT_MAX_TOTAL_POSITION" in out["codes"], out
        reason = out["reasons"][out["codes"].index("BOT_MAX_TOTAL_POSITION")]
        assert "150" in reason, reason
    finally:
        await r.http.aclose()
        node.close()


async def test_a_working_market_entry_with_no_price_refuses_rather_than_counting_0(
    tmp_path, data_dir
):
    r = await rig(tmp_path, data_dir)
    node = r.node
    try:
        add_bot(node, "multi", symbols=[SYMBOL, ETH], max_total_position_usd="100",
                require_confirmation=False, one_position_per_symbol=False)  # fmt: skip
        await quote(node, mid(node))
        # a market entry on ETH still working (restored after a restart): it names no price,
        # and ETH has none yet, so what it adds to the total is not known
        entry = Order("multi-eth-1", "multi", "paper", ETH, Side.BUY, OrderType.MARKET,
                      Decimal("0.045"), None, status=OrderStatus.ACCEPTED)  # fmt: skip
        node.orders.orders[entry.client_order_id] = entry
        node.orders.open[entry.client_order_id] = entry
        assert node.portfolio.mark_of("paper", ETH)[0] is None
        out = desk(node).validate("multi", {"symbol": SYMBOL, "side": "buy", "score": "1"})
        # was: approved, the ETH entry counted 0 USD toward max_total_position_usd
        assert "BOT_NO_MARK" in out["codes"], out
        reason = out["reasons"][out["codes"].index("BOT_NO_MARK")]
        assert ETH in reason and "max_total_position_usd" in reason, reason
    finally:
        await r.http.aclose()
        node.close()
