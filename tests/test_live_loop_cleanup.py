"""The live loop undoes what it set up when one of its duties fails to start."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from conftest import aeventually
from native_exits_support import native_config
from tradeguard.model.errors import ConfigError
from tradeguard.model.events import Event, EventKind
from tradeguard.node import TradingNode, live
from tradeguard.sandbox.testing import seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")


def _log_handlers(node: TradingNode) -> int:
    bus = node.bus
    return sum(1 for _, h in [*bus._handlers, *bus._committed] if h is live._log_risk)


async def test_a_balance_sync_that_fails_to_build_leaves_no_subscription_nor_task(tmp_path):
    # The state-change log handler was subscribed before the balance sync was built and only
    # removed by the loop's `finally`: a sync refusing its tolerances left it subscribed (and
    # the duties task running), so each run again in the same process logged every state
    # change once more.
    ex = seeded_exchange()
    async with ex:
        node = TradingNode(native_config(tmp_path, ex.rest_url, ex.ws_url))
        await node.start()
        try:
            # Past the config's validation (the sync checks its tolerances itself).
            node.config.reconcile.__dict__["balance_tolerance_pct"] = Decimal(-1)
            for _ in range(2):
                with pytest.raises(ConfigError, match="tolerance_pct=-1"):
                    await node.run_live(duration_s=5)
                assert _log_handlers(node) == 0
                await asyncio.sleep(0)
                running = [t for t in asyncio.all_tasks() if t.get_name() == "duties"]
                assert running == [], running
        finally:
            await node.stop()
            node.close()


async def test_the_console_says_a_breaker_tripped_only_once_its_transaction_committed(
    tmp_path, caplog: pytest.LogCaptureFixture
):
    # A fill's transaction trips the breaker; its commit refused, the trip goes with it and
    # the venue's repeat trips it again: the terminal said "tripped" for each attempt.
    ex = seeded_exchange()
    async with ex:
        node = TradingNode(native_config(tmp_path, ex.rest_url, ex.ws_url))
        await node.start()
        run = asyncio.create_task(node.run_live(duration_s=60))
        try:
            await aeventually(lambda: _log_handlers(node) == 2 or run.done(), timeout_s=30)
            assert not run.done(), run
            tripped = Event(EventKind.BREAKER_TRIPPED, 1, {"breaker": "consecutive_losses"})
            with caplog.at_level(logging.WARNING, logger=live.log.name):
                with pytest.raises(OSError), node.storage.transaction():
                    node.storage.kv_set("booked", 1)
                    node.risk.emit(tripped)
                    raise OSError("database or disk is full")  # the commit refused
                with node.storage.transaction():
                    node.storage.kv_set("booked", 1)
                    node.risk.emit(tripped)  # the retry commits
            said = [r.getMessage() for r in caplog.records if "breaker tripped" in r.getMessage()]
            assert len(said) == 1, said
        finally:
            node._stop_requested = True
            await run
            await node.stop()
            node.close()
