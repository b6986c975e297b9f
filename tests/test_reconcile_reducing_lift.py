"""A reconciler's halt set over REDUCING comes back REDUCING, never ACTIVE, across a restart."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from live_support import sandbox_config
from tradeguard.config import Config
from tradeguard.execution.reconcile import RECONCILER, reconcile_and_gate
from tradeguard.model.enums import TradingState
from tradeguard.node import TradingNode
from tradeguard.risk.observers import LOSS_STREAK_BY
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import seeded_exchange

D = Decimal


def _config(tmp_path: Path, ex: SandboxExchange) -> Config:
    data = sandbox_config(tmp_path, ex, []).model_dump(mode="json")
    data["risk"]["max_consecutive_losses"] = 2
    return Config.model_validate(data)


def _lose(node: TradingNode, times: int) -> None:
    for _ in range(times):
        node.risk.observe_cycle("s", ("BTC/USDT",), D("-5"), node.clock.now_ms())


@pytest.mark.usefixtures("vault_env")
async def test_a_reconciler_halt_over_reducing_is_lifted_back_to_reducing(tmp_path: Path) -> None:
    async with seeded_exchange() as ex:
        node = TradingNode(_config(tmp_path, ex))
        await node.start()
        _lose(node, 2)
        assert node.risk.state is TradingState.REDUCING
        reducing_reason = node.risk.state_reason

        ex.faults.update({"http_5xx_rate": 1.0})
        failed = await reconcile_and_gate(node, "periodic")
        assert not failed.ok
        assert (node.risk.state, node.risk.state_by) == (TradingState.HALTED, RECONCILER)
        await node.stop()
        node.close()

        ex.faults.update({"http_5xx_rate": 0.0})
        restarted = TradingNode(_config(tmp_path, ex))  # the same database, read afresh
        assert restarted.risk.state is TradingState.HALTED
        await restarted.start()  # a good start-up reconciliation lifts the reconciler's halt
        try:
            assert restarted.reconcile_report is not None and restarted.reconcile_report.ok
            risk = restarted.risk
            assert risk.state is TradingState.REDUCING
            assert (risk.state_by, risk.state_reason) == (LOSS_STREAK_BY, reducing_reason)
            assert risk.consecutive_losses == 2  # the streak is not forgiven by a venue blip
        finally:
            await restarted.stop()
            restarted.close()


@pytest.mark.usefixtures("vault_env")
async def test_a_losing_streak_during_a_reconciler_halt_is_reducing_after_the_lift(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        node = TradingNode(_config(tmp_path, ex))
        await node.start()
        try:
            ex.faults.update({"http_5xx_rate": 1.0})
            await reconcile_and_gate(node, "periodic")
            assert node.risk.state is TradingState.HALTED
            _lose(node, 2)  # open orders' results arrive while halted
            assert node.risk.state is TradingState.HALTED

            ex.faults.update({"http_5xx_rate": 0.0})
            assert (await reconcile_and_gate(node, "periodic")).ok
            assert (node.risk.state, node.risk.state_by) == (TradingState.REDUCING, LOSS_STREAK_BY)
        finally:
            await node.stop()
            node.close()


@pytest.mark.usefixtures("vault_env")
async def test_an_operator_resume_over_a_halt_on_reducing_returns_to_active(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        node = TradingNode(_config(tmp_path, ex))
        await node.start()
        try:
            _lose(node, 2)
            await node.kill("incident", "ops")
            assert node.risk.state is TradingState.HALTED
            ex.faults.update({"http_5xx_rate": 0.0})
            await reconcile_and_gate(node, "periodic")  # never lifts someone else's halt
            assert node.risk.state is TradingState.HALTED
            node.risk.resume("ops", "incident closed")  # the operator's explicit decision
            assert node.risk.state is TradingState.ACTIVE
            assert node.risk.consecutive_losses == 0 and node.risk.halted_over is None
        finally:
            await node.stop()
            node.close()
