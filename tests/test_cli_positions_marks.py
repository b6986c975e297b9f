"""`tradeguard positions` values open positions at the node's last stored marks."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from tradeguard.api.serialisers import position_json
from tradeguard.cli import main
from tradeguard.model import Position, Side
from tradeguard.storage import Database, Storage


def _db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'tg.db'}"
    db = Database(url)
    db.migrate()
    store = Storage(db)
    long = Position("paper", "BTC/USDT", "trend")
    long.apply(Side.BUY, D("100"), D("2"), D("0"), ts=10)
    store.save_position(long, D("101"))
    long.apply(Side.BUY, D("110"), D("2"), D("0"), ts=20)  # size changed, no fresh mark
    store.save_position(long)
    short = Position("paper", "ETH/USDT", "trend")
    short.apply(Side.SELL, D("50"), D("3"), D("0"), ts=30)
    store.save_position(short, D("48"))
    bare = Position("paper", "ADA/BTC", "trend")
    bare.apply(Side.BUY, D("0.0000534"), D("1000"), D("0"), ts=40)
    store.save_position(bare)  # never marked
    db.dispose()
    return url


def _rows(capsys: pytest.CaptureFixture[str], url: str) -> dict[str, dict[str, str]]:
    assert main(["positions", "--db", url, "--json"]) == 0
    return {r["symbol"]: r for r in json.loads(capsys.readouterr().out)}


def test_open_positions_carry_mark_and_unrealized_pnl_from_the_current_size(tmp_path, capsys):
    rows = _rows(capsys, _db(tmp_path))
    btc, eth, ada = rows["BTC/USDT"], rows["ETH/USDT"], rows["ADA/BTC"]
    # 4 at an average 105, marked 101: -16, not the +2 stored while it held 2 bought at 100
    assert (btc["mark"], btc["unrealized_pnl"], btc["unrealized_pnl_pct"]) == (
        "101", "-16", "-3.8095",
    )  # fmt: skip
    # a short of 3 from 50 marked at 48 gains 6, 4 % of its 150 notional
    assert (D(eth["unrealized_pnl"]), D(eth["unrealized_pnl_pct"])) == (D("6"), D("4"))
    assert ada["mark"] is None and ada["unrealized_pnl"] is None
    assert ada["unrealized_pnl_pct"] is None


def test_the_table_shows_marks_and_says_no_mark_rather_than_inventing_one(tmp_path, capsys):
    url = _db(tmp_path)
    assert main(["positions", "--db", url]) == 0
    lines = {ln.split()[0]: ln for ln in capsys.readouterr().out.splitlines() if "/" in ln}
    assert lines["BTC/USDT"].split()[-3:] == ["101.00", "-16.00", "-3.81"]
    assert lines["ETH/USDT"].split()[-3:] == ["48.00", "6.00", "4.00"]
    assert lines["ADA/BTC"].split()[-4:] == ["no", "mark", "-", "-"]


def test_api_positions_give_unrealized_pnl_in_percent_too():
    pos = Position("paper", "BTC/USDT", "trend")
    pos.apply(Side.SELL, D("200"), D("0.5"), D("0"), ts=1)
    doc = position_json(pos, D("210"))
    assert (doc["mark"], doc["unrealized_pnl"], doc["unrealized_pnl_pct"]) == (
        "210", "-5.0", "-5.0000",
    )  # fmt: skip
    assert position_json(pos, None)["unrealized_pnl_pct"] is None


def test_positions_on_two_venues_say_which_venue_each_is_on(tmp_path, capsys):
    """Two exchanges holding BTC/USDT: the table showed two BTC/USDT rows and no venue, so a
    reader could not tell which exchange held which (`--json` had it)."""
    url = f"sqlite:///{tmp_path / 'tg.db'}"
    db = Database(url)
    db.migrate()
    store = Storage(db)
    for venue, qty in (("exa", D("0.5")), ("exb", D("0.25"))):
        pos = Position(venue, "BTC/USDT", "trend")
        pos.apply(Side.BUY, D("50000"), qty, D("0"), ts=10)
        store.save_position(pos, D("50100"))
    db.dispose()
    assert main(["positions", "--db", url]) == 0
    lines = [ln.split() for ln in capsys.readouterr().out.splitlines() if "BTC/USDT" in ln]
    assert sorted((ln[0], ln[1], ln[4]) for ln in lines) == [
        ("exa", "BTC/USDT", "0.5"), ("exb", "BTC/USDT", "0.25"),
    ]  # fmt: skip


def test_positions_on_one_venue_name_it_in_the_title(tmp_path, capsys):
    assert main(["positions", "--db", _db(tmp_path)]) == 0
    assert "Positions, open (3) on paper" in capsys.readouterr().out
