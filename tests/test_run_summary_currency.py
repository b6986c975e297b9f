"""The run summary names the currency of its money figures, on the terminal and in `--json`:
`Total P&L 12.30` said nothing of whether that was USDT, USD or BTC."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from node_support import write_paper_toml, write_slice
from pty_support import run_in_pty
from tradeguard.cli.main import main

MONEY_ROWS = ("Realized P&L (net of fees)", "Unrealized P&L", "Fees paid", "Equity start → end",
              "Total P&L")  # fmt: skip


def test_the_run_summary_on_a_terminal_names_the_currency(tmp_path: Path, data_dir: Path) -> None:
    data = write_slice(data_dir, tmp_path / "btc.csv", 60)
    cfg = write_paper_toml(tmp_path, data)
    code, screen = run_in_pty(
        [sys.executable, "-m", "tradeguard.cli", "run", "--until-end", "--config", str(cfg)],
        cwd=tmp_path, columns=120, timeout_s=600,
    )  # fmt: skip
    assert code == 0, screen
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.replace("\r", ""))
    for label in MONEY_ROWS:
        row = next((line for line in text.splitlines() if label in line), None)
        assert row is not None, (label, text)
        assert re.search(r"\d USDT\b", row), row


def test_the_run_summary_json_names_the_currency(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_slice(data_dir, tmp_path / "btc.csv", 60)
    cfg = write_paper_toml(tmp_path, data)
    assert main(["run", "--until-end", "--json", "--config", str(cfg)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["currency"] == "USDT", summary


def test_the_backtest_table_names_the_currency_of_equity_and_of_each_pairs_pnl() -> None:
    from rich.console import Console

    from tradeguard.cli.backtest import print_metrics

    group = {"trades": 2, "win_rate": 0.5, "profit_factor": 1.5, "net_pnl": 12.3, "fees": 0.4}
    metrics = {"end_equity": 10012.3, "fees": 0.4, "valuation_asset": "USDT",
               "per_pair": {"ETH/BTC": group}, "per_exit_reason": {"signal": group}}  # fmt: skip
    console = Console(record=True, width=120)
    print_metrics(console, metrics, "runs/x")
    lines = console.export_text().splitlines()
    assert re.search(r"End equity .*10,012\.3\d* USDT", next(x for x in lines if "End equity" in x))
    pair = next(line for line in lines if "ETH/BTC" in line)
    assert re.search(r"12\.30* BTC .*0\.40* BTC", pair), pair


def _table(metrics: dict[str, object]) -> list[str]:
    from rich.console import Console

    from tradeguard.cli.backtest import print_metrics

    console = Console(record=True, width=160)
    print_metrics(console, metrics, "runs/x")
    return console.export_text().splitlines()


def _row(lines: list[str], label: str) -> str:
    return next(line for line in lines if line.lstrip("│ ").startswith(label))


def test_the_backtest_table_names_the_quote_of_expectancy_fees_and_each_exit_reason() -> None:
    # before: "Expectancy per trade", "Fees" and the per-exit-reason P&L and fees named none
    group = {"trades": 2, "win_rate": 0.5, "profit_factor": 1.5, "net_pnl": 12.3, "fees": 0.4}
    lines = _table({"end_equity": 10012.3, "fees": 0.4, "expectancy": 6.15,
                    "valuation_asset": "USDT", "per_pair": {"ETH/BTC": group},
                    "per_exit_reason": {"take_profit": group}})  # fmt: skip
    assert re.search(r"6\.150* BTC\b", _row(lines, "Expectancy per trade")), lines
    assert re.search(r"0\.40* BTC\b", _row(lines, "Fees")), lines
    assert re.search(r"12\.30* BTC .*0\.40* BTC\b", _row(lines, "take_profit")), lines


def test_the_backtest_table_names_every_quote_a_sum_over_pairs_mixes() -> None:
    group = {"trades": 1, "win_rate": 1.0, "profit_factor": None, "net_pnl": 1.0, "fees": 0.1}
    pairs = {"ETH/BTC": group, "SOL/USDT:USDT": group}  # a perpetual's quote: USDT
    lines = _table({"end_equity": 1.0, "fees": 0.2, "expectancy": 1.0, "valuation_asset": "USDT",
                    "per_pair": pairs, "per_exit_reason": {"signal": group}})  # fmt: skip
    assert re.search(r"1\.00* USDT .*0\.10* USDT\b", _row(lines, "SOL/USDT:USDT")), lines
    assert "USDT:USDT" not in _row(lines, "SOL/USDT:USDT").split("│", 2)[2], lines
    assert re.search(r"0\.20* BTC\+USDT\b", _row(lines, "Fees")), lines
    assert re.search(r"1\.00* BTC\+USDT .*0\.10* BTC\+USDT\b", _row(lines, "signal")), lines


def test_the_last_closed_trades_name_the_currency_of_their_pnl() -> None:
    from decimal import Decimal as D
    from types import SimpleNamespace

    from rich.console import Console

    from tradeguard.cli.run import print_summary

    closed = [{"symbol": s, "side": "long", "entry_price": D("100"), "exit_price": D("110"),
               "pnl": D("9.5"), "pnl_pct": D("9.5"), "exit_ts": 1_700_000_000_000}
              for s in ("BTC/USDT", "ETH/BTC")]  # fmt: skip
    rows = SimpleNamespace(load_position_rows=lambda status, limit: closed)
    summary = SimpleNamespace(
        mode="paper", resumed=False, equity_provisional="", start_equity=D(100),
        end_equity=D(119), currency="USDT", first_ts=0, last_ts=0, events=1, events_total=1,
        orders=4, fills=4, denied=0, closed_trades=2, winning_trades=2, losing_trades=0,
        realized_pnl=D(19), unrealized_pnl=D(0), fees=D(1), max_drawdown_pct=D(0),
        trading_state="active", elapsed_s=0.1,
    )  # fmt: skip
    console = Console(record=True, width=80)
    print_summary(console, summary, SimpleNamespace(storage=rows))
    lines = console.export_text().splitlines()
    # before: "9.50" alone, in USDT for one and in BTC for the other
    assert re.search(r"9\.50 USDT\b", next(x for x in lines if "BTC/USDT" in x)), lines
    assert re.search(r"9\.50 BTC\b", next(x for x in lines if "ETH/BTC" in x)), lines
    assert all(len(line) <= 80 for line in lines)


def test_the_backtest_report_names_the_currency_of_its_money_figures() -> None:
    from decimal import Decimal as D

    from tradeguard.backtest.metrics import TradeRecord
    from tradeguard.backtest.report import render_report

    group = {"trades": 1, "win_rate": 1.0, "profit_factor": None, "expectancy": 1.5,
             "net_pnl": 1.5, "fees": 0.25}  # fmt: skip
    metrics = {"start_equity": 100.0, "fees": 0.5, "expectancy": 1.5, "valuation_asset": "USDT",
               "per_pair": {"ETH/BTC": group, "SOL/USDT": group},
               "per_exit_reason": {"signal": group}}  # fmt: skip
    trades = [TradeRecord(s, "s", "long", 0, 60_000, D(1), D(2), D(1), D("1.5"), D(50),
                          D("0.25"), "in", "signal") for s in ("ETH/BTC", "SOL/USDT")]  # fmt: skip
    html = render_report("t", metrics, trades, [(0, 100.0), (60_000, 101.5)], {})
    # before: no currency anywhere in the report
    assert "<h2>Equity (USDT)</h2>" in html
    assert "<span>Expectancy (BTC+USDT)</span>" in html and "<span>Fees (BTC+USDT)</span>" in html
    pair_rows = re.findall(r'<tr><td class="l">(ETH/BTC|SOL/USDT)</td>(.*?)</tr>', html)
    assert [(pair, re.findall(r"<td>[-\d.,]+ (\w+)</td>", cells)) for pair, cells in pair_rows] == [
        ("ETH/BTC", ["BTC"] * 3), ("SOL/USDT", ["USDT"] * 3)
    ]  # expectancy, net pnl and fees per pair  # fmt: skip
    reason = re.search(r'<tr><td class="l">signal</td>(.*?)</tr>', html)
    assert reason and re.findall(r"<td>[-\d.,]+ ([\w+]+)</td>", reason[1]) == ["BTC+USDT"] * 3
    table = html[html.index('id="trades"') :]
    assert "<td>1.50000000 BTC</td>" in table and "<td>0.25000000 BTC</td>" in table
    assert "<td>1.50000000 USDT</td>" in table and "<td>0.25000000 USDT</td>" in table


def test_the_last_closed_trades_keep_their_pnl_and_currency_whole_in_80_columns() -> None:
    from decimal import Decimal as D
    from types import SimpleNamespace

    from rich.console import Console

    from tradeguard.cli.run import print_summary

    closed = [{"symbol": "ETH/USDT:USDT", "side": "short", "entry_price": D("3456.789"),
               "exit_price": D("3512.3456"), "pnl": D("-12345.678"), "pnl_pct": D("-1.6"),
               "exit_ts": 1_700_000_000_000}]  # fmt: skip
    summary = SimpleNamespace(
        mode="paper", resumed=False, equity_provisional="", start_equity=D(100), end_equity=D(1),
        currency="USDT", first_ts=0, last_ts=0, events=1, events_total=1, orders=2, fills=2,
        denied=0, closed_trades=1, winning_trades=0, losing_trades=1, realized_pnl=D(-99),
        unrealized_pnl=D(0), fees=D(1), max_drawdown_pct=D(0), trading_state="active",
        elapsed_s=0.1,
    )  # fmt: skip
    console = Console(record=True, width=80)
    rows = SimpleNamespace(load_position_rows=lambda status, limit: closed)
    print_summary(console, summary, SimpleNamespace(storage=rows))
    lines = console.export_text().splitlines()
    # before: "-12,345.68 US…" and the close time cut short, a perpetual's row past 80 columns
    assert not [line for line in lines if "…" in line], lines
    head = next(i for i, line in enumerate(lines) if line.startswith("symbol"))
    assert re.search(r"P&L USDT\b", lines[head]), lines
    assert "-12,345.68" in lines[head + 1] and "2023-11-14 22:13" in lines[head + 1], lines
