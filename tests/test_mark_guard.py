"""The mark guard: a price far from the last accepted mark is held until a second update."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.risk.config import RiskConfig
from tradeguard.risk.mark_guard import RECUR_WITHIN, MarkGuard
from tradeguard.risk.rules import ORDER_RULES, build
from tradeguard.risk.rules.base import Check
from tradeguard.risk.rules.order import MarkSuspectRule

D = Decimal
BTC = ("binance", "BTC/USDT")


def _guard(pct: str = "30", outcome_pct: str = "0", pm: frozenset[str] = frozenset()):  # type: ignore[no-untyped-def]
    told: list[tuple[object, ...]] = []
    g = MarkGuard(D(pct), D(outcome_pct), pm, lambda *a: told.append(a))
    return g, told


def test_the_first_mark_is_taken_and_a_print_1000_times_off_is_held() -> None:
    g, told = _guard()
    assert g.take(*BTC, D(50_000), 1)
    assert not g.take(*BTC, D(50), 2)
    assert g.held(*BTC) == (D(50), D(50_000))
    assert told == [(*BTC, D(50), D(50_000), D(30), "suspect", 2)]
    assert not g.take(*BTC, D(50_000_000), 3), "1000 times up is as suspect"
    assert g.held(*BTC) == (D(50_000_000), D(50_000)), "the latest wild price is the suspect"


def test_a_return_to_the_old_level_drops_the_print_with_a_log_line(caplog) -> None:  # type: ignore[no-untyped-def]
    g, told = _guard()
    g.take(*BTC, D(50_000), 1)
    g.take(*BTC, D(50), 2)
    with caplog.at_level("WARNING", logger="tradeguard.risk.mark_guard"):
        assert g.take(*BTC, D(50_010), 3)
    assert g.held(*BTC) is None
    assert told[-1][5] == "dropped"
    assert "dropped a bad print of BTC/USDT on binance: 50" in caplog.text


def test_a_second_distinct_update_near_the_suspect_confirms_it() -> None:
    g, told = _guard()
    g.take(*BTC, D(50_000), 1)
    assert not g.take(*BTC, D(30_000), 2)
    assert not g.take(*BTC, D(30_000), 3), "a duplicate confirms nothing"
    assert g.take(*BTC, D(29_500), 4)
    assert g.held(*BTC) is None and told[-1][5] == "confirmed"
    # the band now follows the confirmed level
    assert g.take(*BTC, D(29_000), 5)
    assert not g.take(*BTC, D(50_000), 6)


def test_moves_within_the_limit_follow_the_last_accepted_mark() -> None:
    g, _ = _guard()
    price = D(50_000)
    g.take(*BTC, price, 0)
    for i in range(1, 6):  # five 25 % falls in a row: each within 30 % of the one before
        price = price * D("0.75")
        assert g.take(*BTC, price, i)
    assert not g.take(*BTC, price * D("0.69"), 9)  # 31 % off


def test_limits_are_per_venue_and_symbol() -> None:
    g, _ = _guard()
    g.take("binance", "BTC/USDT", D(50_000), 1)
    assert g.take("kraken", "BTC/USDT", D(50), 2), "another venue's first mark"
    assert g.take("binance", "ETH/USDT", D(50), 3)
    g.data_venue["paper"] = "binance"
    g.take("binance", "BTC/USDT", D(1), 4)
    assert g.held("paper", "BTC/USDT") == (D(1), D(50_000)), "a paper venue reads its data's"
    assert g.held("kraken", "BTC/USDT") is None
    g.take("", "ETH/BTC", D("0.09"), 5)  # a replay's candles name no venue
    g.take("", "ETH/BTC", D("0.00009"), 6)
    assert g.held("paper", "ETH/BTC") == (D("0.00009"), D("0.09"))


def test_outcome_tokens_are_unguarded_by_default_and_spot_is() -> None:
    g, _ = _guard(pm=frozenset({"poly"}))
    g.take("poly", "ELECTION:YES/USD", D("0.9"), 1)
    assert g.take("poly", "ELECTION:YES/USD", D("0.02"), 2), "an outcome token legitimately jumps"
    assert g.limit_pct("poly", "X/USD") == 0 and g.limit_pct("binance", "BTC/USDT") == D(30)
    assert g.take("", "FED:NO/USD", D("0.9"), 3) and g.take("", "FED:NO/USD", D("0.1"), 4), (
        "an outcome symbol from a venue-less feed is an outcome token too"
    )
    g2, _ = _guard(outcome_pct="80", pm=frozenset({"poly"}))
    g2.take("poly", "ELECTION:YES/USD", D("0.9"), 1)
    assert g2.take("poly", "ELECTION:YES/USD", D("0.3"), 2)
    assert not g2.take("poly", "ELECTION:YES/USD", D("0.05"), 3)  # 83 % down


def test_zero_switches_the_guard_off() -> None:
    g, told = _guard(pct="0")
    g.take(*BTC, D(50_000), 1)
    assert g.take(*BTC, D(50), 2) and not told


def test_rebase_takes_any_price_and_clears_a_suspect() -> None:
    g, _ = _guard()
    g.take(*BTC, D(50_000), 1)
    g.take(*BTC, D(50), 2)
    g.rebase(*BTC, D(10_000))
    assert g.held(*BTC) is None
    assert g.take(*BTC, D(9_000), 3)


class _Engine:
    def __init__(self, guard: MarkGuard) -> None:
        self.mark_guard = guard


def test_the_rule_denies_orders_on_a_suspect_symbol_naming_both_prices_and_the_limit() -> None:
    cfg = RiskConfig()
    g, _ = _guard()
    g.take(*BTC, D(50_000), 1)
    c = Check(_Engine(g))  # type: ignore[arg-type]
    c.intent = OrderIntent(
        strategy_id="s", venue="binance", symbol="BTC/USDT", side=Side.SELL,
        amount=D("0.1"), type=OrderType.MARKET,
    )  # fmt: skip
    rule = MarkSuspectRule(cfg)
    assert rule.check(c) is None
    g.take(*BTC, D(50), 2)
    denial = rule.check(c)
    assert denial is not None and denial.code == "MARK_SUSPECT"
    assert denial.rule == "max_mark_jump_pct" and denial.limit == D(30)
    for part in ("BTC/USDT on binance", "50 against the last accepted 50000", "=30%"):
        assert part in denial.reason


@pytest.mark.parametrize(("pct", "outcome", "built"), [("30", "0", True), ("0", "0", False)])
def test_the_rule_is_left_out_when_both_limits_are_off(pct: str, outcome: str, built: bool) -> None:
    cfg = RiskConfig(max_mark_jump_pct=D(pct), max_mark_jump_outcome_pct=D(outcome))
    names = {f.__self__.__class__.__name__ for f in build(ORDER_RULES, cfg, True)}  # type: ignore[attr-defined]
    assert ("MarkSuspectRule" in names) is built


def test_hostile_config_values_are_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="max_mark_jump_pct"):
        RiskConfig(max_mark_jump_pct=D(-1))


def test_a_crash_falling_more_than_the_limit_on_every_update_is_confirmed() -> None:
    # daily candles in a collapse: 100 -> 40 -> 16 -> 6.4 ... each 60 % below the one before
    g, told = _guard()
    assert g.take(*BTC, D(100), 0)
    assert not g.take(*BTC, D(40), 1)
    assert g.take(*BTC, D(16), 2), "a second fall on the same side confirms the move"
    assert told[-1][2:6] == (D(16), D(100), D(30), "confirmed")
    assert not g.take(*BTC, D("6.4"), 3)
    assert g.take(*BTC, D("2.56"), 4)
    assert g.held(*BTC) is None
    # the same rule upwards; a swing to the other side is a new suspect, not a confirmation
    assert not g.take(*BTC, D(10), 5) and g.take(*BTC, D(40), 6)
    assert not g.take(*BTC, D(100), 7)
    assert not g.take(*BTC, D(10), 8), "the far side of the accepted mark confirms nothing"
    assert g.held(*BTC) == (D(10), D(40))


def test_a_stop_loss_exit_is_not_denied_for_the_whole_of_a_crash() -> None:
    g, _ = _guard()
    rule = MarkSuspectRule(RiskConfig())
    c = Check(_Engine(g))  # type: ignore[arg-type]
    c.intent = OrderIntent(
        strategy_id="s", venue="binance", symbol="BTC/USDT", side=Side.SELL,
        amount=D("0.1"), type=OrderType.MARKET, reduce_only=True,
    )  # fmt: skip
    price, passed = D(100), []
    g.take(*BTC, price, 0)
    for i in range(1, 7):
        price = price * D("0.4")
        g.take(*BTC, price, i)
        passed.append(rule.check(c) is None)
    assert passed == [False, True] * 3, "the exit waits one update, never the whole crash"


def test_a_suspect_names_the_last_accepted_mark_not_the_one_its_band_was_built_on() -> None:
    g, told = _guard()
    g.take(*BTC, D(50_000), 1)
    assert g.take(*BTC, D(50_010), 2)  # a small move: the band stands, the mark follows
    assert not g.take(*BTC, D(50), 3)
    assert g.held(*BTC) == (D(50), D(50_010)) and told[-1][3] == D(50_010)


def test_a_crash_interleaved_with_a_stale_feed_is_confirmed_on_its_second_print() -> None:
    # two feeds, one stale: crash, old price, crash, ... would drop the crash on every stale one
    g, told = _guard()
    assert g.take(*BTC, D(100), 0)
    verdicts = [g.take(*BTC, D(40) if i % 2 else D(100), i) for i in range(1, 9)]
    assert verdicts[:3] == [False, True, True], "held, dropped, then taken on its second print"
    assert told[2][2:6] == (D(40), D(100), D(30), "confirmed")
    # the stale feed's prints are the odd ones now: they never take the mark back
    assert verdicts[3:] == [False, True] * 2 + [False]
    assert g.accepted() == {BTC: D(40)} and g.held(*BTC) == (D(100), D(40))


def test_a_dropped_print_is_remembered_for_a_few_updates_only() -> None:
    g, _ = _guard()
    g.take(*BTC, D(100), 0)
    g.take(*BTC, D(40), 1)
    g.take(*BTC, D(100), 2)  # dropped
    assert not g.take(*BTC, D(40), 1), "the same message again is no second print"
    g2, _ = _guard()
    g2.take(*BTC, D(100), 0)
    g2.take(*BTC, D(40), 1)
    for i in range(2, 3 + RECUR_WITHIN):  # dropped, then RECUR_WITHIN ordinary updates
        assert g2.take(*BTC, D(100 + i), i)
    assert not g2.take(*BTC, D(40), 9), "long after: a new lone print, held"


def test_a_paper_venue_following_no_venue_reads_any_venues_suspect() -> None:
    g, _ = _guard()
    g.untied = {"paper"}
    g.take(*BTC, D(50_000), 1)
    g.take(*BTC, D(50), 2)
    assert g.held("paper", "BTC/USDT") == (D(50), D(50_000))
    assert g.held("other", "BTC/USDT") is None
    assert g.held("paper", "ETH/USDT") is None


def test_the_last_accepted_marks_restored_hold_a_bad_first_print() -> None:
    g, _ = _guard()
    g.take(*BTC, D(50_000), 1)
    g.take(*BTC, D(50_010), 2)
    stored = g.accepted()
    assert stored == {BTC: D(50_010)}
    again, told = _guard()
    again.restore(stored)
    assert not again.take(*BTC, D(50), 3)
    assert told == [(*BTC, D(50), D(50_010), D(30), "suspect", 3)]


def test_the_strategies_tick_guard_gives_the_mark_guards_verdicts() -> None:
    from tradeguard.strategies.exits import TickGuard

    rng = random.Random(3)
    tick, g = TickGuard(D(30), "BTC/USDT"), MarkGuard(D(30), D(30), restamped=True)
    price = D(50_000)
    for ts in range(2_000):
        price = max(D(1), price + rng.randint(-900, 900))
        shown = price * rng.choice((D(1),) * 6 + (D("0.001"), D(1000), D("0.6"), D("1.5")))
        assert tick.accept(shown, ts) == g.take("", "BTC/USDT", shown, ts), ts
    assert tick.last == g.accepted()[("", "BTC/USDT")]


def _walk(seed: int, n: int) -> list[tuple[str, Decimal]]:
    """Prices on two markets: a random walk with far prints, repeats and returns mixed in."""
    rng, out, level = random.Random(seed), [], {"BTC/USDT": D(50_000), "ETH/USDT": D(3_000)}
    for _ in range(n):
        symbol = rng.choice(sorted(level))
        r = rng.random()
        if r < 0.15:
            price = level[symbol] / 1000  # a bad print (it may come back: the recur rule)
        elif r < 0.2:
            level[symbol] = level[symbol] * D("0.5")  # a real crash
            price = level[symbol]
        else:
            price = level[symbol] * (1 + D(rng.randint(-40, 40)) / 1000)
        out.append((symbol, price.quantize(D("0.01"))))
    return out


@pytest.mark.parametrize("cut", [3, 17, 40, 77, 120])
def test_a_guard_taken_back_from_its_stored_state_judges_on_as_the_guard_it_was(cut: int) -> None:
    prices = _walk(cut, 160)
    whole, _ = _guard()
    first, _ = _guard()
    verdicts = [whole.take("", s, p, t) for t, (s, p) in enumerate(prices)]
    for t, (s, p) in enumerate(prices[:cut]):
        first.take("", s, p, t)
    stored = json.loads(json.dumps(first.state()))  # as a commit writes it and a resume reads it
    later, _ = _guard()
    later.take("", "BTC/USDT", D(1), 0)  # whatever it held before is replaced
    later.load_state(stored)
    assert later.state() == first.state()
    after = [later.take("", s, p, t) for t, (s, p) in enumerate(prices[cut:], cut)]
    assert after == verdicts[cut:]
    assert later.state() == whole.state()
    assert any(not v for v in verdicts) and any(verdicts), "prints held and marks taken"


def test_a_held_print_and_a_remembered_drop_survive_the_stored_state() -> None:
    g, _ = _guard()
    g.take(*BTC, D(50_000), 1)
    g.take(*BTC, D(50), 2)  # held
    g.take(*BTC, D(50_010), 3)  # dropped, remembered
    g.take(*BTC, D(50_020), 4)
    g.take("binance", "ETH/USDT", D(3_000), 5)
    g.take("binance", "ETH/USDT", D(3), 6)  # held at the store
    back, _ = _guard()
    back.load_state(json.loads(json.dumps(g.state())))
    assert back.held("binance", "ETH/USDT") == (D(3), D(3_000))
    assert back.take(*BTC, D(51), 7), "the remembered print recurring confirms the move"


def test_a_state_stored_under_other_limits_brings_back_only_the_accepted_marks() -> None:
    g, _ = _guard("30")
    g.take(*BTC, D(50_000), 1)
    g.take(*BTC, D(50), 2)  # held
    back, _ = _guard("10")
    back.load_state(g.state())
    assert back.accepted() == {BTC: D(50_000)} and back.held(*BTC) is None
    assert not back.take(*BTC, D(44_000), 3), "12 % away: held under the 10 % limit now"


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s.pop("bands"),
        lambda s: s["bands"].append(["binance", "ETH/USDT", "x", "1", "1", "1", "1"]),
        lambda s: s["suspect"].append([None, "ETH/USDT", "1", "1", 0]),
        lambda s: s["recent"].append(["binance", "ETH/USDT", "1"]),
    ],
)
def test_a_damaged_stored_state_raises_and_leaves_the_guard_empty(damage) -> None:  # type: ignore[no-untyped-def]
    g, _ = _guard()
    g.take(*BTC, D(50_000), 1)
    g.take(*BTC, D(50), 2)
    state = json.loads(json.dumps(g.state()))
    damage(state)
    back, _ = _guard()
    back.take("binance", "ETH/USDT", D(3_000), 1)
    with pytest.raises((LookupError, TypeError, ValueError, ArithmeticError)):
        back.load_state(state)
    assert back.accepted() == {} and back.held(*BTC) is None


def test_a_held_price_again_at_another_time_confirms_only_where_restamps_count() -> None:
    node, _ = _guard()
    flat = MarkGuard(D(30), D(30), restamped=True)
    for g in (node, flat):
        assert g.take(*BTC, D(100), 1)
        assert not g.take(*BTC, D(40), 2)
        assert not g.take(*BTC, D(40), 2), "the same message again"
    assert not node.take(*BTC, D(40), 3), "a node's ticker polled again restamps a bad print"
    assert flat.take(*BTC, D(40), 3), "a feed holding flat after a real crash"
    assert flat.accepted()[BTC] == D(40) and flat.held(*BTC) is None
    # a bar is a new stretch of trading: its close again at a later bar confirms on any guard
    assert not node.take_bar(*BTC, D(40), 2, 2, 3), "the same bar again"
    assert node.take_bar(*BTC, D(40), 4, 4, 5)
    assert node.accepted()[BTC] == D(40)


def test_a_held_bar_close_is_confirmed_only_by_a_bar_opened_after_it_closed() -> None:
    node, _ = _guard()
    assert node.take_bar(*BTC, D(100), 0, 0, 60_000)
    hour = 3_600_000
    assert not node.take_bar(*BTC, D(40), 0, 0, hour), "an hour's bar closing at 40"
    back = MarkGuard(D(30), D(30))
    back.load_state(json.loads(json.dumps(node.state())))  # a resumed replay
    for g in (node, back):
        # its last minute closes on the same trade: the same print, not a second one
        assert not g.take_bar(*BTC, D(40), hour - 60_000, hour - 60_000, hour)
        assert g.held(*BTC) == (D(40), D(100))
        assert g.take_bar(*BTC, D(40), hour, hour, hour + 60_000), "the next bar holds there"


@pytest.mark.parametrize("seed", [1, 5, 9])
def test_a_candle_in_one_call_is_take_bar_then_admits_bar(seed: int) -> None:
    """The replay's one call per candle gives the two calls' verdicts and leaves the same state."""
    rng = random.Random(seed)
    one, _ = _guard()
    two, _ = _guard()
    verdicts = []
    for t, (s, close) in enumerate(_walk(seed, 300)):
        low = close * (1 - D(rng.choice([0, 1, 5, 400])) / 1000)  # some bars reach far down
        high = close * (1 + D(rng.choice([0, 2, 5, 500])) / 1000)
        opened, closes = t * 60_000, (t + 1) * 60_000
        got = one.take_candle("", s, close, low, high, opened, closes)
        taken = two.take_bar("", s, close, closes, opened, closes)
        want = 0 if not taken else 2 if two.admits_bar("", s, low, high) else 1
        assert got == want, (t, s, close)
        verdicts.append(got)
    assert one.state() == two.state()
    assert {0, 1, 2} <= set(verdicts), "held closes, bars past the limit and bars admitted"


@pytest.mark.parametrize("call", ["take", "take_candle"])
def test_a_band_built_before_the_outcome_venues_are_named_follows_their_limit(call: str) -> None:
    """The venues are named after the guard is made (the node's builder): a band built before
    follows the outcome limit from its next move on, and an outcome limit of 0 leaves the band
    built then (the market is off from that move on)."""

    def take(g: MarkGuard, price: str, t: int) -> bool:
        if call == "take":
            return g.take("poly", "X/USD", D(price), t)
        return g.take_candle("poly", "X/USD", D(price), D(price), D(price), t, t + 1) > 0

    g, _ = _guard(outcome_pct="10")
    assert take(g, "100", 0)
    g.outcome_venues = frozenset({"poly"})
    assert take(g, "105", 1), "within both limits: the band follows, on the outcome limit"
    assert g.state()["bands"] == [["poly", "X/USD", "94.5", "115.5", "105", "104.8359375",
                                   "105.1640625"]]  # fmt: skip
    assert not take(g, "120", 2), "over 10 % of 105: held (30 % would take it)"
    off, _ = _guard(outcome_pct="0")
    assert take(off, "100", 0)
    off.outcome_venues = frozenset({"poly"})
    assert take(off, "105", 1)
    assert off.state()["off"] == [("poly", "X/USD")] and off.accepted() == {("poly", "X/USD"): 100}
    assert not take(off, "200", 2), "the band built before still judges"
