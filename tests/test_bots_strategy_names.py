"""A strategy may not carry a signal bot's name: its orders would count as the bot's trades
while skipping the bot's limits, cooldown, one position and emergency stop."""

from __future__ import annotations

from pathlib import Path

from node_support import MA_STRATEGY_TOML, write_paper_toml, write_slice
from tradeguard.bots.spec import BotSpec
from tradeguard.cli.main import main
from tradeguard.storage.bot_rows import BotRows
from tradeguard.storage.db import Database

BOT = """
[[bots]]
name = "ma_cross"
max_order_usd = "50"
max_position_usd = "100"
daily_loss_usd = "20"
symbols = ["BTC/USDT"]
"""
SPEC = {"max_order_usd": "50", "max_position_usd": "100", "daily_loss_usd": "20",
        "symbols": ["BTC/USDT"]}  # fmt: skip
LIMITS = ["--max-order-usd", "50", "--max-position-usd", "100", "--daily-loss-usd", "20"]


def _strategy_id() -> str:
    line = next(x for x in MA_STRATEGY_TOML.splitlines() if x.startswith("id"))
    return line.split("=")[1].strip().strip('"')


def test_a_config_naming_a_strategy_as_a_bot_is_refused(tmp_path: Path, data_dir: Path, capsys):
    assert _strategy_id() == "ma_cross"
    data = write_slice(data_dir, tmp_path / "btc.csv", 50)
    cfg = write_paper_toml(tmp_path, data, extra=BOT)
    code = main(["config", "check", str(cfg)])
    err = capsys.readouterr()
    said = err.err + err.out
    assert code == 2, said
    assert "'ma_cross' names both a strategy and a bot" in said and "Traceback" not in said


def test_bot_add_refuses_the_name_of_a_config_strategy(tmp_path: Path, data_dir: Path, capsys):
    data = write_slice(data_dir, tmp_path / "btc.csv", 50)
    cfg = write_paper_toml(tmp_path, data)
    code = main(["bot", "add", "ma_cross", *LIMITS, "--config", str(cfg)])
    err = capsys.readouterr().err
    assert code == 2 and "ma_cross" in err and "strategy" in err, err
    assert main(["bot", "list", "--json", "--config", str(cfg)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "[]"


def test_a_run_whose_strategy_has_a_registered_bots_name_stops_before_trading(
    tmp_path: Path, data_dir: Path, capsys
):
    data = write_slice(data_dir, tmp_path / "btc.csv", 200)
    cfg = write_paper_toml(tmp_path, data)
    # the bot registered beside another config on the same database (as `bot add` does)
    db = Database(f"sqlite:///{tmp_path / 'tg.db'}")
    db.migrate()
    BotRows(db).save_bot("ma_cross", True, BotSpec.parse("ma_cross", dict(SPEC)).to_doc(), 0)
    code = main(["run", "--until-end", "--config", str(cfg)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "'ma_cross' names both a strategy and a bot" in err and "Traceback" not in err
