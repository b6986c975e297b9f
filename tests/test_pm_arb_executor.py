"""Pair executor: both legs or neither, unwind within the cap, held legs alert, limits deny."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from pm_arb_support import Decision, StubGateway
from test_pm_arb_scanner import NOW, pair_doc
from tradeguard.strategies.cross_venue.executor import PairExecConfig, PairExecutor
from tradeguard.strategies.cross_venue.fees import FeeModel
from tradeguard.strategies.cross_venue.limits import LimitBook, OpenPair, PairLimits
from tradeguard.strategies.cross_venue.market_map import parse_market_map
from tradeguard.strategies.cross_venue.scanner import PairOpportunity, PairScanner, scan_pair

D = Decimal
TODAY = NOW // 86_400_000
K_YES, PM_NO = "KXFED:YES/USD", "fed-above-4:NO/PUSD"


def _setup(
    k_asks: list, pm_asks: list, **exec_kw: object
) -> tuple[PairExecutor, StubGateway, StubGateway, PairOpportunity]:
    pair = parse_market_map(pair_doc()).pairs["fed"]
    pm_fees, k_fees = FeeModel.default("polymarket"), FeeModel.default("kalshi")
    scanner = PairScanner([scan_pair(pair, "pm", "k", pm_fees, k_fees)])
    scanner.update_book("k", K_YES, k_asks)
    scanner.update_book("pm", PM_NO, pm_asks)
    opp = scanner.opportunity("fed", NOW)
    assert opp is not None
    k = StubGateway("k", k_fees, asks={K_YES: copy.deepcopy(k_asks)})
    pm = StubGateway("pm", pm_fees, asks={PM_NO: copy.deepcopy(pm_asks)})
    limits = exec_kw.pop("limits", PairLimits())
    book = exec_kw.pop("book", LimitBook())
    executor = PairExecutor(
        {"pm": pm, "k": k},
        "pmarb",
        PairExecConfig(**exec_kw),
        limits=limits,  # type: ignore[arg-type]
        book=book,
        fees={"pm": pm_fees, "k": k_fees},  # type: ignore[arg-type]
    )
    return executor, k, pm, opp


async def test_both_legs_fill_thinner_first_and_record_expected_versus_actual() -> None:
    executor, k, pm, opp = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))])
    rec = await executor.execute(opp)
    assert rec.outcome == "completed", rec.reason
    assert [leg.venue for leg in rec.legs] == ["k", "pm"]  # kalshi offers 10, polymarket 50
    assert all(o.time_in_force.value == "FOK" for o in (*k.sent, *pm.sent))
    assert rec.actual_profit == D("0.2805") == rec.expected_profit
    row = pm.rows[0]
    assert row["outcome"] == "completed" and row["cycle"]["kind"] == "cross_venue"
    assert executor.book.trades_today == 1 and executor.book.open[0].contracts == 10
    event = pm.events[-1]
    assert event.data["message"].startswith("[PAPER] pair fed: completed, 10 contracts")


async def test_second_leg_failure_is_unwound_within_the_loss_cap() -> None:
    executor, k, pm, opp = _setup(
        [(D("0.40"), D(10))], [(D("0.55"), D(50))], max_unwind_loss_usd=D(1)
    )
    pm.refuse.add(PM_NO)
    k.bids[K_YES] = [(D("0.38"), D(10))]
    rec = await executor.execute(opp)
    assert rec.outcome == "unwound", rec.reason
    unwind = rec.legs[-1]
    assert unwind.role == "unwind" and unwind.filled == 10 and unwind.side.value == "sell"
    # bought 10 at 0.40 + 0.17 fee = 4.17; sold at 0.38 less ceil(0.07*10*.38*.62) 0.17 = 3.63
    assert rec.actual_profit == D("-0.54")
    assert -rec.actual_profit <= D(1)
    assert executor.book.realised_today == D("-0.54")


async def test_unwind_refuses_bids_beyond_the_cap_and_holds_with_a_critical_alert() -> None:
    executor, k, pm, opp = _setup(
        [(D("0.40"), D(10))], [(D("0.55"), D(50))], max_unwind_loss_usd=D("0.50")
    )
    pm.refuse.add(PM_NO)
    k.bids[K_YES] = [(D("0.30"), D(10))]  # selling there would lose 1.54 > 0.50
    rec = await executor.execute(opp)
    assert rec.outcome == "held"
    assert rec.held == {K_YES: D(10)}
    assert rec.fees == D("0.17") == rec.legs[0].fee  # the held leg's fee was paid all the same
    unwind = rec.legs[-1]
    assert unwind.limit_price >= D("0.36") and unwind.filled == 0
    held = [e for e in (*k.events, *pm.events) if e.kind == "arb.held"]
    assert held and held[0].severity == "critical"
    assert "10 KXFED:YES/USD held unhedged on k" in held[0].data["message"]


async def test_first_leg_not_filled_leaves_nothing_at_risk() -> None:
    executor, k, pm, opp = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))])
    k.asks[K_YES] = [(D("0.40"), D(4))]  # the book thinned before the order arrived
    rec = await executor.execute(opp)
    assert rec.outcome == "failed"
    assert pm.sent == [] and len(k.sent) == 1


async def test_an_unreviewed_pair_is_refused_before_any_order() -> None:
    executor, k, pm, opp = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))])
    doc = pair_doc()
    del doc["pairs"][0]["reviewed_by"]
    pair = parse_market_map(doc).pairs["fed"]
    executor.refusal = lambda _pid, now: pair.refusal(now)
    rec = await executor.execute(opp)
    assert rec.outcome == "rejected" and rec.code == "PAIR_REFUSED"
    assert "not reviewed" in rec.reason
    assert k.sent == [] and pm.sent == []


async def test_risk_engine_cycle_denial_stops_the_pair() -> None:
    executor, k, pm, opp = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))])
    k.decision = Decision(False, "ARB_CYCLE_NOTIONAL", "cycle rejected: size too big")
    pm.decision = k.decision
    rec = await executor.execute(opp)
    assert rec.outcome == "rejected" and rec.code == "ARB_CYCLE_NOTIONAL"
    assert k.sent == [] and pm.sent == []


def _open(capital: str, event: str = "fed-dec", pair_id: str = "fed") -> OpenPair:
    return OpenPair(pair_id, event, 1, D(10), D(capital), NOW + 10**10, ("k", "pm"), ("a", "b"))


@pytest.mark.parametrize(
    ("limits", "book", "code", "words"),
    [
        (PairLimits(), LimitBook(TODAY, 0, D(-500)), "DAILY_LOSS", "daily_loss_usd=500"),
        (PairLimits(), LimitBook(TODAY, 10), "MAX_TRADES", "max_trades_per_day=10"),
        (PairLimits(min_roi_pct=D(5)), LimitBook(), "MIN_ROI", "min_roi_pct=5"),
        (PairLimits(), LimitBook(open=[_open("999.5")]), "MAX_POSITION", "max_position_usd=1,000"),
        (
            PairLimits(max_event_exposure_usd=D(100)),
            LimitBook(open=[_open("99.5", pair_id="x")]),
            "EVENT_EXPOSURE",
            "max_event_exposure_usd=100",
        ),
    ],
)
async def test_each_limit_denies_with_its_reason(
    limits: PairLimits, book: LimitBook, code: str, words: str
) -> None:
    executor, k, pm, opp = _setup(
        [(D("0.40"), D(10))], [(D("0.55"), D(50))], limits=limits, book=book
    )
    rec = await executor.execute(opp)
    assert rec.outcome == "rejected" and rec.code == code
    assert words in rec.reason
    assert k.sent == [] and pm.sent == []


async def test_size_is_trimmed_to_the_room_left_under_max_position() -> None:
    book = LimitBook(open=[_open("995.5")])
    executor, k, _, opp = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))], book=book)
    rec = await executor.execute(opp)
    # 9.7195 USD per 10 pairs: 4.5 USD of room fits 4 pairs
    assert rec.outcome == "completed" and rec.contracts == 4
    assert k.sent[0].amount == 4


async def test_a_venue_short_of_cash_for_its_leg_refuses_the_pair_before_either_is_sent() -> None:
    executor, k, pm, opp = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))])
    k.cash["USD"] = D(100)
    pm.cash["PUSD"] = D("5.00")  # the Polymarket leg needs 10 x 0.55 plus its fee
    rec = await executor.execute(opp)
    assert rec.outcome == "rejected" and rec.code == "PAIR_FUNDS"
    assert rec.reason.startswith("pair rejected: pm has 5.00 PUSD free, its fed-above-4:NO/PUSD "
                                 "leg needs up to 5.5")  # fmt: skip
    assert k.sent == [] and pm.sent == []  # no leg went out, so nothing to unwind
    pm.cash["PUSD"] = D(100)
    assert (await executor.execute(opp)).outcome == "completed"


async def test_a_second_leg_the_risk_engine_would_refuse_stops_the_pair_before_leg_one() -> None:
    # A price band below even the second leg's planned price (its ask, 0.55) would refuse it
    # after the first leg had filled, leaving the first to unwind or to hold.
    executor, k, pm, opp = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))])
    pm.band[PM_NO] = D("0.54")
    rec = await executor.execute(opp)
    assert rec.outcome == "rejected" and rec.code == "PRICE_BAND", rec.reason
    assert "before either leg was sent: second leg fed-above-4:NO/PUSD on pm" in rec.reason
    assert k.sent == [] and pm.sent == []


async def test_the_second_legs_dry_run_counts_the_cash_the_first_leg_spends() -> None:
    # Each leg alone fits the stable reserve (9 USD to spend); both (4.00 plus its fee, then
    # 5.50) do not: once leg one filled, the reserve would refuse leg two and leave it held.
    executor, k, pm, opp = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))])
    pm.stable_room = D(9)
    rec = await executor.execute(opp)
    assert rec.outcome == "rejected" and rec.code == "STABLE_RESERVE", rec.reason
    assert "before either leg was sent: second leg" in rec.reason
    assert k.sent == [] and pm.sent == []


async def test_the_second_leg_goes_at_the_highest_price_its_risk_check_passed() -> None:
    # Keeping the edge allows the second leg up to about 0.58; the band stops at 0.56, so it is
    # sent at 0.56, a price the risk engine passed before the first leg was sent.
    executor, _k, pm, opp = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))])
    pm.band[PM_NO] = D("0.56")
    rec = await executor.execute(opp)
    assert rec.outcome == "completed", rec.reason
    assert pm.sent[0].price == D("0.56")


async def test_the_second_leg_is_never_sent_above_the_price_approved_before_leg_one() -> None:
    # Leg one fills cheaper than its limit (0.30 of a 0.40 limit): the edge-keeping price rises,
    # but the second leg stays within the price its risk check approved.
    executor, k, pm, opp = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))])
    k.asks[K_YES] = [(D("0.30"), D(10))]
    rec = await executor.execute(opp)
    assert rec.outcome == "completed", rec.reason
    approved = executor._second_limit(opp.legs[1], D("0.40") + D("0.17") / 10, D(10))
    assert approved is not None and pm.sent[0].price == approved


async def test_a_held_lone_leg_counts_against_the_pairs_max_position() -> None:
    # A held first leg is capital in the pair: the next attempt may not add another lone leg
    # beyond max_position_usd (4.17 USD held of a 10 USD cap leaves room for 5 pairs at 0.97).
    executor, k, pm, opp = _setup(
        [(D("0.40"), D(10))],
        [(D("0.55"), D(50))],
        max_unwind_loss_usd=D("0.50"),
        limits=PairLimits(max_position_usd=D(10)),
    )
    pm.refuse.add(PM_NO)
    k.bids[K_YES] = [(D("0.30"), D(10))]
    first = await executor.execute(opp)
    assert first.outcome == "held" and first.held == {K_YES: D(10)}
    (lone,) = executor.book.open
    assert (lone.venues, lone.legs, lone.contracts, lone.capital) == (
        ("k",),
        (K_YES,),
        D(10),
        D("4.17"),
    )
    k.asks[K_YES] = [(D("0.40"), D(10))]
    again = await executor.execute(opp)
    assert again.contracts == 5, again.reason  # trimmed to the room the held leg leaves
    assert LimitBook.from_json(executor.book.to_json()).open == executor.book.open


async def test_a_leg_held_by_an_error_counts_against_the_pairs_max_position() -> None:
    # The second leg's submit raises after the first filled: the first is held all the same,
    # so it is capital in the pair (4.17 USD of a 10 USD cap leaves room for 5 pairs at 0.97).
    executor, k, pm, opp = _setup(
        [(D("0.40"), D(20))], [(D("0.55"), D(50))], limits=PairLimits(max_position_usd=D(10))
    )
    pm.broken.add(PM_NO)
    first = await executor.execute(opp)
    assert first.outcome == "held" and first.held == {K_YES: D(10)}, first.reason
    assert "journal write failed" in first.reason
    assert first.fees == first.legs[0].fee > 0  # the fee the held leg paid is the attempt's
    (lone,) = executor.book.open
    assert (lone.venues, lone.legs, lone.contracts, lone.capital) == (
        ("k",), (K_YES,), D(10), D("4.17"),
    )  # fmt: skip
    (alert,) = [e for e in (*k.events, *pm.events) if e.kind == "arb.held"]
    assert alert.data["held"] == {K_YES: "10"}
    pm.broken.clear()
    second = await executor.execute(opp)
    assert second.contracts == 5, second.reason


async def test_edges_per_contract_pair_are_shown_to_the_micro_dollar() -> None:
    # 20 contracts of a book whose profit does not divide evenly: the record, the JSON and the
    # printed line carry 6 decimals, not 28 digits of a division.
    executor, _k, _pm, opp = _setup([(D("0.40"), D(7))], [(D("0.55"), D(50))])
    rec = await executor.execute(opp)
    doc = rec.to_json()
    for key in ("expected_edge", "actual_edge", "expected_profit"):
        assert len(doc[key].partition(".")[2]) <= 6, (key, doc[key])
    assert D(doc["expected_edge"]) == (opp.profit / opp.contracts).quantize(D("0.000001"))
    row = rec.to_row()["legs"]
    assert row["expected_edge"] == doc["expected_edge"] and row["actual_edge"] == doc["actual_edge"]


async def test_one_trade_left_today_refuses_the_pair_rather_than_its_second_leg() -> None:
    # The risk engine counts each leg as a trade: with room for one, the first leg would pass
    # and the second be refused after it filled.
    executor, k, pm, opp = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))])
    k.trades_left = pm.trades_left = 1
    rec = await executor.execute(opp)
    assert rec.outcome == "rejected" and rec.code == "MAX_TRADES_PER_DAY", rec.reason
    assert k.sent == [] and pm.sent == []
    k.trades_left = pm.trades_left = 2
    assert (await executor.execute(opp)).outcome == "completed"


def test_a_run_with_no_tradeable_pair_says_so_rather_than_blaming_min_roi() -> None:
    import io

    from tradeguard.cli.pm_arb_run import print_attempts

    none, some = io.StringIO(), io.StringIO()
    print_attempts([], none, tradeable=0)
    print_attempts([], some, tradeable=1)
    assert none.getvalue().startswith("No pair was attempted: no mapped pair could be traded")
    assert "min_roi_pct" not in none.getvalue()
    assert "no mapped pair cleared min_roi_pct" in some.getvalue()


async def test_a_refusal_no_price_can_lift_is_asked_once_per_leg() -> None:
    # The dry run walked the second leg down tick by tick from its edge-keeping cap to its
    # limit, asking the risk engine each time, although a day without trades left refuses
    # every price alike.
    executor, k, pm, opp = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))])
    k.trades_left = pm.trades_left = 1
    rec = await executor.execute(opp)
    assert rec.code == "MAX_TRADES_PER_DAY", rec.reason
    assert (k.checks, pm.checks) == (1, 1)


@pytest.mark.parametrize("band_known", [True, False])
async def test_the_second_leg_starts_its_dry_run_at_the_band_edge(band_known: bool) -> None:
    # The band allows 0.56 at most, the edge far more after a first leg at 0.30: known, the
    # band's edge is the one price asked; unknown, the walk down finds the same price.
    executor, k, pm, opp = _setup([(D("0.30"), D(10))], [(D("0.55"), D(50))])
    pm.band[PM_NO] = D("0.56")
    pm.band_known = band_known
    rec = await executor.execute(opp)
    assert rec.outcome == "completed", rec.reason
    assert pm.sent[0].price == D("0.56")
    assert pm.checks == 1 if band_known else pm.checks > 5
    assert k.checks == 1


async def test_a_price_refusal_below_the_band_edge_still_walks_down_to_an_approved_price() -> None:
    # The stable reserve allows 5.60 USD for 10 contracts: 0.56 passes, 0.57 does not.
    executor, _k, pm, opp = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))])
    pm.band[PM_NO] = D("0.57")
    pm.stable_room = D("4.17") + D("5.60")
    rec = await executor.execute(opp)
    assert rec.outcome == "completed", rec.reason
    assert pm.sent[0].price == D("0.56")
    assert pm.checks == 2


async def test_contracts_too_few_to_sell_after_an_unwind_leave_the_pair_flat_as_dust() -> None:
    # Polymarket takes no order under 5 contracts: 3 left after the unwind can never be sold,
    # only settle. They were booked as a held lone leg (capital in the pair, a critical alert,
    # offered to `pm arb retry` forever); the pair is flat, the dust shown on its record.
    from tradeguard.model.outcome import Outcome, outcome_instrument, parse_outcome_symbol

    executor, k, pm, opp = _setup(
        [(D("0.40"), D(50))], [(D("0.55"), D(10))], max_unwind_loss_usd=D(2)
    )

    def five_at_least(symbol: str):
        market, outcome, quote = parse_outcome_symbol(symbol)
        return outcome_instrument("pm", market, Outcome(outcome), quote, D("0.01"), D("0.01"),
                                  D(5), D("0.07"))  # fmt: skip

    pm.instrument = five_at_least  # type: ignore[method-assign]
    k.refuse.add(K_YES)  # the second leg fails
    pm.bids[PM_NO] = [(D("0.53"), D(7))]  # the unwind sells 7 of the 10 bought
    rec = await executor.execute(opp)
    assert [leg.venue for leg in rec.legs] == ["pm", "k", "pm"]
    assert rec.outcome == "unwound" and rec.held == {} and rec.dust == {PM_NO: D(3)}, rec
    assert executor.book.open == []  # flat: no capital counted, nothing to retry
    [row] = pm.rows
    assert row["outcome"] == "unwound" and row["legs"]["dust"] == {PM_NO: "3"}
    assert row["legs"]["held"] == {}
    assert not [e for e in (*pm.events, *k.events) if e.kind == "arb.held"]
    [event] = [e for e in pm.events if e.kind == "arb.execution"]
    assert event.data["dust"] == {PM_NO: "3"} and f"3 {PM_NO}" in event.data["message"]
    # what a venue order can still sell is held as before
    executor, k, pm, opp = _setup(
        [(D("0.40"), D(50))], [(D("0.55"), D(10))], max_unwind_loss_usd=D(2)
    )
    pm.instrument = five_at_least  # type: ignore[method-assign]
    k.refuse.add(K_YES)
    pm.bids[PM_NO] = [(D("0.53"), D(4))]
    rec = await executor.execute(opp)
    assert rec.outcome == "held" and rec.held == {PM_NO: D(6)} and rec.dust == {}
    assert [p.contracts for p in executor.book.open] == [D(6)]


async def test_a_first_leg_the_venue_never_answered_is_held_not_failed() -> None:
    # acknowledged, then neither an end nor a fill within leg_timeout_s (nor after the cancel):
    # it may fill yet, so it is counted held (limits, alert) until the venue shows what it holds
    executor, k, pm, opp = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))])
    k.stalled.add(K_YES)
    rec = await executor.execute(opp)
    assert pm.sent == [] and len(k.sent) == 1
    assert rec.outcome == "held", rec.reason
    assert rec.held == {K_YES: D(10)}
    assert "unresolved" in rec.reason and "first leg KXFED:YES/USD" in rec.reason
    assert rec.legs[0].status == "accepted"
    held = [e for e in (*k.events, *pm.events) if e.kind == "arb.held"]
    assert held and held[0].severity == "critical"
    (lone,) = executor.book.open
    assert lone.contracts == D(10) and lone.legs == (K_YES,)
    assert lone.capital == D("4.00")  # 10 at the 0.40 limit: what it may have cost, fees aside


async def test_a_second_leg_the_venue_never_answered_is_not_unwound() -> None:
    # selling the first leg back while the second may still fill would leave the second alone
    executor, k, pm, opp = _setup(
        [(D("0.40"), D(10))], [(D("0.55"), D(50))], max_unwind_loss_usd=D(1)
    )
    pm.stalled.add(PM_NO)
    k.bids[K_YES] = [(D("0.38"), D(10))]  # an unwind would sell here
    rec = await executor.execute(opp)
    assert [o.side.value for o in k.sent] == ["buy"], "the first leg was sold back"
    assert rec.outcome == "held", rec.reason
    assert rec.held == {K_YES: D(10)}
    assert "second leg fed-above-4:NO/PUSD" in rec.reason and "unresolved" in rec.reason
    held = [e for e in (*k.events, *pm.events) if e.kind == "arb.held"]
    assert held and held[0].severity == "critical"
    assert "check" in held[0].data["message"]
    assert executor.book.open[0].contracts == D(10)


async def test_an_unresolved_first_leg_that_never_filled_leaves_the_book_at_the_next_sync() -> None:
    from tradeguard.strategies.cross_venue.held_sync import shrink_held

    executor, k, _pm, opp = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))])
    k.stalled.add(K_YES)
    rec = await executor.execute(opp)
    assert rec.outcome == "held" and len(executor.book.open) == 1
    # the venue ended the FOK unfilled: a reconciliation reads no KXFED:YES there
    (shrunk,) = shrink_held(executor, "k", lambda asset: D(0))
    assert shrunk.outcome == "failed" and executor.book.open == []


async def test_an_unresolved_second_leg_counts_on_its_venue_until_a_sync_shows_it() -> None:
    # the second leg may fill whole after its cancel: its contracts would sit on the second
    # venue outside max_venue_exposure_usd (and outside what reconciliation expects held)
    from tradeguard.strategies.cross_venue.held_sync import shrink_held

    executor, _k, pm, opp = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))])
    pm.stalled.add(PM_NO)
    rec = await executor.execute(opp)
    assert rec.outcome == "held", rec.reason
    on_pm = [o for o in executor.book.open if "pm" in o.venues]
    assert [(o.legs, o.contracts) for o in on_pm] == [((PM_NO,), D(10))]
    assert on_pm[0].capital == D(10) * rec.legs[1].limit_price
    # the first leg's held record keeps naming the first leg alone (a retry sells only it)
    assert rec.held == {K_YES: D(10)}
    # the venue never filled it: the next sync of pm releases it, the first leg stays held
    (shrunk,) = shrink_held(executor, "pm", lambda asset: D(0))
    assert shrunk.pair_id == "fed" and shrunk.retry_of is None
    assert [o.legs for o in executor.book.open] == [(K_YES,)]
