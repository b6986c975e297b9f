"""The bots' pure rules: specs refuse bad values with the field named, sizing by score, gate."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradeguard.bots.analytics import ScoredTrade, bot_stats
from tradeguard.bots.gate import BotBook, TradeAsk, check_trade
from tradeguard.bots.spec import BotError, BotSpec
from tradeguard.model.enums import Side

BASE = {"max_order_usd": "50", "max_position_usd": "100", "daily_loss_usd": "20"}


def test_a_spec_refuses_bad_values_naming_field_value_and_limit():
    with pytest.raises(BotError, match=r"max_order_usd=0 must be > 0"):
        BotSpec.parse("a", {**BASE, "max_order_usd": "0"})
    with pytest.raises(BotError, match="decimal string"):
        BotSpec.parse("a", {**BASE, "daily_loss_usd": 2.5})
    with pytest.raises(BotError, match="exceeds max_position_usd=100"):
        BotSpec.parse("a", {**BASE, "max_order_usd": "150"})
    with pytest.raises(BotError, match="bot name 'Bad Name'"):
        BotSpec.parse("Bad Name", BASE)
    with pytest.raises(BotError, match=r"min_score=1 must be below max_score=0\.5"):
        BotSpec.parse("a", {**BASE, "sizing": {"kind": "linear", "min_score": "1",
                                               "max_score": "0.5", "min_usd": "1",
                                               "max_usd": "2"}})  # fmt: skip


def test_table_sizing_picks_the_highest_step_reached():
    steps = [["0.6", "10"], ["0.8", "30"]]
    spec = BotSpec.parse("a", {**BASE, "sizing": {"kind": "table", "steps": steps}})
    assert spec.sizing.size_usd(Decimal("0.5"), Decimal(50))[0] == 0
    assert spec.sizing.size_usd(Decimal("0.7"), Decimal(50))[0] == Decimal("10")
    usd, words = spec.sizing.size_usd(Decimal("0.95"), Decimal(50))
    assert usd == Decimal("30") and "0.8" in words
    assert BotSpec.parse("a", spec.to_doc()) == spec  # stored and read back unchanged


def test_the_gate_lets_a_closing_trade_through_a_cooldown_and_a_losing_streak():
    spec = BotSpec.parse("a", {**BASE, "cooldown_s": 60, "max_losing_streak": 2})
    book = BotBook(position_qty=Decimal("0.001"), position_usd=Decimal(40), last_trade_ms=1_000,
                   losing_streak=2)  # fmt: skip
    entry = check_trade(spec, True, TradeAsk("BTC/USDT", Side.BUY, Decimal(30)), book, 2_000)
    assert set(entry.codes) == {"BOT_ONE_POSITION", "BOT_COOLDOWN", "BOT_LOSING_STREAK"}
    exit_ = check_trade(spec, True, TradeAsk("BTC/USDT", Side.SELL, Decimal(30)), book, 2_000)
    assert exit_.approved and exit_.reducing


def test_stats_give_win_rate_expectancy_and_accuracy_by_score_bucket():
    trades = [ScoredTrade(Decimal("10"), Decimal("0.85")), ScoredTrade(Decimal("-4"),
              Decimal("0.62")), ScoredTrade(Decimal("6"), Decimal("0.81"))]  # fmt: skip
    s = bot_stats(trades)
    assert (s["trades"], s["wins"], s["win_rate_pct"]) == (3, 2, "66.67")
    assert s["pnl"] == "12" and s["expectancy"] == "4.00"
    assert [(b["bucket"], b["trades"], b["accuracy_pct"]) for b in s["by_score"]] == [
        ("0.6-0.7", 1, "0.00"),
        ("0.8-0.9", 2, "100.00"),
    ]


def test_a_weekly_loss_limit_stops_entries_until_monday_and_lets_exits_through():
    spec = BotSpec.parse("a", {**BASE, "weekly_loss_usd": "60"})
    assert BotSpec.parse("a", spec.to_doc()) == spec
    assert BotSpec.parse("a", BASE).weekly_loss_usd is None  # optional
    with pytest.raises(BotError, match=r"bot a: weekly_loss_usd=0 must be > 0"):
        BotSpec.parse("a", {**BASE, "weekly_loss_usd": "0"})
    ask = TradeAsk("BTC/USDT", Side.BUY, Decimal(30))
    lost = BotBook(realized_today_usd=Decimal(-5), realized_week_usd=Decimal(-60))
    entry = check_trade(spec, True, ask, lost, 0)
    assert entry.codes == ["BOT_WEEKLY_LOSS"]
    assert entry.reasons == [
        "bot a: this week's loss 60 USD reached weekly_loss_usd=60; trading resumes on Monday "
        "00:00 UTC"
    ]
    almost = BotBook(realized_week_usd=Decimal("-59.99"))
    assert check_trade(spec, True, ask, almost, 0).approved
    held = BotBook(position_qty=Decimal(-1), realized_week_usd=Decimal(-100))
    assert check_trade(spec, True, ask, held, 0).approved  # a closing trade is never stopped
    unlimited = BotSpec.parse("a", BASE)
    assert check_trade(
        unlimited, True, ask, BotBook(realized_week_usd=Decimal(-(10**6))), 0
    ).approved
