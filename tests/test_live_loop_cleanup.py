"""The live loop undoes what it set up when one of its duties fails to start."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from native_exits_support import native_config
from tradeguard.model.errors import ConfigError
from tradeguard.node import TradingNode, live
from tradeguard.sandbox.testing import seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")


def _log_handlers(node: TradingNode) -> int:
    return sum(1 for _, h in node.bus._handlers if h is live._log_risk)


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
