"""`tradeguard serve` runs an API kill and its periodic reconciliation as the live loop does:
no reconciliation starts while a kill still cancels (and flattens), and reconciliation goes on
after it. Sandbox venue (real ccxt), serve's own loop; the kill's cancels are held 3 s, as a
venue slow to answer them holds them."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from rich.console import Console

import tradeguard.node.duties as duties_mod
import tradeguard.node.node as node_mod
from test_loss_flatten_poll import _config
from tradeguard.cli.api import _serve
from tradeguard.model.enums import TradingState
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")


async def test_serve_starts_no_reconciliation_while_an_api_kill_runs(tmp_path, monkeypatch):
    async with seeded_exchange() as ex:
        cfg = _config(tmp_path, ex, reconcile_s=0.3)
        served = TradingNode(cfg)
        killing: list[int] = []
        passes: list[bool] = []  # one per reconciliation started: whether a kill ran then
        real_kill, real_reconcile = node_mod.execute_kill, duties_mod.reconcile_periodic

        async def slow_kill(node: Any, request: Any) -> Any:
            killing.append(1)
            try:
                await asyncio.sleep(3)  # the venue has not answered the cancels yet
                return await real_kill(node, request)
            finally:
                killing.pop()

        async def watched(node: Any) -> Any:
            passes.append(bool(killing))
            return await real_reconcile(node)

        monkeypatch.setattr(node_mod, "execute_kill", slow_kill)
        monkeypatch.setattr(duties_mod, "reconcile_periodic", watched)
        serving = asyncio.create_task(_serve(served, "127.0.0.1", 0, Console(quiet=True)))
        try:
            await eventually(lambda: len(passes) >= 1 or serving.done(), 60)
            assert not serving.done()
            report = await served.kill("review", "operator")  # as POST /api/v1/kill does
            assert report is not None
            assert served.risk.state is TradingState.HALTED
            assert True not in passes, passes  # was: serve reconciled beside the kill
            after = len(passes)
            await eventually(lambda: len(passes) > after or serving.done(), 30)
            assert not serving.done()  # and it goes on reconciling after the kill
            assert True not in passes, passes
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(serving, 60)
            served.close()
