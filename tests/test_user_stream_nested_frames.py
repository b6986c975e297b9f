"""A fill-stream frame of JSON nested thousands deep is skipped like any other bad frame: it
must not end the Kalshi fill stream or the Polymarket user channel (later fills still arrive)."""

from __future__ import annotations

import sys
from decimal import Decimal

import pytest

from test_kalshi_venue import NO, YES, _second_account_venue, make_order, started
from tradeguard.model.enums import Side
from tradeguard.sandbox.kalshi.server import KalshiExchange
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.user_stream import frame_object

DEEP = "[" * 100_000


@pytest.fixture(autouse=True)
def node_recursion_limit():
    """The limit a node runs with (kept at 1,000 across the Ethereum imports; other test
    modules import eth_account directly, which raises it to 100,000 in this process)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1_000)
    yield
    sys.setrecursionlimit(limit)


def test_a_frame_nested_thousands_deep_is_skipped_in_one_line(caplog) -> None:
    assert frame_object("kalshi", DEEP) is None
    assert frame_object("pm", '{"a":' * 50_000) is None
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "kalshi: fill stream frame skipped: not JSON: " + repr("[" * 80)
    assert len(lines) == 2 and not [r for r in caplog.records if r.exc_info]


async def test_a_deeply_nested_frame_does_not_end_the_kalshi_fill_stream() -> None:
    async with KalshiExchange() as ex:
        venue, rec, _, _ = await started(ex, stream=True)
        try:
            await venue.submit(make_order("tg1-9", YES, Side.BUY, "3", "0.46"))
            (conn,) = ex.hub.conns
            await conn.ws.send_str(DEEP)
            _, other = await _second_account_venue(ex)
            await other.submit(make_order("tg2-3", NO, Side.BUY, "3", "0.54"))
            await eventually(lambda: len(rec.fills) == 1)
            assert (rec.fills[0].client_order_id, rec.fills[0].amount) == ("tg1-9", Decimal(3))
            assert venue._ws_task is not None and not venue._ws_task.done()
            await other.close()
        finally:
            await venue.close()
