"""One Polymarket market whose fee cannot be read does not stop every market's books.

The market whose fee is unknown streams no book (a paper fill there would be charged nothing);
the others stream, and a later stream start asks for its fee again.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

import pytest

from tradeguard.clock import SimulatedClock
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError
from tradeguard.model.market import Quote
from tradeguard.venues.pm_public import PolymarketPublicData


def _data(failing: set[str]) -> tuple[PolymarketPublicData, list[str]]:
    data = PolymarketPublicData("pm", "http://127.0.0.1:9", SimulatedClock(1), "ws://x")
    data._tokens = {"A-YES": "1", "B-YES": "2"}
    data._conditions = {"A-YES": "0xa", "B-YES": "0xb"}
    asked: list[str] = []

    async def get(op: str, path: str, params: Any = None) -> Any:
        asked.append(path)
        if path.rsplit("/", 1)[-1] in failing:
            raise DefinitiveVenueError("pm", f"{op} failed: HTTP 404: market not found")
        return {"fd": {"r": "0.03", "e": "1"}}

    async def fetch_quote(symbol: str) -> Quote:
        return Quote(symbol, 1, Decimal("0.4"), Decimal(5), Decimal("0.6"), Decimal(5))

    data.get = get  # type: ignore[method-assign]
    data.fetch_quote = fetch_quote  # type: ignore[method-assign]
    return data, asked


async def _first(data: PolymarketPublicData) -> str:
    async for q in data.stream_quotes(["A-YES", "B-YES"]):
        return q.symbol
    raise AssertionError("the stream ended")


async def test_a_market_whose_fee_lookup_fails_does_not_block_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data, asked = _data({"0xa"})
    try:
        with caplog.at_level(logging.WARNING, "tradeguard.venues.pm_public"):
            assert await asyncio.wait_for(_first(data), 5) == "B-YES"
        assert data.fee_rates == {"B-YES": (Decimal("0.03"), Decimal(1))}
        assert any("fee of A-YES not read" in r.getMessage() for r in caplog.records)
        # the next stream start asks for the missing fee again, not for the one it has
        asked.clear()
        assert await asyncio.wait_for(_first(data), 5) == "B-YES"
        assert asked == ["/clob-markets/0xa"]
    finally:
        await data.close()


async def test_no_fee_read_at_all_is_a_stream_failure() -> None:
    data, _ = _data({"0xa", "0xb"})
    try:
        with pytest.raises(AmbiguousVenueError, match="no market's fee could be read"):
            await asyncio.wait_for(_first(data), 5)
    finally:
        await data.close()
