"""`tradeguard status` lists the bots beside the strategies: a node that runs only bots is not
"Strategies (0)" and nothing else."""

from __future__ import annotations

import json
from decimal import Decimal

from tradeguard.cli.main import main
from tradeguard.model.position import Position
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage


def _bots_only_db(tmp_path) -> list[str]:
    url = f"sqlite:///{tmp_path / 'tg.db'}"
    db = ["--db", url]
    for name in ("alpha", "beta"):
        assert main(["bot", "add", name, "--max-order-usd", "50", "--max-position-usd", "100",
                     "--daily-loss-usd", "20", "--symbols", "BTC/USDT", *db]) == 0  # fmt: skip
    assert main(["bot", "enable", "alpha", *db]) == 0
    storage = Storage(Database(url))
    storage.save_position(
        Position("paper", "BTC/USDT", "alpha", Decimal("0.002"), Decimal("50000"), opened_ts=1)
    )
    return db


def test_status_json_lists_each_bot_with_venue_enabled_and_open_positions(tmp_path, capsys):
    db = _bots_only_db(tmp_path)
    capsys.readouterr()
    assert main(["status", "--json", *db]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["strategies"] == []
    bots = {b["bot_id"]: b for b in out["bots"]}
    assert set(bots) == {"alpha", "beta"}
    assert (bots["alpha"]["venue"], bots["alpha"]["enabled"]) == ("paper", True)
    assert (bots["beta"]["venue"], bots["beta"]["enabled"]) == ("paper", False)
    [pos] = bots["alpha"]["open_positions"]
    assert (pos["symbol"], pos["side"], pos["quantity"]) == ("BTC/USDT", "long", "0.002")
    assert pos["entry_price"] == "50000"
    assert bots["beta"]["open_positions"] == []


def test_status_table_shows_the_bots_of_a_bots_only_node(tmp_path, capsys):
    db = _bots_only_db(tmp_path)
    capsys.readouterr()
    assert main(["status", *db]) == 0
    out = capsys.readouterr().out
    assert "Bots (2)" in out
    alpha = next(line for line in out.splitlines() if "alpha" in line)
    assert "paper" in alpha and "yes" in alpha and "long 0.002 BTC/USDT @ 50000" in alpha
    beta = next(line for line in out.splitlines() if "beta" in line)
    assert "no" in beta and "none" in beta
