"""A node run on a config for a block of a test: started on entering, stopped and closed on
leaving (as when its process is gone), with or without the clean-start checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tradeguard.config import Config
from tradeguard.model.enums import TradingState
from tradeguard.model.events import Event
from tradeguard.node import TradingNode


@asynccontextmanager
async def running(cfg: Config, events: list[Event] | None = None) -> AsyncIterator[TradingNode]:
    """A node started on `cfg`, stopped and closed on leaving; with `events`, every event the
    node publishes from before its start on is appended to it."""
    node = TradingNode(cfg)
    if events is not None:
        node.bus.subscribe(events.append)
    try:
        await node.start()
        yield node
    finally:
        await node.stop()
        node.close()


@asynccontextmanager
async def started_clean(cfg: Config) -> AsyncIterator[TradingNode]:
    """`running(cfg)` whose start-up reconciliation and ledger audit passed, trading ACTIVE."""
    async with running(cfg) as node:
        assert node.reconcile_report.ok, node.reconcile_report.reason
        assert node.ledger_report.ok, node.ledger_report.describe()
        assert node.risk.state is TradingState.ACTIVE, node.risk.state_reason
        yield node
