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
