"""Pair scanner: edge after both venues' exact fees, walking both books, per changed book."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from tradeguard.strategies.cross_venue.fees import FeeModel
from tradeguard.strategies.cross_venue.market_map import parse_market_map
from tradeguard.strategies.cross_venue.scanner import PairScanner, scan_pair

D = Decimal
NOW = 1_780_000_000_000


def pair_doc(orientation: str = "same") -> dict:
    return {
        "pairs": [
            {
                "id": "fed",
                "event": "fed-dec",
                "orientation": orientation,
                "reviewed_by": "ana",
                "reviewed_at": dt.date(2026, 1, 1),
                "review_expires_at": dt.date(2027, 1, 1),
                "polymarket": {
                    "market": "fed-above-4",
                    "yes_token": "1",
                    "no_token": "2",
                    "resolution_source": "FOMC statement",
                    "resolves_at": dt.date(2026, 12, 17),
                    "void_rule": "50-50",
                },
                "kalshi": {
                    "ticker": "KXFED",
                    "resolution_source": "FOMC statement",
                    "resolves_at": dt.date(2026, 12, 17),
                    "void_rule": "50-50",
                },
            }
        ]
    }


def _scanner(orientation: str = "same") -> PairScanner:
    pair = parse_market_map(pair_doc(orientation)).pairs["fed"]
    sp = scan_pair(pair, "pm", "k", FeeModel.default("polymarket"), FeeModel.default("kalshi"))
    return PairScanner([sp])


def test_edge_after_both_fees_at_one_level_matches_hand_computation() -> None:
    s = _scanner()
    s.update_book("k", "KXFED:YES/USD", [(D("0.40"), D(10))])
    s.update_book("pm", "fed-above-4:NO/PUSD", [(D("0.55"), D(10))])
    opp = s.opportunity("fed", NOW)
    assert opp is not None and opp.direction == 1
    # 10 - 9.50 - kalshi ceil(0.07*10*0.4*0.6 = 0.168) 0.17 - polymarket 10*0.02*0.55*0.45 0.0495
    assert opp.contracts == 10
    assert opp.profit == D("0.2805")
    assert [leg.fee for leg in opp.legs] == [D("0.17"), D("0.0495")]
    assert opp.edge == D("0.02805")


def test_kalshi_fee_rounds_up_to_the_cent_per_order() -> None:
    s = _scanner()
    s.update_book("k", "KXFED:YES/USD", [(D("0.50"), D(1))])
    s.update_book("pm", "fed-above-4:NO/PUSD", [(D("0.47"), D(1))])
    opp = s.opportunity("fed", NOW)
    assert opp is not None
    # kalshi 0.07*0.25 = 0.0175 -> 0.02; polymarket 0.02*0.47*0.53 = 0.004982
    assert opp.legs[0].fee == D("0.02") and opp.legs[1].fee == D("0.004982")
    assert opp.profit == D("0.005018")


def test_best_size_walks_both_books_and_stops_where_a_pair_costs_a_dollar() -> None:
    s = _scanner()
    s.update_book("k", "KXFED:YES/USD", [(D("0.40"), D(5)), (D("0.45"), D(10))])
    s.update_book("pm", "fed-above-4:NO/PUSD", [(D("0.50"), D(8)), (D("0.56"), D(20))])
    opp = s.opportunity("fed", NOW)
    assert opp is not None
    # 5 pairs earn 0.385; 8 pairs: 8 - 7.35 - ceil(0.07*(5*.24+3*.2475)) 0.14 - 0.04 = 0.47
    assert opp.contracts == 8 and opp.profit == D("0.47")
    assert [leg.limit_price for leg in opp.legs] == [D("0.45"), D("0.50")]
    assert opp.legs[0].fee == D("0.14") and opp.legs[1].fee == D("0.04")


def test_no_opportunity_when_the_pair_costs_a_dollar_or_fees_eat_the_edge() -> None:
    s = _scanner()
    s.update_book("k", "KXFED:YES/USD", [(D("0.46"), D(500))])
    s.update_book("pm", "fed-above-4:NO/PUSD", [(D("0.56"), D(500))])
    assert s.opportunity("fed", NOW) is None
    s.update_book("pm", "fed-above-4:NO/PUSD", [(D("0.535"), D(500))])  # 0.995: fees > 0.005
    assert s.opportunity("fed", NOW) is None


def test_inverted_pair_buys_yes_on_both_venues() -> None:
    s = _scanner("inverted")
    # Polymarket YES is Kalshi NO: the hedge of Polymarket NO is Kalshi NO.
    s.update_book("k", "KXFED:NO/USD", [(D("0.40"), D(10))])
    s.update_book("pm", "fed-above-4:NO/PUSD", [(D("0.55"), D(10))])
    opp = s.opportunity("fed", NOW)
    assert opp is not None
    assert {leg.symbol for leg in opp.legs} == {"KXFED:NO/USD", "fed-above-4:NO/PUSD"}


def test_an_update_rescores_only_the_pairs_on_that_book() -> None:
    s = _scanner()
    assert s.update_book("k", "OTHER:YES/USD", [(D("0.1"), D(1))]) == []
    assert s.rescored == 0
    assert s.update_book("k", "KXFED:YES/USD", [(D("0.40"), D(10))]) == ["fed"]
    assert s.rescored == 1


def test_roi_per_day_spreads_roi_over_days_to_the_later_settlement() -> None:
    s = _scanner()
    s.update_book("k", "KXFED:YES/USD", [(D("0.40"), D(10))])
    s.update_book("pm", "fed-above-4:NO/PUSD", [(D("0.55"), D(10))])
    opp = s.opportunity("fed", NOW)
    assert opp is not None
    assert opp.roi_pct == opp.profit / opp.capital * 100
    assert opp.roi_per_day_pct == opp.roi_pct / opp.days_locked
    assert opp.days_locked > 1


def test_best_skips_pairs_below_the_minimum_roi() -> None:
    s = _scanner()
    s.update_book("k", "KXFED:YES/USD", [(D("0.40"), D(10))])
    s.update_book("pm", "fed-above-4:NO/PUSD", [(D("0.55"), D(10))])
    # ROI is 0.2805 / 9.7195 = 2.886 %
    found = s.best(NOW, D(2))
    assert found is not None and found.pair_id == "fed"
    assert s.best(NOW, D(3)) is None


def test_best_offers_no_pair_once_its_resolution_time_has_passed() -> None:
    # a pair indexed at start whose market resolves during the run: no new entry after that
    s = _scanner()
    s.update_book("k", "KXFED:YES/USD", [(D("0.40"), D(10))])
    s.update_book("pm", "fed-above-4:NO/PUSD", [(D("0.55"), D(10))])
    resolves = int(dt.datetime(2026, 12, 17, tzinfo=dt.UTC).timestamp() * 1000)
    found = s.best(resolves - 1)
    assert found is not None and found.pair_id == "fed"
    assert s.best(resolves) is None
