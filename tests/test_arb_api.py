"""Arbitrage cycles through the API: the record list, the summary, strategies and metrics."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from test_api_support import bearer, build_app, client
from tradeguard.model.balance import Balance
from tradeguard.node import TradingNode, build_node
from tradeguard.portfolio.arb_summary import percentile
from tradeguard.storage.arb_repository import (
    amend_arb_execution,
    insert_arb_execution,
    load_arb_executions,
)
from tradeguard.strategies.triangular.executor import ArbExecution
from triangular_node_support import (
    AFTER_BURST_MS,
    HOLD_PARAMS,
    RATE_LIMITED_RISK,
    feed_universe_quotes,
    paper_arb_config,
    started_paper_arb_node,
)

EXECUTIONS = "/api/v1/arb/executions"
SUMMARY = "/api/v1/arb/summary"


def record(
    strategy_id: str,
    outcome: str,
    ts: int,
    *,
    expected: str = "0.8",
    profit: str = "0",
    profit_pct: str = "0",
    latency_ms: int = 10,
    start: str = "USDT",
    held: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Return an `arb_executions` row as the executor writes it."""
    rec = ArbExecution(
        strategy_id=strategy_id,
        cycle_id=7,
        path=f"{start} -> ETH -> BTC -> {start}",
        start_asset=start,
        size=Decimal(100),
        expected_profit_pct=Decimal(expected),
        expected_profit=Decimal(expected),
        outcome=outcome,  # type: ignore[arg-type]
        reason="" if outcome == "completed" else f"the cycle ended {outcome}",
        actual_profit=Decimal(profit),
        actual_profit_pct=Decimal(profit_pct),
        held={a: Decimal(q) for a, q in (held or {}).items()},
        latency_ms=latency_ms,
        ts=ts,
    )
    return rec.to_row({"cycle_id": rec.cycle_id, "path": rec.path, "legs": []})


# ids 1-7 in this order; 1-6 are strategy `tri` in USDT, 7 is `tri-btc` in BTC
ROWS = [
    record("tri", "completed", 1000, expected="0.8", profit="0.7", profit_pct="0.7", latency_ms=10),
    record("tri", "completed", 2000, expected="0.6", profit="0.5", profit_pct="0.5", latency_ms=30),
    record("tri", "unwound", 3000, expected="0.9", profit="-0.2", profit_pct="-0.2", latency_ms=50),
    record("tri", "held", 4000, expected="1.0", latency_ms=40, held={"ETH": "0.01"}),
    record("tri", "rejected", 5000, expected="0.55", latency_ms=0),
    record("tri", "failed", 6000, expected="0.7", latency_ms=20),
    record("tri-btc", "completed", 7000, expected="0.5", profit="0.0001", profit_pct="0.4",
           latency_ms=15, start="BTC"),
]  # fmt: skip


async def recorded_node(tmp_path: Path) -> TradingNode:
    """A paper node with a triangular strategy that has seen no quote, and ROWS recorded."""
    node = await started_paper_arb_node(paper_arb_config(tmp_path))
    for row in ROWS:
        insert_arb_execution(node.storage, row)
    return node


async def rate_limited_node(tmp_path: Path) -> TradingNode:
    """A paper node whose second cycle has its second leg denied and holds ETH."""
    config = paper_arb_config(tmp_path, HOLD_PARAMS, risk=RATE_LIMITED_RISK)
    return await started_paper_arb_node(config)


async def completed_then_held(node: TradingNode) -> list[dict[str, Any]]:
    await feed_universe_quotes(node)
    await feed_universe_quotes(node, AFTER_BURST_MS)
    rows = load_arb_executions(node.storage)
    assert [r["outcome"] for r in rows] == ["completed", "held"], [
        r["legs"]["reason"] for r in rows
    ]
    return rows


async def test_executions_list_real_cycles_newest_first_with_every_order_and_decimal_strings(
    tmp_path: Path,
) -> None:
    node = await rate_limited_node(tmp_path)
    try:
        done, held = await completed_then_held(node)
        app, tokens = build_app(node)
        async with client(app) as http:
            r = await http.get(EXECUTIONS, headers=bearer(tokens.viewer))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == body["count"] == 2
        first, second = body["items"]
        assert [first["id"], second["id"]] == [held["id"], done["id"]]
        assert first["outcome"] == "held" and second["outcome"] == "completed"
        assert second["path"] == done["cycle"]["path"] and second["start_asset"] == "USDT"
        assert second["actual_profit"] == str(done["actual_profit"])
        assert Decimal(second["actual_profit"]) > 0
        assert second["expected_profit_pct"] == str(done["expected_profit_pct"])
        assert second["actual_profit_pct"] == done["legs"]["actual_profit_pct"]
        assert Decimal(second["slippage_pct"]) == Decimal(second["actual_profit_pct"]) - Decimal(
            second["expected_profit_pct"]
        )
        assert second["fees"] == str(done["fees"]) and Decimal(second["fees"]) > 0
        assert second["size"] == done["legs"]["size"] and second["latency_ms"] >= 0
        assert second["first_order_ms"] == done["legs"]["first_order_ms"]
        assert [leg["status"] for leg in second["legs"]] == ["filled"] * 3
        assert second["unwinds"] == [] and second["held"] == {} and second["reason"] == ""
        journal = {o.client_order_id for o in node.storage.load_orders()}
        assert {leg["client_order_id"] for leg in second["legs"]} <= journal
        # The held cycle: its second leg denied by the order rate, the ETH it bought kept.
        assert first["held"] == held["legs"]["held"] and set(first["held"]) == {"ETH"}
        assert [leg["status"] for leg in first["legs"]] == ["filled", "denied"]
        assert "max_orders_per_s" in first["reason"]
        for item in body["items"]:
            for key in ("actual_profit", "expected_profit_pct", "fees", "size", "spent"):
                assert isinstance(item[key], str), key
    finally:
        await node.stop_strategies()
        node.close()


async def test_executions_filter_by_strategy_outcome_and_time_window(tmp_path: Path) -> None:
    node = await recorded_node(tmp_path)
    app, tokens = build_app(node)
    h = bearer(tokens.viewer)

    async def ids(query: str) -> tuple[list[int], int]:
        r = await http.get(f"{EXECUTIONS}?{query}", headers=h)
        assert r.status_code == 200, (query, r.text)
        return [item["id"] for item in r.json()["items"]], r.json()["total"]

    async with client(app) as http:
        assert await ids("") == ([7, 6, 5, 4, 3, 2, 1], 7)
        assert await ids("strategy_id=tri-btc") == ([7], 1)
        assert await ids("outcome=completed") == ([7, 2, 1], 3)
        assert await ids("strategy_id=tri&outcome=completed") == ([2, 1], 2)
        assert await ids("since_ts=2000&until_ts=4000") == ([3, 2], 2)  # [since, until)
        assert await ids("since_ts=4000") == ([7, 6, 5, 4], 4)
        assert await ids("until_ts=1000") == ([], 0)
        assert await ids("strategy_id=nobody") == ([], 0)
    node.close()


async def test_executions_paginate_with_limit_offset_and_a_total(tmp_path: Path) -> None:
    node = await recorded_node(tmp_path)
    app, tokens = build_app(node)
    async with client(app) as http:
        pages = [
            (await http.get(f"{EXECUTIONS}?strategy_id=tri&limit=2&offset={o}",
                            headers=bearer(tokens.viewer))).json()
            for o in (0, 2, 4, 6)
        ]  # fmt: skip
    assert [[i["id"] for i in p["items"]] for p in pages] == [[6, 5], [4, 3], [2, 1], []]
    assert {p["total"] for p in pages} == {6}
    assert [(p["limit"], p["offset"], p["count"]) for p in pages] == [
        (2, 0, 2), (2, 2, 2), (2, 4, 2), (2, 6, 0),
    ]  # fmt: skip
    node.close()


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        (EXECUTIONS, "limit=0", "query.limit"),
        (EXECUTIONS, "limit=501", "query.limit"),
        (EXECUTIONS, "offset=-1", "query.offset"),
        (EXECUTIONS, "outcome=won", "query.outcome"),
        (EXECUTIONS, "since_ts=-5", "query.since_ts"),
        (EXECUTIONS, "until_ts=soon", "query.until_ts"),
        (EXECUTIONS, "since_ts=2000&until_ts=2000", "query.until_ts"),
        (EXECUTIONS, "strategy_id=" + "x" * 65, "query.strategy_id"),
        (SUMMARY, "since_ts=5000&until_ts=1000", "query.until_ts"),
        (SUMMARY, "until_ts=99999999999999999", "query.until_ts"),
        (SUMMARY, "strategy_id=" + "x" * 65, "query.strategy_id"),
    ],
)
async def test_bad_query_values_are_a_422_naming_the_field(
    tmp_path: Path, path: str, query: str, field: str
) -> None:
    node = await recorded_node(tmp_path)
    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.get(f"{path}?{query}", headers=bearer(tokens.viewer))
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]
    assert r.json()["error"].startswith(f"invalid request: {field} = ")
    node.close()


async def test_window_error_names_the_other_bound(tmp_path: Path) -> None:
    node = await recorded_node(tmp_path)
    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.get(
            f"{EXECUTIONS}?since_ts=2000&until_ts=1500", headers=bearer(tokens.viewer)
        )
    (err,) = r.json()["errors"]
    assert err["value"] == "1500" and err["gt"] == "2000"
    assert "since_ts=2000" in err["message"]
    node.close()


async def test_summary_counts_outcomes_and_sums_profit_per_start_asset(tmp_path: Path) -> None:
    node = await recorded_node(tmp_path)
    app, tokens = build_app(node)
    h = bearer(tokens.viewer)
    async with client(app) as http:
        tri = (await http.get(f"{SUMMARY}?strategy_id=tri", headers=h)).json()
        every = (await http.get(SUMMARY, headers=h)).json()
        window = (await http.get(f"{SUMMARY}?since_ts=2000&until_ts=5000", headers=h)).json()
    assert tri["strategy_id"] == "tri" and tri["cycles"] == 6
    assert tri["by_outcome"] == {
        "completed": 2,
        "unwound": 1,
        "held": 1,
        "rejected": 1,
        "failed": 1,
    }
    assert (tri["sent"], tri["with_fill"], tri["profitable"]) == (5, 4, 2)
    assert tri["completed_rate"] == pytest.approx(2 / 5)  # completed of the cycles that sent
    assert tri["win_rate"] == pytest.approx(2 / 4)  # profitable of the cycles with a fill
    assert tri["profit"] == {"USDT": {"total": "1.0", "mean": "0.25", "cycles": 4}}
    # mean of actual % - expected % over the cycles with a fill: (-0.1 - 0.1 - 1.1 - 1.0) / 4
    assert Decimal(tri["slippage_pct"]["mean"]) == Decimal("-0.575")
    assert tri["slippage_pct"]["cycles"] == 4
    # over the cycles that sent an order: 10, 20, 30, 40, 50 ms
    assert tri["latency_ms"] == {"p50": 30, "p99": 50, "cycles": 5}
    assert tri["held"] == {"ETH": "0.01"} and tri["held_cycles"] == 1
    assert tri["last_held_ts"] == 4000
    assert tri["held_now"] == {}  # the ledger holds no ETH: it was dealt with
    assert every["cycles"] == 7
    assert every["profit"]["BTC"] == {"total": "0.0001", "mean": "0.0001", "cycles": 1}
    assert every["profit"]["USDT"]["total"] == "1.0"
    assert window["cycles"] == 3
    assert window["by_outcome"]["completed"] == 1 and window["by_outcome"]["held"] == 1
    node.close()


async def test_summary_takes_in_cycles_recorded_after_an_earlier_answer(tmp_path: Path) -> None:
    node = await recorded_node(tmp_path)
    app, tokens = build_app(node)
    h = bearer(tokens.viewer)
    async with client(app) as http:
        before = (await http.get(f"{SUMMARY}?strategy_id=tri", headers=h)).json()
        insert_arb_execution(
            node.storage,
            record("tri", "completed", 8000, profit="0.3", profit_pct="0.3", latency_ms=60),
        )
        insert_arb_execution(node.storage, record("tri", "rejected", 9000))
        insert_arb_execution(node.storage, record("tri-btc", "failed", 9500))
        after = (await http.get(f"{SUMMARY}?strategy_id=tri", headers=h)).json()
    assert before["cycles"] == 6 and after["cycles"] == 8
    assert after["by_outcome"]["completed"] == 3 and after["by_outcome"]["rejected"] == 2
    assert after["by_outcome"]["failed"] == 1  # tri-btc's is not taken in
    assert after["profit"]["USDT"] == {"total": "1.3", "mean": "0.26", "cycles": 5}
    assert after["latency_ms"] == {"p50": 30, "p99": 60, "cycles": 6}
    node.close()


async def test_summary_takes_in_a_held_record_rewritten_after_an_earlier_answer(
    tmp_path: Path,
) -> None:
    node = await recorded_node(tmp_path)
    app, tokens = build_app(node)
    h = bearer(tokens.viewer)
    async with client(app) as http:
        before = (await http.get(f"{SUMMARY}?strategy_id=tri", headers=h)).json()
        held = load_arb_executions(node.storage, outcome="held")[0]
        # its unresolved order ended: the cycle completed with a profit of 0.4 USDT
        done = record("tri", "completed", 4000, profit="0.4", profit_pct="0.4", latency_ms=40)
        with node.storage.transaction():
            amend_arb_execution(node.storage, held["id"], done)
        after = (await http.get(f"{SUMMARY}?strategy_id=tri", headers=h)).json()
    node.close()
    assert before["by_outcome"]["held"] == 1 and before["held_cycles"] == 1
    assert after["by_outcome"]["held"] == 0 and after["by_outcome"]["completed"] == 3
    assert after["held"] == {} and after["held_cycles"] == 0
    assert after["profit"]["USDT"] == {"total": "1.4", "mean": "0.35", "cycles": 4}


async def test_a_triangular_strategy_is_scored_by_its_cycles(tmp_path: Path) -> None:
    node = await rate_limited_node(tmp_path)
    try:
        done, held = await completed_then_held(node)
        app, tokens = build_app(node)
        async with client(app) as http:
            one = (await http.get("/api/v1/strategies/tri", headers=bearer(tokens.viewer))).json()
            bots = (await http.get("/api/v1/bots", headers=bearer(tokens.viewer))).json()
        assert one["kind"] == "triangular" and one["position"] == "0"
        perf = one["performance"]
        # Two cycles with a fill, one profitable (the held one counts its ETH at cost: 0).
        assert (perf["trades"], perf["wins"], perf["losses"]) == (2, 1, 1)
        assert perf["win_rate"] == 0.5
        # Money is an exact decimal string, as every amount the API answers.
        assert isinstance(perf["total_pnl"], str) and isinstance(perf["avg_pnl"], str)
        assert Decimal(perf["total_pnl"]) == done["actual_profit"] + held["actual_profit"]
        assert Decimal(perf["avg_pnl"]) == Decimal(perf["total_pnl"]) / 2
        arb = one["arb"]
        assert arb["by_outcome"]["completed"] == 1 and arb["by_outcome"]["held"] == 1
        assert arb["profit"]["USDT"]["total"] == str(done["actual_profit"] + held["actual_profit"])
        assert arb["held"] == held["legs"]["held"]
        assert arb["held_now"] == held["legs"]["held"]  # the ledger still holds that ETH
        assert bots["items"] == [one]
    finally:
        await node.stop_strategies()
        node.close()


async def test_a_strategy_known_only_from_its_records_is_listed_as_triangular(
    tmp_path: Path,
) -> None:
    node = await recorded_node(tmp_path)
    app, tokens = build_app(node)
    async with client(app) as http:
        listed = (await http.get("/api/v1/strategies", headers=bearer(tokens.viewer))).json()
        btc = await http.get("/api/v1/strategies/tri-btc", headers=bearer(tokens.viewer))
    kinds = {s["id"]: (s["kind"], s["status"]) for s in listed["items"]}
    assert kinds == {"tri": ("triangular", "running"), "tri-btc": ("triangular", "external")}
    assert btc.status_code == 200
    assert btc.json()["performance"]["trades"] == 1
    assert btc.json()["arb"]["profit"] == {
        "BTC": {"total": "0.0001", "mean": "0.0001", "cycles": 1}
    }
    node.close()


def _metric(text: str, name: str, **labels: str) -> float | None:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}} "):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_metrics_count_cycles_by_outcome_time_them_and_sum_their_profit(
    tmp_path: Path,
) -> None:
    node = await rate_limited_node(tmp_path)
    try:
        app, tokens = build_app(node)  # listening before the cycles run
        done, held = await completed_then_held(node)
        async with client(app) as http:
            text = (await http.get("/metrics", headers=bearer(tokens.viewer))).text
        cycles = "tradeguard_arb_cycles_total"
        assert _metric(text, cycles, outcome="completed", strategy="tri") == 1.0
        assert _metric(text, cycles, outcome="held", strategy="tri") == 1.0
        latency = "tradeguard_arb_cycle_latency_seconds_count"
        assert _metric(text, latency, strategy="tri") == 2.0
        total = done["actual_profit"] + held["actual_profit"]
        profit = _metric(text, "tradeguard_arb_actual_profit", asset="USDT", strategy="tri")
        assert profit == pytest.approx(float(total))
    finally:
        await node.stop_strategies()
        node.close()


def test_latency_percentiles_are_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99
    assert percentile([7], 99) == 7 and percentile([], 50) is None
    assert percentile([10, 20], 50) == 10 and percentile([10, 20], 99) == 20


async def test_status_figures_score_a_triangular_strategy_as_the_api_does(tmp_path: Path) -> None:
    config = paper_arb_config(tmp_path, HOLD_PARAMS, risk=RATE_LIMITED_RISK)
    node = await started_paper_arb_node(config)
    try:
        done, _held = await completed_then_held(node)
        app, tokens = build_app(node)
        async with client(app) as http:
            one = (await http.get("/api/v1/strategies/tri", headers=bearer(tokens.viewer))).json()
        figures = node.figures()
        node._checkpoint(node.clock.now_ms())  # what `tradeguard status` reads
    finally:
        await node.stop_strategies()
        node.close()
    perf = one["performance"]
    tri = figures.trades["tri"]
    assert (tri.trades, tri.wins, tri.losses) == (perf["trades"], perf["wins"], perf["losses"])
    assert tri.trades == 2 and tri.pnl == done["actual_profit"]
    assert figures.realized_pnl == done["actual_profit"]
    again = build_node(config)  # a restart reads the recorded cycles back
    try:
        assert again.figures().trades["tri"] == tri
    finally:
        again.close()


async def test_status_command_scores_a_triangular_strategy_by_its_cycles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from tradeguard.cli import main

    config = paper_arb_config(tmp_path, HOLD_PARAMS, risk=RATE_LIMITED_RISK)
    node = await started_paper_arb_node(config)
    try:
        done, _held = await completed_then_held(node)
        node._checkpoint(node.clock.now_ms())
        tri = node.figures().trades["tri"]
    finally:
        await node.stop_strategies()
        node.close()
    capsys.readouterr()
    assert main(["status", "--db", config.node.database_url, "--json"]) == 0
    row = next(
        s for s in json.loads(capsys.readouterr().out)["strategies"] if s["strategy_id"] == "tri"
    )
    # The strategy's stored run figures are its cycles', as the API and figures count them.
    assert (row["total_trades"], row["winning_trades"], row["losing_trades"]) == (2, 1, 1)
    assert (tri.trades, tri.wins) == (2, 1)
    assert Decimal(row["total_pnl"]) == tri.pnl == done["actual_profit"]


async def test_held_now_counts_a_cross_venue_leg_the_ledger_still_holds(tmp_path: Path) -> None:
    """A cross-venue record names what it left held by its symbol (`KX:NO/USD`, as `pm arb
    run` wrote 207 Kalshi NO contracts held alone), the ledger by the contract's asset: the
    summary said `held_now: {}` (nothing left) while the venue and the ledger held all 207."""
    node = await recorded_node(tmp_path)
    leg = "KXFED-26DEC-T4.00:NO/USD"
    row = record("pmarb", "held", 8000, start="USD", held={leg: "207.00"})
    insert_arb_execution(node.storage, row)
    node.portfolio.set_balances(
        "paper", [Balance("paper", "KXFED-26DEC-T4.00:NO", Decimal(200), Decimal(0))]
    )
    app, tokens = build_app(node)
    async with client(app) as http:
        got = await http.get(f"{SUMMARY}?strategy_id=pmarb", headers=bearer(tokens.viewer))
    node.close()
    body = got.json()
    assert body["held"] == {leg: "207.00"}
    assert body["held_now"] == {leg: "200"}  # capped by what the ledger holds now


async def test_a_multi_leg_strategy_names_no_single_symbol(tmp_path: Path) -> None:
    """A triangular (or cross-venue) strategy trades every market of its cycles; its config's
    `symbol`, unused, defaults to BTC/USDT: the API and dashboard showed `BTC/USDT` as the
    strategy's symbol, a market it may never touch."""
    node = await recorded_node(tmp_path)
    app, tokens = build_app(node)
    async with client(app) as http:
        got = await http.get("/api/v1/strategies", headers=bearer(tokens.viewer))
    node.close()
    assert got.status_code == 200, got.text
    tri = next(s for s in got.json()["items"] if s["id"] == "tri")
    assert tri["kind"] == "triangular"
    assert tri["symbol"] is None, tri
