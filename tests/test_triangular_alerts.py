"""Arbitrage cycles reach the alert channels: a held cycle is critical, an unwound one a warning.

Real cycles on the paper venue, real alert delivery to a webhook receiver on 127.0.0.1.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from conftest import aeventually
from test_alerts_channels import HttpReceiver, serve_http
from test_triangular_exec_support import Stack, small_universe
from test_triangular_exec_unwind import CYCLE_4, NO_DIRECT, fail_leg_3
from tradeguard.alerts import AlertManager, AlertsConfig, WebhookChannel
from triangular_node_support import (
    AFTER_BURST_MS,
    HOLD_PARAMS,
    RATE_LIMITED_RISK,
    feed_universe_quotes,
    paper_arb_config,
    started_paper_arb_node,
)

SIZE = Decimal(1000)


def _arb_alerts(receiver: HttpReceiver) -> list[dict[str, Any]]:
    return [b for b in receiver.bodies if str(b["rule"]).startswith("arb_")]


async def _run_with_alerts(s: Stack, receiver: HttpReceiver) -> list[dict[str, Any]]:
    """Execute CYCLE_4 with leg 3 failing, alerts going from the stack's bus to the receiver."""
    manager = AlertManager(AlertsConfig(), [WebhookChannel(f"{receiver.base}/hook", "generic")])
    await manager.start()
    s.bus.subscribe(manager.on_event)
    try:
        opp = s.opportunity(CYCLE_4)
        fail_leg_3(s)
        await s.executor.execute(opp, SIZE)
        await aeventually(lambda: manager.counters["enqueued"] == manager.counters["sent"])
    finally:
        await manager.stop()
    return _arb_alerts(receiver)


async def test_an_unwound_cycle_sends_one_warning_alert(tmp_path: Path) -> None:
    s = Stack(tmp_path, universe=small_universe(delist=NO_DIRECT))
    async with serve_http() as receiver:
        alerts = await _run_with_alerts(s, receiver)
    (cycle,) = [e for e in s.events if e.kind == "arb.execution"]
    assert cycle.data["outcome"] == "unwound"
    assert [(a["rule"], a["severity"]) for a in alerts] == [("arb_unwound", "warning")]
    assert alerts[0]["text"].startswith(
        f"Arbitrage cycle unwound: {cycle.data['path']} on paper; actual profit "
    )
    assert "leg 3 not sent" in alerts[0]["text"] and "[strategy triangular]" in alerts[0]["text"]


async def test_a_held_cycle_sends_one_critical_alert_naming_the_asset(tmp_path: Path) -> None:
    s = Stack(
        tmp_path,
        universe=small_universe(delist=NO_DIRECT),
        exec_config={"on_leg_failure": "hold"},
    )
    async with serve_http() as receiver:
        alerts = await _run_with_alerts(s, receiver)
    (held,) = [e for e in s.events if e.kind == "arb.held"]
    (asset, amount), *_ = held.data["held"].items()
    assert [(a["rule"], a["severity"]) for a in alerts] == [("arb_held", "critical")]
    assert alerts[0]["title"] == f"Arbitrage cycle held: {Decimal(amount).normalize():f} {asset}"
    assert "Sell it back to the start asset" in alerts[0]["text"]


async def test_a_node_with_a_webhook_alerts_on_a_held_cycle_and_not_on_a_completed_one(
    tmp_path: Path,
) -> None:
    async with serve_http() as receiver:
        alerts_config = {"webhook": {"url": f"{receiver.base}/hook", "format": "generic"}}
        config = paper_arb_config(
            tmp_path, HOLD_PARAMS, risk=RATE_LIMITED_RISK, alerts=alerts_config
        )
        node = await started_paper_arb_node(config)
        try:
            assert node.alerts is not None
            await feed_universe_quotes(node)  # completed
            await feed_universe_quotes(node, AFTER_BURST_MS)  # held
            await aeventually(lambda: bool(_arb_alerts(receiver)))
            await node.stop_strategies()
            await node.stop()  # drains the alert queue
        finally:
            node.close()
        alerts = _arb_alerts(receiver)
    assert [(a["rule"], a["severity"]) for a in alerts] == [("arb_held", "critical")]
    assert "ETH held on paper" in alerts[0]["text"] and "[strategy tri]" in alerts[0]["text"]
    assert "max_orders_per_s=3" in alerts[0]["text"]
