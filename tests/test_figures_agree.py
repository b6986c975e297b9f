"""After a paper run, the CLI, the API and the metrics read the same figures."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from node_support import paper_config, write_slice
from test_api_support import PERMISSIVE, bearer, build_app, client
from tradeguard.api.serialisers import clean, state_payload
from tradeguard.cli.main import main as cli_main
from tradeguard.node import build_node


def _metric(text: str, name: str) -> Decimal:
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    assert found is not None, f"{name} missing from /metrics"
    return Decimal(found.group(1))


async def test_cli_api_and_metrics_agree_on_realized_equity_and_drawdown(
    tmp_path, data_dir, capsys
):
    data = write_slice(data_dir, tmp_path / "btc.csv", 3000)
    db = f"sqlite:///{tmp_path / 'tg.db'}"
    cfg = paper_config(db, data, risk=PERMISSIVE, tmp=tmp_path)
    node = build_node(cfg)
    try:
        await node.start()
        summary = await node.run()
        assert summary.closed_trades > 0  # the figures below mean something
        assert cli_main(["status", "--json", "--db", db]) == 0
        status = json.loads(capsys.readouterr().out)
        app, tokens = build_app(node)
        async with client(app) as http:
            state = (await http.get("/api/v1/state", headers=bearer(tokens.viewer))).json()
            equity = (await http.get("/api/v1/equity", headers=bearer(tokens.viewer))).json()
            metrics = (await http.get("/metrics", headers=bearer(tokens.viewer))).text
    finally:
        await node.stop()
        node.close()
    figures = status["figures"]
    realized = Decimal(figures["realized_pnl"])
    assert realized != 0
    assert realized == summary.realized_pnl == Decimal(state["realized_pnl"])
    assert realized == _metric(metrics, "tradeguard_realized_pnl").quantize(realized)
    end_equity = Decimal(figures["equity"])
    assert end_equity == summary.end_equity == Decimal(state["equity"])
    assert Decimal(state["risk"]["equity"]) == end_equity  # /state carries one equity figure
    assert end_equity == _metric(metrics, "tradeguard_equity").quantize(end_equity)
    max_dd = Decimal(figures["max_drawdown_pct"])
    assert max_dd > 0
    assert max_dd == summary.max_drawdown_pct == Decimal(state["max_drawdown_pct"])
    assert round(float(max_dd), 4) == equity["max_drawdown_pct"]
    assert abs(_metric(metrics, "tradeguard_max_drawdown_pct") - max_dd) < Decimal("1e-9")
    # per strategy: the status rows and the figures count the same closed trades
    rows = {r["strategy_id"]: r for r in status["strategies"]}
    for sid, t in figures["trades"].items():
        if sid in rows:
            assert rows[sid]["total_trades"] == t["trades"]
            assert Decimal(rows[sid]["total_pnl"]) == Decimal(t["pnl"])
    assert sum(t["trades"] for t in figures["trades"].values()) == summary.closed_trades
    # a node started again on the same database (as `tradeguard serve` does) shows them too
    again = build_node(cfg)
    try:
        state = clean(state_payload(again))
    finally:
        again.close()
    assert Decimal(state["realized_pnl"]) == realized
    assert Decimal(state["max_drawdown_pct"]) == max_dd
