"""`tradeguard arb scan` on generated ccxt-shaped snapshots."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tradeguard.cli.arb import main
from tradeguard.strategies.triangular.universe import generate_universe


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("venue")
    universe = generate_universe(120, 400, 8, seed=21)
    markets, tickers = root / "markets.json", root / "tickers.json"
    markets.write_text(json.dumps(universe.to_ccxt_markets()))
    tickers.write_text(json.dumps(universe.to_ccxt_tickers()))
    return markets, tickers


def scan(snapshot: tuple[Path, Path], *extra: str) -> list[str]:
    return ["arb", "scan", "--markets", str(snapshot[0]), "--tickers", str(snapshot[1]), *extra]


def test_json_output_lists_the_best_cycles_best_first(
    snapshot: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(scan(snapshot, "--json", "--top", "5")) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["markets"] == 400
    assert doc["markets_quoted"] == 400
    assert doc["max_cycle"] == 3
    found = doc["opportunities"]
    assert len(found) == 5
    profits = [Decimal(o["profit_pct"]) for o in found]
    assert profits == sorted(profits, reverse=True)
    assert profits[0] > 0
    first = found[0]
    assert len(first["legs"]) == 3
    assert {leg["side"] for leg in first["legs"]} <= {"buy", "sell"}
    assert first["legs"][0]["from"] == first["start_asset"] == first["legs"][-1]["to"]
    assert Decimal(first["max_size"]) >= 0


def test_longer_cycles_and_fee_override_change_the_scan(
    snapshot: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(scan(snapshot, "--json", "--top", "1")) == 0
    base = json.loads(capsys.readouterr().out)
    assert main(scan(snapshot, "--json", "--top", "1", "--max-cycle", "4")) == 0
    longer = json.loads(capsys.readouterr().out)
    assert longer["cycles"] > base["cycles"]
    assert Decimal(longer["opportunities"][0]["profit_pct"]) >= Decimal(
        base["opportunities"][0]["profit_pct"]
    )
    assert main(scan(snapshot, "--json", "--top", "1", "--fee-override", "0.5")) == 0
    costly = json.loads(capsys.readouterr().out)
    assert {leg["fee"] for leg in costly["opportunities"][0]["legs"]} == {"0.005"}
    assert Decimal(costly["opportunities"][0]["profit_pct"]) < Decimal(
        base["opportunities"][0]["profit_pct"]
    )


def test_table_output_shows_legs_profit_and_size(
    snapshot: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(scan(snapshot, "--top", "3")) == 0
    out = capsys.readouterr().out
    assert "400 markets (400 quoted)" in out
    assert "profit %" in out
    assert " buy @ " in out or " sell @ " in out
    assert "limited by" in out


def test_bad_markets_file_names_the_file_and_the_field(
    tmp_path: Path, snapshot: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "markets.json"
    bad.write_text(json.dumps({"ETH/USDT": {"symbol": "ETH/USDT", "base": "ETH"}}))
    assert main(scan((bad, snapshot[1]))) == 2
    err = capsys.readouterr().err
    assert str(bad) in err
    assert "['ETH/USDT'].quote" in err


def test_unreadable_or_invalid_json_is_a_clear_error(
    tmp_path: Path, snapshot: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.json"
    assert main(scan((snapshot[0], missing))) == 2
    assert f"{missing}: cannot read the tickers file" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main(scan((snapshot[0], broken))) == 2
    assert f"{broken}: not valid JSON at line 1" in capsys.readouterr().err


def test_max_cycle_out_of_range_is_an_input_error(
    snapshot: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(scan(snapshot, "--max-cycle", "7")) == 2
    assert "max_cycle=7 is out of range [3, 5]" in capsys.readouterr().err
