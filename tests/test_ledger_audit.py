"""The ledger audit: balances = start + fills - fees + adjustments, positions = their fills."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from cli_support import run_cli
from node_support import node_for, paper_config, write_slice
from tradeguard.execution.ledger_audit import AssetLine, audit_ledger
from tradeguard.model import Balance, Fill, LiquiditySide, Position, Side, TradingState
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

D = Decimal
START = {"paper": {"USDT": D("1000")}}


def _fill(side: Side, amount: str, price: str, fee: str, trade: str) -> Fill:
    return Fill(
        venue="paper", symbol="BTC/USDT", client_order_id="c", venue_order_id="o",
        trade_id=trade, side=side, price=D(price), amount=D(amount), fee=D(fee),
        fee_asset="USDT", liquidity=LiquiditySide.TAKER, ts=1,
    )  # fmt: skip


FILLS = [
    (_fill(Side.BUY, "0.002", "40000", "0.08", "t1"), "s"),
    (_fill(Side.SELL, "0.001", "41000", "0.041", "t2"), "s"),
]
# 1000 - 80 - 0.08 + 41 - 0.041 = 960.879 USDT; 0.001 BTC
BALANCES = [Balance("paper", "USDT", D("960.879"), D("0")), Balance("paper", "BTC", D("0.001"))]
OPEN = [Position("paper", "BTC/USDT", "s", quantity=D("0.001"))]


def test_a_ledger_that_equals_its_fills_passes_with_every_figure() -> None:
    audit = audit_ledger(START, FILLS, [], BALANCES, OPEN)

    assert audit.ok, audit.describe()
    usdt = next(a for a in audit.assets if a.asset == "USDT")
    assert (usdt.start, usdt.fills, usdt.fees, usdt.expected) == (
        D("1000"), D("-39.000"), D("0.121"), D("960.879"),
    )  # fmt: skip
    assert [(p.stored, p.fills) for p in audit.positions] == [(D("0.001"), D("0.001"))]


def test_a_balance_off_by_a_cent_is_reported_with_the_exact_figures() -> None:
    bad = [Balance("paper", "USDT", D("960.889")), BALANCES[1]]

    audit = audit_ledger(START, FILLS, [], bad, OPEN)

    assert not audit.ok
    assert audit.describe() == [
        "paper USDT: stored 960.889 != start 1000 + fills -39.000 - fees 0.121 + adjustments 0 "
        "= 960.879 (difference 0.010)"
    ]


def test_a_recorded_adjustment_explains_a_difference() -> None:
    moved = [Balance("paper", "USDT", D("970.879")), BALANCES[1]]

    audit = audit_ledger(START, FILLS, [("paper", "USDT", D("10"))], moved, OPEN)

    assert audit.ok, audit.describe()


def test_an_open_position_its_fills_do_not_explain_is_a_mismatch() -> None:
    grown = [Position("paper", "BTC/USDT", "s", quantity=D("0.003"))]

    audit = audit_ledger(START, FILLS, [], BALANCES, grown)

    assert audit.describe() == [
        "paper BTC/USDT (s): open position 0.003 != net of its fills 0.001 (difference 0.002)"
    ]
    # Fills of a balance-only strategy (a multi-leg execution) belong to no position.
    assert audit_ledger(START, FILLS, [], BALANCES, [], balance_only={"s"}).ok


async def test_an_edited_balance_row_halts_the_node_at_start_and_doctor_prints_it(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_slice(data_dir, tmp_path / "btc.csv", 3000)
    db_url = f"sqlite:///{tmp_path / 'tg.db'}"
    node = node_for(paper_config(db_url, data, tmp=tmp_path))
    try:
        await node.start()
        assert node.ledger_report.ok, node.ledger_report.describe()
        summary = await node.run()
        assert summary.fills > 0
    finally:
        node.close()
    db = Database(db_url)
    try:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE balances SET free = '12345' WHERE asset = 'USDT'")
    finally:
        db.dispose()

    node = node_for(paper_config(db_url, data, tmp=tmp_path))
    try:
        await node.start()
        assert node.risk.state is TradingState.HALTED
        reason = node.risk.state_reason
        assert reason.startswith("ledger audit failed: paper USDT: stored 12345 != start 10000")
        stored_state = Storage(node.db).kv_get("risk.state")
        assert stored_state is not None and stored_state["state"] == "HALTED"
    finally:
        node.close()

    text = run_cli(capsys, "doctor", "--db", db_url)
    as_json = run_cli(capsys, "doctor", "--db", db_url, "--json")

    assert text.returncode == 1, text.stderr
    assert "ledger MISMATCH (1):" in text.stdout
    assert "paper USDT: stored 12345 != start 10000" in text.stdout
    report = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and report["ok"] is False
    usdt = next(a for a in report["assets"] if a["asset"] == "USDT")
    assert usdt["stored"] == "12345" and Decimal(usdt["difference"]) == D("12345") - D(
        usdt["expected"]
    )


def _btc_fill(side: Side, amount: str, fee: str, trade: str) -> Fill:
    return Fill(
        venue="sbx", symbol="BTC/USDT", client_order_id="c", venue_order_id="o",
        trade_id=trade, side=side, price=D("50000"), amount=D(amount), fee=D(fee),
        fee_asset="BTC" if side is Side.BUY else "USDT", liquidity=LiquiditySide.TAKER, ts=1,
    )  # fmt: skip


def test_a_position_equals_the_base_its_fills_moved_net_of_fees_taken_in_base() -> None:
    buy = _btc_fill(Side.BUY, "0.01", "0.00001", "b1")
    assert buy.base_moved == D("0.00999")
    held = [Position("sbx", "BTC/USDT", "s", quantity=D("0.00999"))]

    stored = [Balance("sbx", "BTC", D("0.00999")), Balance("sbx", "USDT", D("500"))]

    audit = audit_ledger({"sbx": {"USDT": D("1000")}}, [(buy, "s")], [], stored, held)

    assert [(p.stored, p.fills) for p in audit.positions] == [(D("0.00999"), D("0.00999"))]
    assert audit.ok, audit.describe()


def test_a_remainder_below_the_lot_step_counts_as_flat_when_the_step_is_known() -> None:
    fills = [
        (_btc_fill(Side.BUY, "0.0004", "0.0000004", "b1"), "s"),
        (_btc_fill(Side.SELL, "0.00039", "0.0195", "s1"), "s"),
    ]
    steps = {("sbx", "BTC/USDT"): D("0.00001")}

    assert audit_ledger({}, fills, [], [], [], lot_steps=steps).positions == []
    blind = audit_ledger({}, fills, [], [], [])
    assert [(p.stored, p.fills) for p in blind.positions] == [(D("0"), D("0.0000096"))]


def test_fills_of_no_journal_order_audit_by_their_own_owner_when_their_ids_are_empty(
    tmp_path: Path,
) -> None:
    """Trades made by hand carry no client order id on some venues: a spot sale booked to
    `holdings` and an outcome buy booked to no strategy (an open position) shared the id "",
    and the audit, mapping fills to owners by client order id, gave both the same owner: the
    stored position or the sale's missing one was reported as a ledger difference."""
    from tradeguard.execution.ledger_audit import audit_storage

    def by_hand(venue: str, symbol: str, side: Side, amount: str, price: str, trade: str) -> Fill:
        return Fill(venue=venue, symbol=symbol, client_order_id="", venue_order_id="",
                    trade_id=trade, side=side, price=D(price), amount=D(amount), fee=D(0),
                    fee_asset=symbol.split("/")[1], liquidity=LiquiditySide.TAKER,
                    ts=1)  # fmt: skip

    db = Database(f"sqlite:///{tmp_path / 'tg.db'}")
    db.migrate()
    storage = Storage(db)
    with storage.transaction():
        sale = by_hand("cex", "BTC/USDT", Side.SELL, "0.001", "40000", "h1")
        storage.insert_fill(sale, "holdings")
        storage.insert_fill(by_hand("kalshi", "KX:NO/USD", Side.BUY, "10", "0.4", "k1"), "")
        storage.save_position(Position("kalshi", "KX:NO/USD", "", quantity=D("10")), D("0.4"))
        cex = [Balance("cex", "BTC", D("0.999")), Balance("cex", "USDT", D("40"))]
        storage.upsert_balances("cex", cex, None, 1)
        outcome = [Balance("kalshi", "USD", D("96")), Balance("kalshi", "KX:NO", D("10"))]
        storage.upsert_balances("kalshi", outcome, None, 1)
    start = {"cex": {"BTC": D("1"), "USDT": D("0")}, "kalshi": {"USD": D("100")}}

    audit = audit_storage(storage, start, {"holdings"})

    assert audit.ok, audit.describe()
    db.dispose()


def test_an_audit_line_writes_its_figures_in_plain_digits() -> None:
    # Seen at a restart against a reset exchange: "beyond the fees' rounding 3E-8".
    line = AssetLine(
        "sandbox", "BTC", Decimal("2.0"), Decimal("-0.4146"), Decimal("1.2E-7"), Decimal(0),
        Decimal("2.0"), tolerance=Decimal("3E-8"),
    )  # fmt: skip
    text = line.describe()
    assert "E-" not in text, text
    assert text.endswith(
        "fees 0.00000012 + adjustments 0 = 1.58539988 (difference 0.41460012, beyond the fees' "
        "rounding 0.00000003)"
    ), text
