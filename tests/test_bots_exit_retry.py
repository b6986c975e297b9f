"""A refused exit is tried again after the pause even when the market sends no new price."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import pytest

from tradeguard.bots import exits
from tradeguard.bots.exits import ExitManager, ExitPlan
from tradeguard.model.order import OrderIntent


class QuietHost:
    """A long position of 1 at 100; the first exit is refused, the next accepted."""

    def __init__(self, wall: bool) -> None:
        self.wall = wall
        self.sent: list[OrderIntent] = []

    def native_exits(self, venue: str) -> bool:
        return False

    def position(self, venue: str, symbol: str, bot: str) -> tuple[Decimal, Decimal, int]:
        return Decimal(1), Decimal(100), 1

    def order_open(self, client_order_id: str) -> bool:
        return True

    def closing(self, venue: str, symbol: str, bot: str) -> Decimal:
        return Decimal(0)

    def resting_closes(self, venue: str, symbol: str, bot: str) -> list[str]:
        return []

    async def submit_exit(self, intent: OrderIntent) -> str | None:
        self.sent.append(intent)
        return None if len(self.sent) == 1 else "exit-2"

    def save_plan(self, key: str, bot: str, doc: dict[str, Any]) -> None:
        pass

    def delete_plan(self, key: str) -> None:
        pass

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def on_wall_clock(self) -> bool:
        return self.wall


@pytest.mark.parametrize("wall", [True, False])
async def test_a_refused_stop_is_retried_at_the_last_price_only_on_the_wall_clock(
    monkeypatch: pytest.MonkeyPatch, wall: bool
) -> None:
    monkeypatch.setattr(exits, "_RETRY_MS", 100)
    host = QuietHost(wall)
    manager = ExitManager(host)  # type: ignore[arg-type]
    plan = ExitPlan.parse("alpha", "v", "BTC/USDT", {"stop_loss_pct": "1"}, None)
    assert plan is not None
    manager.add(plan)

    await manager.on_price("BTC/USDT", Decimal("98"))  # through the stop: refused once
    assert len(host.sent) == 1
    await asyncio.sleep(0.4)  # no new price arrives

    # Live, the stop is sent again by itself; in a replay the next candle does it.
    assert len(host.sent) == (2 if wall else 1)
    if wall:
        assert host.sent[1].reduce_only and host.sent[1].signal["price"] == "98"


async def test_a_retry_reads_the_latest_price_among_the_venues_a_plan_follows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exits, "_RETRY_MS", 100)
    host = QuietHost(True)
    manager = ExitManager(host)  # type: ignore[arg-type]
    manager.follows = lambda venue, source: True  # a venue taking any venue's data
    plan = ExitPlan.parse("alpha", "v", "BTC/USDT", {"stop_loss_pct": "1"}, None)
    assert plan is not None
    manager.add(plan)

    await manager.on_price("BTC/USDT", Decimal("98"), "north")  # through the stop: refused once
    assert len(host.sent) == 1
    await manager.on_price("BTC/USDT", Decimal("101"), "south")  # back above it, heard last
    await asyncio.sleep(0.4)

    # The retry checks the stop at 101, the latest price: nothing is sold at north's old 98.
    assert len(host.sent) == 1
