"""The token_unlock strategy's entries and exits on hand-made candles, through a stub context."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tradeguard.model.enums import Side
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Candle, Quote
from tradeguard.model.order import OrderIntent
from tradeguard.model.position import Position
from tradeguard.strategies.base import create

H = 3_600_000
T0 = 1_515_600_000_000  # 2018-01-10T16:00:00Z, a candle close
UNLOCK = T0 + 48 * H
CAL = (
    "token,unlock_time_utc,amount,pct_of_supply,source_url\n"
    "ETH,2018-01-12T16:00:00Z,1000,3,https://example.com/eth\n"
    "ETH,2018-01-20T16:00:00Z,1000,1,https://example.com/eth-small\n"
)


class StubContext:
    """Fills every market intent at once at the last close; keeps one position per symbol."""

    def __init__(self) -> None:
        self.positions: dict[str, Position] = {}
        self.balances = {"BTC": Decimal("1"), "ETH": Decimal(0)}
        self.intents: list[OrderIntent] = []
        self.open_orders = 0
        self.last: dict[str, Decimal] = {}
        self.base_fee_pct = Decimal(0)  # a venue keeping its fee on a buy in the base asset

    def now_ms(self) -> int:
        return 0

    def position(self, strategy_id: str, venue: str, symbol: str) -> Position:
        return self.positions.setdefault(symbol, Position(venue, symbol, strategy_id))

    def free(self, venue: str, asset: str) -> Decimal:
        return self.balances.get(asset, Decimal(0))

    def equity(self) -> Decimal:
        eth = self.balances["ETH"] * self.last.get("ETH/BTC", Decimal(0))
        return self.balances["BTC"] + eth

    def instrument(self, venue: str, symbol: str) -> Instrument | None:
        return Instrument(venue, symbol, "ETH", "BTC", Decimal("0.000001"), Decimal("0.001"))

    def instruments(self, venue: str) -> list[Instrument]:
        return []

    def quote(self, symbol: str) -> Quote | None:
        return None

    def open_order_count(self, strategy_id: str, symbol: str) -> int:
        return self.open_orders

    def emit(self, intent: OrderIntent) -> None:
        self.intents.append(intent)
        price = self.last[intent.symbol]
        pos = self.position(intent.strategy_id, intent.venue, intent.symbol)
        signed = intent.amount if intent.side is Side.BUY else -intent.amount
        if pos.quantity == 0:
            pos.avg_entry = price
        pos.quantity += signed
        if pos.quantity == 0:
            pos.avg_entry = Decimal(0)
        self.balances["ETH"] += signed - (
            intent.amount * self.base_fee_pct / 100 if signed > 0 else 0
        )
        self.balances["BTC"] -= signed * price


def _strategy(tmp_path: Path, **params: Any) -> tuple[Any, StubContext]:
    cal = tmp_path / "cal.csv"
    cal.write_text(CAL, encoding="utf-8")
    strat = create("token_unlock", "unlock", "paper", "ETH/BTC", {"calendar": str(cal), **params})
    ctx = StubContext()
    strat.bind(ctx)
    return strat, ctx


def _feed(strat: Any, ctx: StubContext, close_ms: int, price: str) -> None:
    c = Decimal(price)
    ctx.last["ETH/BTC"] = c
    strat.on_candle(Candle("ETH/BTC", close_ms - 300_000, c, c, c, c, Decimal(10), 300))


def _reasons(ctx: StubContext) -> list[tuple[str, str]]:
    return [(i.side.value, i.signal["reason"]) for i in ctx.intents]


def test_spot_holds_outside_the_window_exits_lead_hours_before_and_reenters_lag_after(tmp_path):
    strat, ctx = _strategy(tmp_path, lead_h="24", lag_h="12")
    _feed(strat, ctx, T0, "0.1")
    assert _reasons(ctx) == [("buy", "outside_unlock_window")]
    buy = ctx.intents[0]
    # 20 % of 1 BTC equity, less 2 % headroom for the risk engine's price bound
    assert buy.amount == Decimal("1.96") and buy.stop_loss == Decimal("0.098")
    assert buy.take_profit == Decimal("0.105")
    _feed(strat, ctx, UNLOCK - 24 * H - 300_000, "0.1")  # one candle before the window
    assert len(ctx.intents) == 1
    _feed(strat, ctx, UNLOCK - 24 * H, "0.1")
    assert _reasons(ctx)[-1] == ("sell", "unlock_ahead")
    sell = ctx.intents[-1]
    assert sell.reduce_only and sell.amount == Decimal("1.96")
    assert sell.signal["unlock"]["time_utc"] == "2018-01-12T16:00:00Z"
    assert sell.signal["unlock"]["source_url"] == "https://example.com/eth"
    _feed(strat, ctx, UNLOCK, "0.09")
    _feed(strat, ctx, UNLOCK + 12 * H - 300_000, "0.09")
    assert len(ctx.intents) == 2  # flat through the window
    _feed(strat, ctx, UNLOCK + 12 * H, "0.09")
    assert _reasons(ctx)[-1] == ("buy", "unlock_passed")
    assert ctx.intents[-1].signal["unlock"]["time_utc"] == "2018-01-12T16:00:00Z"


def test_a_fee_kept_in_the_base_asset_leaves_dust_that_does_not_block_the_next_entry(tmp_path):
    strat, ctx = _strategy(tmp_path, reentry_cooldown_h="1")
    ctx.base_fee_pct = Decimal("0.1")
    _feed(strat, ctx, T0, "0.1")
    _feed(strat, ctx, T0 + 300_000, "0.098")  # -2 %: stop-loss sells what the venue left
    assert _reasons(ctx)[-1] == ("sell", "stop_loss")
    assert ctx.intents[-1].amount == Decimal("1.958")  # 1.96 bought, 0.00196 kept as fee
    assert ctx.positions["ETH/BTC"].quantity == Decimal("0.002")  # dust nothing can sell
    _feed(strat, ctx, T0 + 300_000 + H, "0.098")
    assert _reasons(ctx)[-1] == ("buy", "outside_unlock_window")  # back in after the cooldown


def test_an_unlock_below_min_supply_pct_is_ignored(tmp_path):
    strat, ctx = _strategy(tmp_path)
    small = UNLOCK + 8 * 24 * H  # the 1 % unlock
    _feed(strat, ctx, small - 24 * H, "0.1")
    _feed(strat, ctx, small, "0.1")
    assert _reasons(ctx) == [("buy", "outside_unlock_window")]


def test_stop_loss_exits_and_waits_the_reentry_cooldown(tmp_path):
    strat, ctx = _strategy(tmp_path, reentry_cooldown_h="6")
    _feed(strat, ctx, T0, "0.1")
    _feed(strat, ctx, T0 + 300_000, "0.0985")  # -1.5 %: held
    assert len(ctx.intents) == 1
    _feed(strat, ctx, T0 + 600_000, "0.098")  # -2 %
    assert _reasons(ctx)[-1] == ("sell", "stop_loss")
    _feed(strat, ctx, T0 + 600_000 + 6 * H - 300_000, "0.098")
    assert len(ctx.intents) == 2
    _feed(strat, ctx, T0 + 600_000 + 6 * H, "0.098")
    assert _reasons(ctx)[-1] == ("buy", "outside_unlock_window")


def test_take_profit_at_plus_5_pct(tmp_path):
    strat, ctx = _strategy(tmp_path, trailing_stop_pct="0")
    _feed(strat, ctx, T0, "0.1")
    _feed(strat, ctx, T0 + 300_000, "0.1049")
    assert len(ctx.intents) == 1
    _feed(strat, ctx, T0 + 600_000, "0.105")
    assert _reasons(ctx)[-1] == ("sell", "take_profit")


def test_trailing_stop_arms_after_plus_3_pct_then_follows_the_high(tmp_path):
    strat, ctx = _strategy(tmp_path)
    _feed(strat, ctx, T0, "0.1")
    _feed(strat, ctx, T0 + 300_000, "0.1029")
    _feed(strat, ctx, T0 + 600_000, "0.1015")  # -1.36 % from the high, but not armed yet
    assert len(ctx.intents) == 1
    _feed(strat, ctx, T0 + 900_000, "0.104")  # +4 %: armed
    _feed(strat, ctx, T0 + 1_200_000, "0.1025")  # -1.44 % from 0.104
    assert len(ctx.intents) == 1
    _feed(strat, ctx, T0 + 1_500_000, "0.10244")  # -1.5 %
    assert _reasons(ctx)[-1] == ("sell", "trailing_stop")


def test_short_mode_sells_lead_hours_before_and_buys_back_lag_hours_after(tmp_path):
    strat, ctx = _strategy(tmp_path, short=True, lead_h="6", lag_h="6")
    _feed(strat, ctx, T0, "0.1")
    assert ctx.intents == []  # flat outside the windows
    _feed(strat, ctx, UNLOCK - 6 * H, "0.1")
    assert _reasons(ctx) == [("sell", "unlock_ahead")]
    assert ctx.positions["ETH/BTC"].quantity < 0
    assert ctx.intents[0].stop_loss == Decimal("0.102")
    _feed(strat, ctx, UNLOCK, "0.097")
    assert len(ctx.intents) == 1
    _feed(strat, ctx, UNLOCK + 6 * H, "0.097")
    assert _reasons(ctx)[-1] == ("buy", "unlock_passed")
    assert ctx.intents[-1].reduce_only
    assert ctx.positions["ETH/BTC"].quantity == 0


def test_a_stopped_out_short_is_not_reopened_in_the_same_window(tmp_path):
    strat, ctx = _strategy(tmp_path, short=True, lead_h="6", lag_h="6")
    _feed(strat, ctx, UNLOCK - 6 * H, "0.1")
    _feed(strat, ctx, UNLOCK - 5 * H, "0.1025")
    assert _reasons(ctx) == [("sell", "unlock_ahead"), ("buy", "stop_loss")]
    for k in range(1, 12):
        _feed(strat, ctx, UNLOCK - 5 * H + k * H, "0.1")
    assert len(ctx.intents) == 2


def test_nothing_is_sent_while_an_order_of_the_strategy_is_working(tmp_path):
    strat, ctx = _strategy(tmp_path)
    ctx.open_orders = 1
    _feed(strat, ctx, T0, "0.1")
    assert ctx.intents == []


def test_an_entry_under_min_order_usd_is_not_sent(tmp_path):
    strat, ctx = _strategy(tmp_path, quote_usd="100")  # 0.196 BTC = 19.60 USD < 50
    _feed(strat, ctx, T0, "0.1")
    assert ctx.intents == []


def test_state_round_trip_resumes_the_same_decisions(tmp_path):
    strat, ctx = _strategy(tmp_path, reentry_cooldown_h="6")
    _feed(strat, ctx, T0, "0.1")
    _feed(strat, ctx, T0 + 300_000, "0.098")  # stop: cooldown until T0 + 300_000 + 6 h
    resumed, ctx2 = _strategy(tmp_path, reentry_cooldown_h="6")
    resumed.restore(strat.state())
    ctx2.positions, ctx2.balances = ctx.positions, ctx.balances
    _feed(resumed, ctx2, T0 + 3 * H, "0.098")
    assert ctx2.intents == []  # still cooling down after the restart
    _feed(resumed, ctx2, T0 + 300_000 + 6 * H, "0.098")
    assert _reasons(ctx2) == [("buy", "outside_unlock_window")]


def test_a_trailing_stop_armed_before_a_restart_stays_armed(tmp_path):
    strat, ctx = _strategy(tmp_path)
    _feed(strat, ctx, T0, "0.1")
    _feed(strat, ctx, T0 + 300_000, "0.104")
    state = strat.state()
    assert state["slots"]["ETH/BTC"]["tracker"]["trailing_armed"] is True
    resumed, ctx2 = _strategy(tmp_path)
    resumed.restore(state)
    ctx2.positions, ctx2.balances = ctx.positions, ctx.balances
    _feed(resumed, ctx2, T0 + 600_000, "0.10244")
    assert _reasons(ctx2) == [("sell", "trailing_stop")]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"lead_h": "-1"}, "strategy param lead_h = -1: must be in [0, 720]"),
        ({"position_pct": "0"}, "strategy param position_pct = 0: must be in [0.1, 100]"),
        ({"short": "yes"}, "strategy param short = 'yes': must be true or false"),
        ({"leadh": "1"}, "unknown token_unlock params ['leadh']"),
        ({"symbols": ["ADA/BTC"]}, "ADA/BTC has no unlock of at least min_supply_pct=2%"),
        ({"symbols": "ETH/BTC"}, "must be a list of 1-100 symbols"),
    ],
)
def test_bad_params_are_refused_naming_the_param(tmp_path, params, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        _strategy(tmp_path, **params)


def test_a_missing_calendar_param_or_file_is_refused():
    with pytest.raises(ValueError, match="strategy param calendar is missing"):
        create("token_unlock", "u", "paper", "ETH/BTC", {})
    with pytest.raises(ValueError, match=r"strategy param calendar = 'nope\.csv': no file at "):
        create("token_unlock", "u", "paper", "ETH/BTC", {"calendar": "nope.csv"})


def test_a_relative_calendar_is_taken_from_the_config_files_folder(tmp_path, monkeypatch):
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "cal.csv").write_text(CAL, encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # not where the calendar is
    strat = create("token_unlock", "u", "paper", "ETH/BTC", {"calendar": "cal.csv"}, folder)
    assert strat.schedules["ETH/BTC"].windows[0].event.source_url == "https://example.com/eth"
    with pytest.raises(ValueError) as err:
        create("token_unlock", "u", "paper", "ETH/BTC", {"calendar": "gone.csv"}, folder)
    assert str(folder / "gone.csv") in str(err.value)
    assert "strategy param calendar = 'gone.csv'" in str(err.value)
    assert "config file's folder" in str(err.value)


def test_windows_follow_market_time_when_quotes_lag_the_candles(tmp_path):
    # A fast replay: candles carry the replay's time, quotes the (earlier) wall clock.
    strat, ctx = _strategy(tmp_path, lead_h="24", lag_h="12")
    _feed(strat, ctx, UNLOCK - 24 * H, "0.1")
    assert ctx.intents == []  # inside the window from the start: nothing to hold
    ctx.last["ETH/BTC"] = Decimal("0.1")
    wall = T0  # long before the window on the wall clock
    strat.on_ticker(Quote("ETH/BTC", wall, Decimal("0.0999"), Decimal(1), Decimal("0.1001"),
                          Decimal(1)))  # fmt: skip
    assert ctx.intents == []  # still inside the window on market time: no entry
    assert strat.state()["market_ms"] == UNLOCK - 24 * H
    again, ctx2 = _strategy(tmp_path, lead_h="24", lag_h="12")
    again.restore(strat.state())
    ctx2.last["ETH/BTC"] = Decimal("0.1")
    again.on_ticker(Quote("ETH/BTC", wall, Decimal("0.0999"), Decimal(1), Decimal("0.1001"),
                          Decimal(1)))  # fmt: skip
    assert ctx2.intents == []  # the market time survives a restart


def _quote(strat: Any, ctx: StubContext, ts: int, price: str) -> None:
    p = Decimal(price)
    strat.on_ticker(Quote("ETH/BTC", ts, p, Decimal(1), p, Decimal(1)))


def test_one_absurd_tick_down_does_not_fire_the_stop_loss(tmp_path):
    strat, ctx = _strategy(tmp_path)
    _feed(strat, ctx, T0, "0.1")
    assert _reasons(ctx) == [("buy", "outside_unlock_window")]
    _quote(strat, ctx, T0 + 1_000, "0.0001")  # 1000x off: a bad print, not a crash
    assert len(ctx.intents) == 1
    _quote(strat, ctx, T0 + 2_000, "0.0999")  # the market was never there
    assert len(ctx.intents) == 1
    # a real crash: the next price confirms the first, and the stop fires on it
    _quote(strat, ctx, T0 + 3_000, "0.04")
    assert len(ctx.intents) == 1
    _quote(strat, ctx, T0 + 4_000, "0.041")
    assert _reasons(ctx)[-1] == ("sell", "stop_loss")
    assert ctx.intents[-1].signal["price"] == "0.041"


def test_a_duplicated_absurd_tick_does_not_confirm_itself(tmp_path):
    strat, ctx = _strategy(tmp_path)
    _feed(strat, ctx, T0, "0.1")
    _quote(strat, ctx, T0 + 1_000, "0.0001")
    _quote(strat, ctx, T0 + 1_000, "0.0001")  # the same message again
    assert len(ctx.intents) == 1


def test_one_absurd_tick_up_does_not_ratchet_the_trailing_high(tmp_path):
    strat, ctx = _strategy(tmp_path)
    _feed(strat, ctx, T0, "0.1")
    _quote(strat, ctx, T0 + 1_000, "100")  # 1000x up: would arm and set the high at 100
    assert strat.state()["slots"]["ETH/BTC"]["tracker"] is None or (
        Decimal(strat.state()["slots"]["ETH/BTC"]["tracker"]["best"]) < Decimal("0.2")
    )
    _quote(strat, ctx, T0 + 2_000, "0.1001")
    assert len(ctx.intents) == 1  # no trailing stop, no take-profit
    assert Decimal(strat.state()["slots"]["ETH/BTC"]["tracker"]["best"]) == Decimal("0.1001")


def test_a_gap_within_the_guard_fires_at_once_and_ratchets_the_high(tmp_path):
    strat, ctx = _strategy(tmp_path, take_profit_pct="0")
    _feed(strat, ctx, T0, "0.1")
    _quote(strat, ctx, T0 + 1_000, "0.13")  # +30 % gap: real, acted on at once
    state = strat.state()["slots"]["ETH/BTC"]["tracker"]
    assert Decimal(state["best"]) == Decimal("0.13") and state["trailing_armed"] is True
    _quote(strat, ctx, T0 + 2_000, "0.11")  # gap down through the trailing stop
    assert _reasons(ctx)[-1] == ("sell", "trailing_stop")
    assert ctx.intents[-1].signal["position"] == {"entry": "0.1", "best": "0.13"}


def test_an_absurd_tick_is_not_an_entry_price(tmp_path):
    strat, ctx = _strategy(tmp_path, reentry_cooldown_h="0")
    _feed(strat, ctx, T0, "0.1")
    _feed(strat, ctx, T0 + 300_000, "0.098")  # stop-loss: flat now
    assert _reasons(ctx)[-1] == ("sell", "stop_loss")
    ctx.last["ETH/BTC"] = Decimal("0.0001")
    _quote(strat, ctx, T0 + 301_000, "0.0001")  # an entry sized on it would be 1000x too big
    assert len(ctx.intents) == 2


def test_the_guard_survives_a_restart(tmp_path):
    strat, ctx = _strategy(tmp_path)
    _feed(strat, ctx, T0, "0.1")
    resumed, ctx2 = _strategy(tmp_path)
    resumed.restore(strat.state())
    ctx2.positions, ctx2.balances = ctx.positions, ctx.balances
    _quote(resumed, ctx2, T0 + 1_000, "0.0001")
    assert ctx2.intents == []


def test_max_tick_move_pct_zero_turns_the_guard_off(tmp_path):
    strat, ctx = _strategy(tmp_path, max_tick_move_pct="0")
    _feed(strat, ctx, T0, "0.1")
    _quote(strat, ctx, T0 + 1_000, "0.0001")
    assert _reasons(ctx)[-1] == ("sell", "stop_loss")


def test_one_message_stamped_years_ahead_does_not_move_market_time(tmp_path):
    strat, ctx = _strategy(tmp_path, lead_h="24", lag_h="12")
    _feed(strat, ctx, T0, "0.1")
    assert _reasons(ctx) == [("buy", "outside_unlock_window")]
    _quote(strat, ctx, 4_102_444_800_000, "0.1")  # 2100-01-01: a bad timestamp
    assert strat.state()["market_ms"] == T0
    _quote(strat, ctx, 4_102_444_800_000, "0.1")  # repeated: still one message
    assert strat.state()["market_ms"] == T0
    _feed(strat, ctx, UNLOCK - 24 * H, "0.1")  # the window opens on time: the bot sells
    assert _reasons(ctx)[-1] == ("sell", "unlock_ahead")


def test_a_real_jump_of_market_time_is_taken_on_the_next_quote(tmp_path):
    # the market played on while the node was stopped: two quotes far ahead confirm it
    strat, ctx = _strategy(tmp_path, lead_h="24", lag_h="12")
    _feed(strat, ctx, T0, "0.1")
    assert len(ctx.intents) == 1
    _quote(strat, ctx, UNLOCK - 12 * H, "0.1")  # inside the window, but one message only
    assert len(ctx.intents) == 1
    _quote(strat, ctx, UNLOCK - 12 * H + 1_000, "0.1")
    assert _reasons(ctx)[-1] == ("sell", "unlock_ahead")
    assert strat.state()["market_ms"] == UNLOCK - 12 * H + 1_000


def test_a_quote_older_than_the_last_one_is_not_acted_on(tmp_path):
    strat, ctx = _strategy(tmp_path)
    _feed(strat, ctx, T0, "0.1")
    _quote(strat, ctx, T0 + 2_000, "0.0995")
    _quote(strat, ctx, T0 + 1_000, "0.097")  # delivered late: the market has moved since
    assert len(ctx.intents) == 1
    _quote(strat, ctx, T0 + 3_000, "0.097")  # a current price there fires the stop
    assert _reasons(ctx)[-1] == ("sell", "stop_loss")


def test_a_crash_that_halves_on_every_candle_fires_the_stop(tmp_path):
    # a collapse of over 50 % per message: each price is far from the last and from the held one
    strat, ctx = _strategy(tmp_path)
    _feed(strat, ctx, T0, "0.1")
    for i, price in enumerate(("0.04", "0.015", "0.005", "0.002", "0.0007"), start=1):
        ctx.last["ETH/BTC"] = Decimal(price)
        _feed(strat, ctx, T0 + i * 300_000, price)
    assert _reasons(ctx)[-1] == ("sell", "stop_loss")
    assert ctx.intents[-1].signal["price"] == "0.015"  # acted on at the second message


def test_a_quote_stamped_minutes_ahead_does_not_silence_the_market(tmp_path):
    # one quote stamped 30 min ahead (under the hour market time tolerates), then the venue's
    # real stamps again (or its clock stepped back on a reconnect): the stop still fires
    strat, ctx = _strategy(tmp_path)
    _feed(strat, ctx, T0, "0.1")
    _quote(strat, ctx, T0 + 1_800_000, "0.1")
    ctx.last["ETH/BTC"] = Decimal("0.097")
    _quote(strat, ctx, T0 + 1_000, "0.097")  # older than the last: may be a late one
    _quote(strat, ctx, T0 + 2_000, "0.097")  # a second in a row: the stamps went back
    assert _reasons(ctx)[-1] == ("sell", "stop_loss")


def test_bad_stamps_apart_do_not_confirm_each_other(tmp_path):
    # a fast replay: quotes stamped behind the candles' market time; two bad stamps with
    # ordinary quotes between them are two lone errors, not the clock moving on
    strat, ctx = _strategy(tmp_path, lead_h="24", lag_h="12")
    _feed(strat, ctx, T0, "0.1")
    _quote(strat, ctx, 4_102_444_800_000, "0.1")  # 2100-01-01: held back
    _quote(strat, ctx, T0 - 60_000, "0.1")
    _quote(strat, ctx, T0 - 50_000, "0.1")
    _quote(strat, ctx, 4_102_444_860_000, "0.1")  # another lone bad stamp
    assert strat.state()["market_ms"] == T0


def test_polled_quotes_with_a_stale_venue_stamp_are_acted_on(tmp_path):
    # the websocket's quotes carry the local clock; the REST fallback's carry the venue's last
    # trade time, behind it and the same on every poll while the book moves
    strat, ctx = _strategy(tmp_path)
    _feed(strat, ctx, T0, "0.1")
    _quote(strat, ctx, T0 + 10_000, "0.1")
    ctx.last["ETH/BTC"] = Decimal("0.097")
    _quote(strat, ctx, T0 + 5_000, "0.0975")
    _quote(strat, ctx, T0 + 5_000, "0.097")  # the same stamp, another price: not a repeat
    assert _reasons(ctx)[-1] == ("sell", "stop_loss")


def test_a_crash_interleaved_with_stale_quotes_fires_the_stop_within_four_messages(tmp_path):
    # two feeds, one of them stale: the crash and the old price alternate
    strat, ctx = _strategy(tmp_path)
    _feed(strat, ctx, T0, "0.1")
    ctx.last["ETH/BTC"] = Decimal("0.04")
    for i in range(1, 5):
        _quote(strat, ctx, T0 + i * 1_000, "0.04" if i % 2 else "0.1")
    assert _reasons(ctx)[-1] == ("sell", "stop_loss")
    assert ctx.intents[-1].signal["price"] == "0.04"


def test_a_final_candle_stamped_far_ahead_is_held_like_a_quote(tmp_path):
    strat, ctx = _strategy(tmp_path, lead_h="24", lag_h="12")
    _feed(strat, ctx, T0, "0.1")
    _feed(strat, ctx, 4_102_444_800_000, "0.1")  # the last candle of the stream, in 2100
    assert strat.state()["market_ms"] == T0
    _feed(strat, ctx, UNLOCK - 24 * H, "0.1")  # days later, as a replay skips: taken
    assert _reasons(ctx)[-1] == ("sell", "unlock_ahead")


def test_a_far_ahead_stamp_of_one_symbol_does_not_confirm_anothers(tmp_path):
    cal = tmp_path / "cal.csv"
    cal.write_text(CAL + "XLM,2018-01-24T16:00:00Z,1000,3,https://example.com/xlm\n")
    strat = create(
        "token_unlock", "unlock", "paper", "ETH/BTC",
        {"calendar": str(cal), "symbols": ["ETH/BTC", "XLM/BTC"]},
    )  # fmt: skip
    ctx = StubContext()
    strat.bind(ctx)
    _feed(strat, ctx, T0, "0.1")
    p = Decimal("0.1")
    strat.on_ticker(Quote("ETH/BTC", 4_102_444_800_000, p, Decimal(1), p, Decimal(1)))
    strat.on_ticker(Quote("XLM/BTC", 4_102_444_860_000, p, Decimal(1), p, Decimal(1)))
    assert strat.state()["market_ms"] == T0, "two lone bad stamps of two markets"


@pytest.mark.parametrize("feed", [_quote, _feed])
def test_a_crash_that_holds_flat_fires_the_stop_at_its_second_print(tmp_path, feed):
    # a real crash of over 50 %, then the feed holds at that price: the second print of it
    # (another time, the same price) is another message and confirms the gap
    strat, ctx = _strategy(tmp_path)
    _feed(strat, ctx, T0, "0.1")
    ctx.last["ETH/BTC"] = Decimal("0.04")
    feed(strat, ctx, T0 + 300_000, "0.04")
    assert len(ctx.intents) == 1  # one message: held
    feed(strat, ctx, T0 + 600_000, "0.04")
    assert _reasons(ctx)[-1] == ("sell", "stop_loss")
    assert ctx.intents[-1].signal["price"] == "0.04"


def test_a_late_quote_after_a_restart_is_not_acted_on(tmp_path):
    strat, ctx = _strategy(tmp_path)
    _feed(strat, ctx, T0, "0.1")
    _quote(strat, ctx, T0 + 2_000, "0.0995")
    resumed, ctx2 = _strategy(tmp_path)
    resumed.restore(strat.state())
    ctx2.positions, ctx2.balances, ctx2.last = ctx.positions, ctx.balances, ctx.last
    ctx.last["ETH/BTC"] = Decimal("0.097")
    _quote(resumed, ctx2, T0 + 1_000, "0.097")  # sent before the restart, delivered after it
    assert ctx2.intents == []
    _quote(resumed, ctx2, T0 + 3_000, "0.097")  # a current price there fires the stop
    assert _reasons(ctx2)[-1] == ("sell", "stop_loss")
