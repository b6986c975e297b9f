"""A round of `/data/trades` reads is dated by its first page's newest trade (the CLOB's own
clock); when no row of that page has a time the venue can read, by the CLOB's clock too
(`GET /time`, asked once that page is read), never the local one: the round's later pages are
listed up to that second (`before`) and its end reads the trades since it (`after`), so a
date off the CLOB's clock shifts the cursor over a trade (local clock behind: an older trade
never read, the round called whole) or leaves a trade made meanwhile out of the round (local
clock ahead)."""

from __future__ import annotations

import sys
import time
import types
from typing import Any

import pytest

from test_pm_trade_listing import _cid, _read_round, _trade, _venue
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.venues.polymarket import venue as venue_module


def _local_clock_off(monkeypatch: Any, now: int, off: int) -> None:
    """The local clock `off` seconds from the CLOB's where a round is dated; the requests'
    signatures keep the true time."""

    def clock() -> float:
        dating = sys._getframe(1).f_code.co_name in ("fetch_fills_part", "_round_top")
        return float(now + off) if dating else time.time()

    monkeypatch.setattr(venue_module, "time", types.SimpleNamespace(time=clock))


def _times_unreadable(monkeypatch: Any, rows: list[dict[str, Any]]) -> None:
    """`rows`' times (and so their fills) unreadable to the venue; the CLOB still dates them."""
    ids = {r["id"] for r in rows}
    second = venue_module.row_second
    monkeypatch.setattr(
        venue_module, "row_second", lambda row: -1 if row.get("id") in ids else second(row)
    )
    for row in rows:
        del row["fee_paid"]  # no fill is made of it either: skipped with a warning


async def test_a_round_topped_by_unreadable_times_skips_no_older_trade(monkeypatch: Any) -> None:
    # Trades at -100 s and -50 s, and on top one whose time the venue cannot read; one a
    # page, two pages a read; the local clock 75 s behind the CLOB's. Dated by it, the
    # round's second page listed up to -75 s (the -100 s trade alone) from offset 1: past it.
    async with PolymarketExchange(page_size=1) as ex:
        venue, rows = await _venue(ex)
        try:
            a = _cid(ex, "A")
            now = int(ex.now_s())
            rows += [_trade(a, "1001", now - 100), _trade(a, "1001", now - 50)]
            rows.append(_trade(a, "1001", now))
            _times_unreadable(monkeypatch, rows[2:])
            _local_clock_off(monkeypatch, now, -75)
            venue.max_pages = 2
            yes = venue._symbol_of_token["1001"]
            read, whole = await _read_round(venue, yes, 4)
            assert whole
            assert {rows[0]["id"], rows[1]["id"]} <= set(read), read
        finally:
            await venue.close()


@pytest.mark.parametrize("off", [-1000, 1000])
async def test_a_sale_made_after_a_round_topped_by_unreadable_times_is_read_in_it(
    monkeypatch: Any, off: int
) -> None:
    # Four buys, the newest two's times unreadable; two a page, one page a read. A sale is
    # made once the round's first part is read: the round's end reads it, whatever the local
    # clock says (ahead: before, the `after` of its end was in the future, the sale left out
    # and the round called whole).
    async with PolymarketExchange(page_size=2) as ex:
        venue, rows = await _venue(ex)
        try:
            a = _cid(ex, "A")
            now = int(ex.now_s())
            rows += [_trade(a, "1001", now - 100 + i) for i in range(4)]
            _times_unreadable(monkeypatch, rows[2:])
            _local_clock_off(monkeypatch, now, off)
            venue.max_pages = 1
            yes = venue._symbol_of_token["1001"]
            fills, whole = await venue.fetch_fills_part(yes)
            assert not whole and fills == []
            venue.fills_part_kept(yes)
            sale = _trade(a, "1001", now, side="SELL")
            rows.append(sale)
            read, whole = await _read_round(venue, yes, 4)
            assert {sale["id"], rows[0]["id"], rows[1]["id"]} <= set(read), read
        finally:
            await venue.close()


async def test_a_clock_answer_that_is_no_second_is_a_venue_error_naming_it(
    monkeypatch: Any,
) -> None:
    async with PolymarketExchange(page_size=1) as ex:
        venue, rows = await _venue(ex)
        try:
            a = _cid(ex, "A")
            now = int(ex.now_s())
            rows += [_trade(a, "1001", now - 1), _trade(a, "1001", now)]
            _times_unreadable(monkeypatch, rows)
            send = venue._send

            async def clock_says(op: str, method: str, path: str, *args: Any, **kw: Any) -> Any:
                return "soon" if path == "/time" else await send(op, method, path, *args, **kw)

            monkeypatch.setattr(venue, "_send", clock_says)
            why = r"GET /time answered with not a Unix second"
            with pytest.raises(AmbiguousVenueError, match=why):
                await venue.fetch_fills_part(venue._symbol_of_token["1001"])
        finally:
            await venue.close()
