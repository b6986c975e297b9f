"""A Polymarket market listing with rows no venue would send (a field missing or of the wrong
type, a tick outside [0.000001, 0.1], a negative minimum size, a slug no symbol can carry, a fee
that is no number) leaves those markets out with a warning naming the market, the field, the value
and the limit; the well-formed markets are listed as before. It used to raise a KeyError,
AttributeError or ValueError out of the venue's start, or list a market with a negative tick."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

from aiohttp import web
from eth_account import Account

from rigs import answering
from tradeguard.clock import Clock
from tradeguard.venues.pm_public import PolymarketPublicData
from tradeguard.venues.polymarket.venue import PolymarketVenue

D = Decimal


def _market(slug: str, **fields: object) -> dict:
    row = {"market_slug": slug, "closed": False, "neg_risk": False, "condition_id": f"0x{slug}",
           "minimum_tick_size": "0.01", "minimum_order_size": "5",
           "tokens": [{"outcome": "Yes", "token_id": f"{slug}1"},
                      {"outcome": "No", "token_id": f"{slug}2"}]}  # fmt: skip
    row.update(fields)
    return {k: v for k, v in row.items() if v is not None or k == "neg_risk"}


HOSTILE = [
    ([1, 2], "a market row is list, not an object"),
    (_market("t1", minimum_tick_size=None), "minimum_tick_size = None: expected a number in [0.0"),
    (_market("t2", minimum_tick_size="-0.01"), "minimum_tick_size = '-0.01'"),
    (_market("t3", minimum_tick_size="1e999"), "minimum_tick_size = '1e999'"),
    (_market("t4", minimum_tick_size="abc"), "minimum_tick_size = 'abc'"),
    (_market("t5", minimum_tick_size=True), "minimum_tick_size = True"),
    (_market("t6", minimum_tick_size="NaN"), "minimum_tick_size = 'NaN'"),
    # above 0, yet rounding any price to it overflows (quantize_down raised decimal.Overflow)
    (_market("t7", minimum_tick_size="1e-999999999"), "minimum_tick_size = '1e-999999999'"),
    (_market("t8", minimum_tick_size="0.0000001"), "expected a number in [0.000001, 0.1]"),
    (_market("s1", minimum_order_size="-5"), "minimum_order_size = '-5': expected a number in [0"),
    (_market("s2", minimum_order_size=10**30), "minimum_order_size = 1000000000000000000000000"),
    (_market("x" * 300), "(302 characters): its symbols must be"),
    (_market("a b/c"), "market_slug = 'a b/c': its symbols must be"),
    (_market("n1", neg_risk="yes"), "neg_risk = 'yes': expected true or false"),
    (_market("k1", tokens=[{"outcome": "Yes"}, {"outcome": "No", "token_id": "2"}]),
     "tokens[].token_id = None: expected text"),
    (_market("c1", condition_id=["0x1"]), "condition_id = ['0x1']: expected at most"),
    # read into the fee's URL: httpx.InvalidURL (no transport error) came out of load_fees
    (_market("c2", condition_id="0x\n1"), "condition_id = '0x\\n1': expected"),
    (_market("c3", condition_id="0x/../../1"), "condition_id = '0x/../../1': expected"),
]  # fmt: skip
IGNORED = [  # not YES/NO markets: left out as before, without a warning
    _market("o1", tokens="yes,no"),
    _market("o2", tokens=[{"outcome": 1, "token_id": "1"}, {"outcome": "No", "token_id": "2"}]),
]


async def _listing(request: web.Request) -> web.Response:
    if request.path.startswith("/clob-markets/"):
        fd = {"0xgood": {"r": 0.02, "e": 1}, "0xfee1": {"r": "abc"}, "0xfee2": {"r": -1},
              "0xfee3": {"r": 0.02, "e": [1]}}[request.path.rsplit("/", 1)[1]]  # fmt: skip
        return web.json_response({"fd": fd})
    rows = [m for m, _ in HOSTILE] + IGNORED + [_market("good"), _market("fee1"),
                                               _market("fee2"), _market("fee3")]  # fmt: skip
    body = {"data": rows, "next_cursor": "LTE=", "limit": len(rows), "count": len(rows)}
    return web.Response(text=json.dumps(body), content_type="application/json")


async def test_bad_market_rows_are_left_out_by_name_and_the_good_ones_listed(caplog) -> None:
    runner, base = await answering(_listing)
    venue = PolymarketVenue("polymarket", base, Account.create().key.hex(), Clock())
    public = PolymarketPublicData("pm-data", base, Clock(), ws_url="ws://127.0.0.1:9")
    try:
        with caplog.at_level(logging.WARNING):
            for source in (venue, public):
                listed = await source.load_instruments()
                assert sorted(listed) == [f"{m}:{o}/PUSD" for m in ("fee1", "fee2", "fee3", "good")
                                          for o in ("NO", "YES")]  # fmt: skip
                good = listed["good:YES/PUSD"]
                assert (good.price_tick, good.min_amount) == (D("0.01"), D(5))
            symbols = sorted(public.instruments)
            unread = await public.load_fees(symbols)
    finally:
        await venue.close()
        await public.close()
        await runner.cleanup()
    warned = [r.getMessage() for r in caplog.records if "left out of the listing" in r.getMessage()]
    assert len(warned) == 2 * len(HOSTILE), warned
    for _, expected in HOSTILE:
        assert any(expected in w for w in warned), (expected, warned)
    assert all(len(w) < 400 for w in warned), max(warned, key=len)
    assert public.fee_rates["good:YES/PUSD"] == (D("0.02"), D(1))
    assert unread == [f"{m}:{o}/PUSD" for m in ("fee1", "fee2", "fee3") for o in ("NO", "YES")]
    fee_warnings = " ".join(r.getMessage() for r in caplog.records if "fee of" in r.getMessage())
    assert "fd.r = 'abc'" in fee_warnings and "fd.r = '-1'" in fee_warnings
    assert "fd.e = '[1]': expected a number in [0, 10]" in fee_warnings, fee_warnings


async def test_bad_kalshi_market_rows_are_left_out_by_name_and_results_read_safely(caplog):
    from tradeguard.venues.pm_public import KalshiPublicData

    hostile = [
        ([1], "a market row is list, not an object"),
        ({"status": "active"}, "ticker = None: its symbols must be TICKER:YES/USD"),
        ({"ticker": "K 1"}, "ticker = 'K 1': its symbols must be"),
        ({"ticker": "K2", "tick_size_dollars": "-0.01"}, "tick_size_dollars = '-0.01'"),
        ({"ticker": "K3", "tick_size_dollars": "abc"}, "tick_size_dollars = 'abc'"),
        ({"ticker": "K4", "tick_size_dollars": 1e308}, "expected a number in [0.000001, 0.1]"),
        ({"ticker": "K5", "tick_size_dollars": "1e-999999999"}, "tick_size_dollars = '1e-99999"),
    ]
    settled = [{"ticker": "KOK", "result": "yes"}, {"result": "no"}, [3], {"ticker": "KX",
               "result": ["yes"]}]  # fmt: skip

    async def answers(request: web.Request) -> web.Response:
        status = request.query.get("status")
        rows = settled if status == "settled" else [m for m, _ in hostile] + [{"ticker": "KOK"}]
        body = {"markets": rows, "cursor": ""}
        return web.Response(text=json.dumps(body), content_type="application/json")

    runner, base = await answering(answers)
    public = KalshiPublicData("k-data", f"{base}/trade-api/v2", Clock())
    try:
        with caplog.at_level(logging.WARNING):
            listed = await public.load_instruments()
            results = await public.fetch_resolutions()
    finally:
        await public.close()
        await runner.cleanup()
    assert sorted(listed) == ["KOK:NO/USD", "KOK:YES/USD"]
    assert {s: r.value for s, r in results.items()} == {"KOK": "yes"}
    warned = [r.getMessage() for r in caplog.records if "left out of the listing" in r.getMessage()]
    assert len(warned) == len(hostile), warned
    for _, expected in hostile:
        assert any(expected in w for w in warned), (expected, warned)
