"""A pause written beside a running sandbox node (as `tradeguard strategy pause` writes it) stops
the cross-venue strategy from starting a pair: the mispricing appears, no leg is sent."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from test_pm_arb_node import arb_config, vault_with_both
from tradeguard.model.events import Event, EventKind
from tradeguard.node import TradingNode
from tradeguard.node.pause import PAUSED_CODE, REFRESH_S, pauses_of, store_pause
from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
from tradeguard.sandbox.pm_serve import (
    kalshi_demo,
    kalshi_keys,
    paired_markets,
    polymarket_demo,
    polymarket_keys,
)
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from tradeguard.strategies.cross_venue.strategy import CrossVenueStrategy


async def _until(check: object, seconds: float) -> bool:
    for _ in range(int(seconds / 0.025)):
        if check():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.025)
    return False


async def test_a_pause_written_beside_a_live_node_stops_new_pairs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    k_keys, pm_keys = kalshi_keys(None), polymarket_keys(None)
    kalshi, pm = kalshi_demo(k_keys), polymarket_demo(pm_keys)
    await kalshi.start()
    await pm.start()
    scenario = ArbScenario(
        pm.book, paired_markets("polymarket", pm)[:1], ArbScenarioConfig(size=Decimal(20))
    )
    try:
        vault_with_both(tmp_path, monkeypatch, k_keys, pm_keys)
        node = TradingNode(arb_config(tmp_path, kalshi, pm, {}, {}))
        for venue in node.venues.values():
            venue.quote_poll_s = 0.05  # type: ignore[attr-defined]
        events: list[Event] = []
        node.bus.subscribe(events.append)
        await node.start()
        strat = node.strategies[0]
        assert isinstance(strat, CrossVenueStrategy)
        beside = Storage(Database(node.config.node.database_url))
        run = asyncio.create_task(node.run_live(duration_s=30))
        try:
            await asyncio.sleep(0.3)
            store_pause(beside, "pmarb", {"by": "ops", "reason": "settlement week", "ts": 1})
            await asyncio.sleep(REFRESH_S)  # the next market event rereads the set first
            scenario.appear(scenario.markets[0])
            assert await _until(lambda: bool(strat.attempts), 10.0)
        finally:
            node.request_stop()
            await run
            await node.stop()
            beside.db.dispose()
        assert pauses_of(node).ids == {"pmarb"}
        [attempt] = strat.attempts
        assert attempt.code == PAUSED_CODE and attempt.legs == []
        assert "strategy pmarb is paused (by ops: settlement week)" in attempt.reason
        assert node.storage.load_orders() == []
        denied = [e for e in events if e.kind == EventKind.RISK_DENIED]
        assert [e.data["code"] for e in denied] == [PAUSED_CODE]
        node.close()
    finally:
        await pm.stop()
        await kalshi.stop()
