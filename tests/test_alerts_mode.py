"""A node's alerts say its mode, and a completed arbitrage cycle (opt-in) is sent once.

A paper node runs real cycles on the seeded universe; alerts go to a webhook on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path

from conftest import aeventually
from test_alerts_channels import serve_http
from triangular_node_support import (
    AFTER_BURST_MS,
    HOLD_PARAMS,
    RATE_LIMITED_RISK,
    feed_universe_quotes,
    paper_arb_config,
    started_paper_arb_node,
)


async def test_a_paper_node_marks_titles_and_sends_each_completed_cycle_once(
    tmp_path: Path,
) -> None:
    async with serve_http() as receiver:
        alerts_config = {
            "webhook": {"url": f"{receiver.base}/hook", "format": "generic"},
            "rules": {"arb_completed": True},
        }
        config = paper_arb_config(
            tmp_path, HOLD_PARAMS, risk=RATE_LIMITED_RISK, alerts=alerts_config
        )
        node = await started_paper_arb_node(config)
        try:
            assert node.alerts is not None and node.alerts.mode == "paper"
            await feed_universe_quotes(node)  # completed
            await feed_universe_quotes(node, AFTER_BURST_MS)  # held
            await aeventually(lambda: any(b["rule"] == "arb_held" for b in receiver.bodies))
            await node.stop_strategies()
            await node.stop()  # drains the alert queue
        finally:
            node.close()
        bodies = receiver.bodies
    executions = node.storage.load_events(kind_prefix="arb.execution", limit=50)
    completed = [e for e in executions if e.data.get("outcome") == "completed"]
    sent = [b for b in bodies if b["rule"] == "arb_completed"]
    assert len(completed) == 1 and len(sent) == 1, "one alert per completed execution"
    assert sent[0]["title"].startswith("[PAPER] Arbitrage completed: ")
    assert "actual profit" in sent[0]["text"] and "against expected" in sent[0]["text"]
    assert bodies and all(b["title"].startswith("[PAPER] ") for b in bodies)
