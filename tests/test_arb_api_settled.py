"""A cross-venue pair's settlement changes its trade on every surface: the API's arbitrage
summary (the dashboard's figures), the strategy's performance, the metrics and `status` count
the pair at what it paid, not at the 1 per contract pair its record assumed, across a restart."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from test_api_support import PASSPHRASE, bearer, build_app, client
from tradeguard.api.app import create_app
from tradeguard.api.auth import TokenStore
from tradeguard.node import build_node
from tradeguard.strategies.cross_venue.records import PairAttempt
from triangular_node_support import paper_arb_config, started_paper_arb_node

D = Decimal
SUMMARY = "/api/v1/arb/summary"
TS = 5_000


def pair_row(outcome: str, profit: str, capital: str) -> dict[str, Any]:
    """A pair attempt's record as the cross-venue strategy writes it."""
    attempt = PairAttempt(
        strategy_id="pm", pair_id="fed", event="FED", direction=0, mode="PAPER",
        contracts=D(10), expected_edge=D("0.06"), expected_profit=D("0.60"),
        expected_roi_pct=D("6.38"), outcome=outcome,  # type: ignore[arg-type]
        actual_profit=D(profit), capital=D(capital), ts=TS,
    )  # fmt: skip
    return attempt.to_row()


async def _figures(api: tuple[Any, Any], query: str = "strategy_id=pm") -> dict[str, Any]:
    app, tokens = api
    h = bearer(tokens.viewer)
    async with client(app) as http:
        summary = (await http.get(f"{SUMMARY}?{query}", headers=h)).json()
        one = (await http.get("/api/v1/strategies/pm", headers=h)).json()
        metrics = (await http.get("/metrics", headers=h)).text
    return {"summary": summary, "performance": one["performance"], "metrics": metrics}


def _metric_profit(text: str) -> float:
    for line in text.splitlines():
        if line.startswith("tradeguard_arb_actual_profit{") and 'strategy="pm"' in line:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no tradeguard_arb_actual_profit for pm")


def _assert_lost(seen: dict[str, Any]) -> None:
    s, perf = seen["summary"], seen["performance"]
    assert (s["with_fill"], s["profitable"], s["win_rate"]) == (1, 0, 0.0), s
    assert s["profit"] == {"USD": {"total": "-9.40", "mean": "-9.40", "cycles": 1}}, s
    assert (perf["trades"], perf["wins"], perf["losses"]) == (1, 0, 1), perf
    assert D(perf["total_pnl"]) == D("-9.40"), perf
    assert _metric_profit(seen["metrics"]) == pytest.approx(-9.40)


async def test_a_pair_settled_at_a_total_loss_is_a_loss_in_the_api_metrics_and_status(
    tmp_path: Path,
) -> None:
    config = paper_arb_config(tmp_path)
    node = await started_paper_arb_node(config)
    try:
        gateway = node.strategies[0].ctx.execution_gateway("pm", "paper")  # type: ignore[union-attr]
        rid = gateway.record_execution(pair_row("completed", "0.60", "9.40"))
        api = build_app(node)
        before = await _figures(api)
        assert before["summary"]["profit"]["USD"]["total"] == "0.60"  # counted at 1 a pair
        assert before["summary"]["win_rate"] == 1.0
        # both markets resolved so that the pair paid nothing: -9.40, the whole stake
        legs = ("FED-YES", "FED-NO")
        assert gateway.observe_settlement("k1", legs, D("-9.40"), TS + 1, D("0.60"), rid, D("9.40"))
        _assert_lost(await _figures(api))  # an answer cached before the settlement too
        window = await _figures(api, f"strategy_id=pm&since_ts={TS}&until_ts={TS + 1}")
        assert window["summary"]["profitable"] == 0, window
        assert window["summary"]["profit"]["USD"]["total"] == "-9.40"
        earlier = await _figures(api, f"since_ts=0&until_ts={TS}")
        assert earlier["summary"]["profit"] == {}  # the record is not in it: nor its settlement
        t = node.figures().trades["pm"]  # what `status` shows
        assert (t.trades, t.wins, t.pnl) == (1, 0, D("-9.40")), t
        # the same settlement told again (a start after a kill) changes nothing
        assert not gateway.observe_settlement("k1", legs, D("-9.40"), TS + 2, D("0.60"), rid)
        _assert_lost(await _figures(api))
    finally:
        await node.stop_strategies()
        node.close()
    again = build_node(config)  # a restart reads the records and the settlements back
    try:
        store = TokenStore(again.db, again.storage)  # the tokens made before the restart
        app = create_app(again, tokens=store, passphrase=PASSPHRASE)
        _assert_lost(await _figures((app, api[1])))
        t = again.figures().trades["pm"]
        assert (t.trades, t.wins, t.pnl) == (1, 0, D("-9.40")), t
    finally:
        again.close()
