"""`tradeguard arb snapshot` writes what `arb scan` reads, from a configured ccxt venue."""

from __future__ import annotations

import json
from pathlib import Path

from rigs import sandbox_process
from tradeguard.cli import main


def _config(tmp_path: Path, rest_url: str) -> Path:
    cfg = tmp_path / "snap.toml"
    cfg.write_text(
        f"""
mode = "sandbox"
[node]
database_url = "sqlite:///{tmp_path / "tg.db"}"
[[venues]]
name = "local"
kind = "ccxt"
exchange = "binance"
rest_url = "{rest_url}"
"""
    )
    return cfg


def test_snapshot_of_the_sandbox_feeds_arb_scan(tmp_path, capsys):
    keys = str(tmp_path / "keys.json")
    with sandbox_process("--universe", "40", "--seed", "7", "--keys-file", keys) as rest_url:
        out = tmp_path / "snap"
        args = ["arb", "snapshot", "--config", str(_config(tmp_path, rest_url)), "--out-dir"]
        assert main([*args, str(out)]) == 0, capsys.readouterr().err
    markets = json.loads((out / "markets.json").read_text())
    tickers = json.loads((out / "tickers.json").read_text())
    assert len(markets) >= 40 and "BTC/USDT" in markets
    assert set(tickers) <= set(markets) and tickers["BTC/USDT"]["bid"] is not None
    capsys.readouterr()
    scan = ["arb", "scan", "--markets", str(out / "markets.json")]
    assert main([*scan, "--tickers", str(out / "tickers.json"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["markets"] == len(markets) and doc["cycles"] > 0


def test_snapshot_without_a_ccxt_venue_says_what_to_add(tmp_path, capsys):
    cfg = tmp_path / "paper.toml"
    cfg.write_text('mode = "paper"\n')
    assert main(["arb", "snapshot", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "needs one ccxt venue (or pass --venue)" in err and "Traceback" not in err
