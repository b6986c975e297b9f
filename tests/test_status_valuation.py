"""`tradeguard status` shows each holding's USD rate and the path that gave it (the figures the
API gives under `risk.usd_valuation`), says when equity is provisional (a venue's holdings at
another venue's price) and names the holdings no rate path values."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tradeguard.cli.main import main
from tradeguard.config import Config
from tradeguard.model.balance import Balance
from tradeguard.node import TradingNode

D = Decimal
T0 = 1_700_006_400_000


def _db(tmp_path: Path, b_quotes: bool) -> list[str]:
    url = f"sqlite:///{tmp_path / 'tg.db'}"
    node = TradingNode(Config.model_validate({"mode": "backtest", "node": {"database_url": url}}))
    try:
        p = node.portfolio
        p.set_balances("a", [Balance("a", "USDT", D(50_000)), Balance("a", "XYZ", D(5))])
        p.set_balances("b", [Balance("b", "BTC", D(1))])
        p.mark("BTC/USDT", D(90_000), "a")
        if b_quotes:
            p.mark("BTC/USDT", D(50_000), "b")
        node._checkpoint(T0)
    finally:
        node.close()
    return ["--db", url]


def test_status_json_gives_each_holdings_rate_path_and_why_equity_is_provisional(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _db(tmp_path, b_quotes=False)
    capsys.readouterr()
    assert main(["status", "--json", *db]) == 0
    val = json.loads(capsys.readouterr().out)["valuation"]
    assert val["rates"]["a:USDT"] == {"usd": "1", "path": "stablecoin"}
    assert val["rates"]["b:BTC"] == {"usd": "90000", "path": "BTC/USD (latest of any venue)"}
    assert val["unvalued"] == ["a:XYZ"]
    assert val["equity_usd"] == "140000"
    assert "b (BTC)" in val["provisional"] and "another venue's price" in val["provisional"]


def test_status_table_shows_rates_paths_provisional_equity_and_unvalued_holdings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    db = _db(tmp_path, b_quotes=False)
    capsys.readouterr()
    assert main(["status", *db]) == 0
    out = capsys.readouterr().out
    assert "Equity PROVISIONAL: holdings on b (BTC) are valued at another venue's price" in out
    assert "Unvalued (no USD rate path, counted as nothing): a:XYZ" in out
    row = next(line for line in out.splitlines() if "b:BTC" in line)
    assert "90,000" in row and "BTC/USD (latest of any venue)" in row, row


def test_status_says_nothing_provisional_once_every_venue_quotes_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    db = _db(tmp_path, b_quotes=True)
    capsys.readouterr()
    assert main(["status", *db]) == 0
    out = capsys.readouterr().out
    assert "PROVISIONAL" not in out
    row = next(line for line in out.splitlines() if "b:BTC" in line)
    assert "50,000" in row and "BTC/USD on b" in row, row
