"""A node stopped (Ctrl-C) while reconciliation waits on a venue stops: a stop that lands as the
venue's answer arrives, or that the venue's client turns into an error, is not swallowed."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from node_support import node_for, paper_config, write_slice
from tradeguard.execution.reconcile import ReconcileReport, _reconcile_venue
from tradeguard.model.balance import Balance
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError
from tradeguard.model.fill import Fill
from tradeguard.model.reports import OrderReport


class GatedVenue:
    """A venue whose open-orders answer arrives when the test says; records every call."""

    name = "paper"

    def __init__(self, on_stop: BaseException | None = None) -> None:
        self.answer: asyncio.Future[list[OrderReport]] = asyncio.get_running_loop().create_future()
        self.calls: list[str] = []
        self.on_stop = on_stop

    async def fetch_open_orders(self) -> list[OrderReport]:
        self.calls.append("fetch_open_orders")
        try:
            return await self.answer
        except asyncio.CancelledError:
            if self.on_stop is None:
                raise
            raise self.on_stop from None

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderReport | None:
        self.calls.append("fetch_order")
        return None

    async def fetch_fills(self, symbol: str, since: int = 0) -> list[Fill]:
        self.calls.append("fetch_fills")
        return []

    async def fetch_balances(self) -> list[Balance]:
        self.calls.append("fetch_balances")
        return [Balance("paper", "USDT", Decimal(10_000))]


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_stop_that_lands_as_the_venue_answers_stops_reconciliation(
    tmp_path, data_dir, sqlite_url
):
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    node = node_for(paper_config(sqlite_url, data, tmp=tmp_path, strategies=False))
    try:
        venue = GatedVenue()
        report = ReconcileReport(trigger="periodic")
        task = asyncio.create_task(_reconcile_venue(node, "paper", venue, report, None))
        await _settle()
        assert venue.calls == ["fetch_open_orders"]
        venue.answer.set_result([])  # the answer arrives ...
        task.cancel()  # ... in the same turn of the loop as the stop
        async with asyncio.timeout(5):
            with pytest.raises(asyncio.CancelledError):
                await task
        assert task.cancelled()
        assert venue.calls == ["fetch_open_orders"]  # nothing after the stop
    finally:
        node.close()


@pytest.mark.parametrize(
    "error",
    [AmbiguousVenueError("paper", "connection reset while stopping"),
     DefinitiveVenueError("paper", "session closed"), TimeoutError()],
    ids=["ambiguous", "definitive", "timeout"],
)  # fmt: skip
async def test_a_stop_the_client_turns_into_an_error_is_not_retried(
    tmp_path, data_dir, sqlite_url, error
):
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    node = node_for(paper_config(sqlite_url, data, tmp=tmp_path, strategies=False))
    try:
        venue = GatedVenue(on_stop=error)
        report = ReconcileReport(trigger="periodic")
        task = asyncio.create_task(_reconcile_venue(node, "paper", venue, report, None))
        await _settle()
        task.cancel()
        async with asyncio.timeout(5):
            with pytest.raises(asyncio.CancelledError):
                await task
        assert venue.calls == ["fetch_open_orders"]  # no retry, no later step
    finally:
        node.close()
