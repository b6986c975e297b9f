"""Amounts that still left as str(Decimal): arbitrage records, the run summary, the
risk.approved event.

A triangular cycle through a low-priced coin records leg prices such as 0.00000025 and fees such
as 0.000000015; the executor's record, its `arb.execution` event and the API's list of cycles
must not turn them into 2.5E-7 or 1.5E-8. Nor may the run summary or an event the API shows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from test_api_support import bearer, build_app, client, next_candle
from test_json_plain_amounts import _exponents
from tradeguard.config import Config
from tradeguard.model.enums import Side
from tradeguard.node import TradingNode
from tradeguard.storage.arb_repository import insert_arb_execution
from tradeguard.strategies.triangular.exec_records import ArbExecution, LegExecution
from triangular_node_support import paper_arb_config, started_paper_arb_node


async def _paper_node(
    tmp_path: Path,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    edit: Callable[[dict[str, Any]], None],
) -> TradingNode:
    """The replayed paper node of test_json_plain_amounts, its config first changed by `edit`
    (on the config's JSON form)."""
    import test_json_plain_amounts as plain_amounts

    real = plain_amounts.build_node

    def edited(config: Config) -> TradingNode:
        doc = config.model_dump(mode="json")
        edit(doc)
        return real(Config.model_validate(doc))

    monkeypatch.setattr(plain_amounts, "build_node", edited)
    return await plain_amounts._node(tmp_path, data_dir)


def _record() -> ArbExecution:
    leg = LegExecution(
        kind="leg",
        index=0,
        symbol="SHIB/USDT",
        side=Side.BUY,
        from_asset="USDT",
        to_asset="SHIB",
        scanned_price=Decimal("0.00000025"),
        limit_price=Decimal("0.00000025"),
        order_amount=Decimal("4E+5"),
        filled=Decimal("4E+5"),
        avg_price=Decimal("0.00000025"),
        spent=Decimal("0.1"),
        received=Decimal("4E+5"),
        fee=Decimal("0.000000015"),
        fee_asset="USDT",
        status="filled",
        client_order_id="tri-1",
    )
    return ArbExecution(
        strategy_id="tri",
        cycle_id=1,
        path="USDT -> SHIB -> BTC -> USDT",
        start_asset="USDT",
        size=Decimal("0.1"),
        expected_profit_pct=Decimal("0.5"),
        expected_profit=Decimal("0.0000005"),
        outcome="held",
        reason="the second leg was denied",
        spent=Decimal("0.1"),
        actual_profit=Decimal("-0.00000003"),
        actual_profit_pct=Decimal("-0.00003"),
        fees=Decimal("0.000000015"),
        legs=[leg],
        held={"SHIB": Decimal("4E+5")},
        dust={"BTC": Decimal("0.00000001")},
        ts=1000,
    )


def test_arb_execution_event_and_row_write_plain_amounts() -> None:
    rec = _record()
    assert _exponents(rec.event_data(), "event") == []
    row = rec.to_row({"cycle_id": 1, "path": rec.path, "legs": []})
    assert _exponents(row["legs"], "row") == []
    assert row["legs"]["legs"][0]["limit_price"] == "0.00000025"
    assert row["legs"]["held"] == {"SHIB": "400000"}


async def test_arb_executions_api_writes_plain_amounts_even_for_stored_exponents(
    tmp_path: Path,
) -> None:
    node = await started_paper_arb_node(paper_arb_config(tmp_path))
    rec = _record()
    row = rec.to_row({"cycle_id": 1, "path": rec.path, "legs": []})
    # As a record written before amounts were plain stored them.
    stored_leg = dict(row["legs"]["legs"][0], limit_price="2.5E-7", fee="1.5E-8")
    row["legs"] = dict(row["legs"], legs=[stored_leg], held={"SHIB": "4E+5"}, dust={"BTC": "1E-8"})
    insert_arb_execution(node.storage, row)
    app, tokens = build_app(node)
    try:
        async with client(app) as http:
            r = await http.get("/api/v1/arb/executions", headers=bearer(tokens.admin))
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert len(items) == 1
        assert _exponents(items, "items") == []
        assert items[0]["legs"][0]["limit_price"] == "0.00000025"
        assert items[0]["legs"][0]["fee"] == "0.000000015"
        assert items[0]["held"] == {"SHIB": "400000"}
        assert items[0]["dust"] == {"BTC": "0.00000001"}
    finally:
        node.close()


async def test_run_summary_open_positions_write_plain_amounts(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `tradeguard run --json` prints this summary: a 0.0000005 BTC position must not read 5E-7.
    def tiny_orders(doc: dict[str, Any]) -> None:
        doc["venues"][0]["instruments"][0]["min_notional"] = "0"
        doc["risk"]["min_order_notional_usd"] = "0"

    node = await _paper_node(tmp_path, data_dir, monkeypatch, tiny_orders)
    app, tokens = build_app(node)
    buy = {"venue": "paper", "symbol": "BTC/USDT", "side": "buy", "amount": "0.0000005"}
    try:
        async with client(app) as http:
            placed = await http.post("/api/v1/orders", json=buy, headers=bearer(tokens.trader))
            assert placed.status_code == 201, placed.text
        next_candle(node)  # the market order fills
        summary = node.summary().to_json()
        assert summary["open_positions"], summary
        assert _exponents(summary, "summary") == []
        assert summary["open_positions"][0]["quantity"] == "0.0000005"
    finally:
        node.close()


async def test_risk_approved_events_write_the_notional_ceiling_plain(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A ceiling written 5E+2 in the config is 500 in every risk.approved event the API shows.
    def ceiling_as_exponent(doc: dict[str, Any]) -> None:
        doc["risk"]["max_order_notional_usd"] = "5E+2"

    node = await _paper_node(tmp_path, data_dir, monkeypatch, ceiling_as_exponent)
    app, tokens = build_app(node)
    buy = {"venue": "paper", "symbol": "BTC/USDT", "side": "buy", "amount": "0.001"}
    try:
        async with client(app) as http:
            placed = await http.post("/api/v1/orders", json=buy, headers=bearer(tokens.trader))
            assert placed.status_code == 201, placed.text
            r = await http.get("/api/v1/events?limit=500", headers=bearer(tokens.admin))
        assert r.status_code == 200, r.text
        approved = [e for e in r.json()["items"] if e["kind"] == "risk.approved"]
        assert approved, r.json()
        assert [e["data"]["max_order_notional_usd"] for e in approved] == ["500"] * len(approved)
    finally:
        node.close()


def test_cross_venue_attempts_write_plain_amounts() -> None:
    from tradeguard.model.enums import Side
    from tradeguard.strategies.cross_venue.records import PairAttempt, PairLegResult

    leg = PairLegResult(
        "first", "kalshi", "KX-YES", Side.BUY, Decimal("1E+3"), Decimal("0.5"),
        filled=Decimal("1E+3"), avg_price=Decimal("5E-1"), fee=Decimal("2E-7"),
    )  # fmt: skip
    attempt = PairAttempt(
        "pmarb", "p1", "event", 1, "PAPER", Decimal("1E+3"), Decimal("0.01"), Decimal("10"),
        Decimal("2"), outcome="held", actual_profit=Decimal("-1E-7"), fees=Decimal("2E-7"),
        capital=Decimal("5E+2"), legs=[leg], held={"KX-YES": Decimal("1E+3")},
    )  # fmt: skip
    text = json.dumps([attempt.to_json(), attempt.to_row()["legs"]])
    assert "E+" not in text and "E-" not in text, text
    out = attempt.to_json()
    assert out["contracts"] == "1000" and out["fees"] == "0.0000002"
    assert out["actual_profit"] == "-0.0000001" and out["held"] == {"KX-YES": "1000"}
    assert out["legs"][0]["fee"] == "0.0000002" and out["legs"][0]["avg_price"] == "0.5"
