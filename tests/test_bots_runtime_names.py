"""A bot added while a node runs (`bot add` with another config or `--db`) may not take the id of
a strategy that node runs: the CLI refuses it, and the node refuses to trade as it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from bots_support import SYMBOL
from node_support import MA_STRATEGY_TOML, write_paper_toml, write_slice
from tradeguard.api.bot_desk import BotDesk
from tradeguard.bots.spec import BotError, BotSpec
from tradeguard.cli.main import main
from tradeguard.config import load_config
from tradeguard.node import TradingNode
from tradeguard.storage.bot_rows import BotRows
from tradeguard.storage.db import Database

KILLED_CHILD = Path(__file__).with_name("node_killed_child.py")
LIMITS = ["--max-order-usd", "50", "--max-position-usd", "100", "--daily-loss-usd", "20"]
SPEC = {"max_order_usd": "50", "max_position_usd": "100", "daily_loss_usd": "20"}


def _node(tmp_path: Path, data_dir: Path) -> tuple[TradingNode, str]:
    data = write_slice(data_dir, tmp_path / "btc.csv", 60)
    # a strategy id the built-in config (what `bot add --db` reads) does not have
    strategies = MA_STRATEGY_TOML.replace('id = "ma_cross"', 'id = "trend"')
    cfg = load_config(write_paper_toml(tmp_path, data, strategies=strategies))
    return TradingNode(cfg), cfg.node.database_url


def test_bot_add_beside_a_running_node_refuses_its_strategy_ids(
    tmp_path: Path, data_dir: Path, capsys
):
    node, db = _node(tmp_path, data_dir)
    try:
        code = main(["bot", "add", "trend", *LIMITS, "--db", db])
        err = capsys.readouterr().err
        assert code == 2, err
        assert "runs a strategy with id 'trend'" in err and "Traceback" not in err
        assert [b.name for b in BotRows(node.db).bots()] == []
        assert main(["bot", "add", "other", *LIMITS, "--db", db]) == 0
    finally:
        node.close()
    # the node is gone: the name is free (its next start refuses it while the config has it)
    assert main(["bot", "add", "trend", *LIMITS, "--db", db]) == 0


def test_a_running_node_refuses_to_trade_as_a_bot_named_like_its_strategy(
    tmp_path: Path, data_dir: Path
):
    node, _ = _node(tmp_path, data_dir)
    try:
        # registered behind the CLI's back (an older tradeguard, a hand-made row)
        spec = BotSpec.parse("trend", {**SPEC, "require_confirmation": False})
        BotRows(node.db).save_bot("trend", True, spec.to_doc(), 0)
        desk = BotDesk.for_node(node)
        try:
            desk.validate("trend", {"symbol": SYMBOL, "side": "buy"})
        except BotError as exc:
            assert "'trend' names both a strategy and a bot" in str(exc)
        else:
            raise AssertionError("a bot named as a running strategy was not refused")
    finally:
        node.close()


def test_bot_add_after_a_killed_node_takes_the_name(tmp_path: Path, data_dir: Path, capsys):
    data = write_slice(data_dir, tmp_path / "btc.csv", 60)
    strategies = MA_STRATEGY_TOML.replace('id = "ma_cross"', 'id = "trend"')
    path = write_paper_toml(tmp_path, data, strategies=strategies)
    db = load_config(path).node.database_url
    child = subprocess.run([sys.executable, str(KILLED_CHILD), str(path)], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    # no node runs on the database: what the killed one stored does not hold the name
    code = main(["bot", "add", "trend", *LIMITS, "--db", db])
    assert code == 0, capsys.readouterr().err
    assert [b.name for b in BotRows(Database(db)).bots()] == ["trend"]
