"""A node's alerts say its mode, and a completed arbitrage cycle (opt-in) is sent once.

A paper node runs real cycles on the seeded universe; alerts go to a webhook on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import aeventually
from test_alerts_channels import serve_http
from triangular_node_support import (
    AFTER_BURST_MS,
    CREDENTIALS,
    HOLD_PARAMS,
    RATE_LIMITED_RISK,
    feed_universe_quotes,
    paper_arb_config,
    started_paper_arb_node,
    write_vault,
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


def test_a_sandbox_node_trading_only_paper_venues_on_live_data_marks_its_alerts_paper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tradeguard.config import Config
    from tradeguard.node import TradingNode

    for key, value in write_vault(tmp_path).items():
        monkeypatch.setenv(key, value)

    def node_mode(venues: list[dict[str, object]]) -> str:
        config = Config.model_validate({
            "mode": "sandbox",
            "node": {"database_url": f"sqlite:///{tmp_path / f'{len(venues)}.db'}"},
            "venues": venues,
            "alerts": {"webhook": {"url": "http://127.0.0.1:9/hook", "format": "generic"}},
        })  # fmt: skip
        node = TradingNode(config)
        try:
            assert node.alerts is not None
            return node.alerts.mode
        finally:
            node.close()

    data = {"name": "binance", "kind": "ccxt", "exchange": "binance", "sandbox": True,
            "data_only": True, "rest_url": "http://127.0.0.1:9",
            "ws_url": "ws://127.0.0.1:9"}  # fmt: skip
    paper = {"name": "paper", "kind": "paper", "data_venue": "binance"}
    assert node_mode([data, paper]) == "paper"  # no order reaches an exchange
    traded = {**data, "name": "sbx", "data_only": False, "credentials": CREDENTIALS}
    assert node_mode([data, paper, traded]) == "sandbox"


def test_a_backtest_config_run_as_a_node_keeps_its_unmarked_alerts(tmp_path: Path) -> None:
    from tradeguard.config import Config, default_config
    from tradeguard.node import TradingNode

    doc = default_config()
    doc["mode"] = "backtest"
    doc.setdefault("node", {}).update(
        database_url=f"sqlite:///{tmp_path / 'tg.db'}", kill_sentinel=str(tmp_path / "k")
    )
    doc["alerts"] = {"enabled": True, "webhook": {"url": "http://127.0.0.1:9/h"}}
    node = TradingNode(Config.model_validate(doc))
    try:
        assert node.alerts is not None and node.alerts.mode == "backtest"  # no [PAPER] mark
    finally:
        node.close()
