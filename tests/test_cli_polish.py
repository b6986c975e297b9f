"""The command line reads well: help everywhere, 80-column tables, quiet pipes, honest status."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from node_support import write_slice
from pty_support import run_in_pty
from test_cli_terminal import _short_config
from tradeguard.cli import build_parser, main

EXE = Path(sys.executable).parent / "tradeguard"


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = []
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for action in subs:
        for name, sp in action.choices.items():
            found += _commands(sp, (*path, name))
    return found or [(path, parser)]


def test_every_option_has_help_and_every_command_an_example():
    missing = []
    for path, parser in _commands(build_parser()):
        for action in parser._actions:
            if action.help is None and not isinstance(action, argparse._HelpAction):
                missing.append(f"{' '.join(path)} {action.option_strings or action.dest}")
        if "example: tradeguard" not in (parser.epilog or "") + (parser.description or ""):
            missing.append(f"{' '.join(path)}: no example")
    assert missing == []


def test_durations_are_spelt_duration_everywhere(capsys):
    for argv in (["run", "--help"], ["arb", "run", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        assert "--duration S" in capsys.readouterr().out


def test_keys_help_prints_no_markdown_fences(capsys):
    with pytest.raises(SystemExit):
        main(["keys", "--help"])
    out = capsys.readouterr().out
    assert "```" not in out and "tradeguard keys add binance-main --venue binance" in out


def _ran(tmp_path: Path, data_dir: Path, rows: int = 3000) -> str:
    cfg = str(_short_config(tmp_path, write_slice(data_dir, tmp_path / "btc.csv", rows)))
    assert main(["run", "--config", cfg, "--until-end", "--json"]) == 0
    return cfg


def test_output_into_a_closed_pipe_ends_quietly(tmp_path, data_dir, capsys):
    cfg = _ran(tmp_path, data_dir)
    proc = subprocess.Popen(
        [str(EXE), "orders", "--config", cfg, "--limit", "500"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before the first line, as with `| head -0`
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert b"BrokenPipeError" not in err and b"Traceback" not in err and err == b""


def test_orders_table_fits_80_columns_and_says_what_page_it_shows(tmp_path, data_dir, capsys):
    cfg = _ran(tmp_path, data_dir)
    everything = ["orders", "--config", cfg, "--json", "--limit", "999"]
    orders = json.loads(_stdout(capsys, everything))
    assert len(orders) > 10
    code, screen = run_in_pty(
        [str(EXE), "orders", "--config", cfg, "--limit", "10"], cwd=tmp_path, columns=80
    )
    assert code == 0, screen
    lines = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen).replace("\r", "").splitlines()
    assert f"Orders (10 of {len(orders)})" in screen
    assert max(len(line) for line in lines) <= 80
    for order in orders[:10]:  # one whole line per order: id, symbol and status unclipped
        row = [line for line in lines if line.startswith(order["client_order_id"] + " ")]
        assert len(row) == 1, (order["client_order_id"], screen)
        assert order["symbol"] in row[0] and order["status"] in row[0] and "…" not in row[0]


def _stdout(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 0
    return capsys.readouterr().out


def test_status_drops_the_halt_reason_once_trading_resumed(tmp_path, data_dir, capsys):
    cfg = _ran(tmp_path, data_dir, rows=100)
    assert main(["kill", "--config", cfg, "--reason", "fat finger drill", "--json"]) == 0
    assert "fat finger drill" in _stdout(capsys, ["status", "--config", cfg])
    assert main(["resume", "--config", cfg, "--reason", "drill over", "--yes"]) == 0
    status = _stdout(capsys, ["status", "--config", cfg])
    assert "Trading state: ACTIVE" in status and "fat finger drill" not in status
    doc = json.loads(_stdout(capsys, ["status", "--config", cfg, "--json"]))
    assert doc["trading_state"] == "ACTIVE" and doc["halt_reason"] is None


def test_resume_needs_no_vault(tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "live.toml"
    cfg.write_text(
        f"""
mode = "sandbox"
[node]
database_url = "sqlite:///{tmp_path / "tg.db"}"
[[venues]]
name = "ex"
kind = "ccxt"
exchange = "binance"
credentials = "not-in-any-vault"
rest_url = "http://127.0.0.1:9"
"""
    )
    from tradeguard.storage.db import Database

    Database(f"sqlite:///{tmp_path / 'tg.db'}").migrate()  # the node's database, as a run left it
    monkeypatch.setenv("TG_VAULT_PATH", str(tmp_path / "no-such-vault.json"))
    monkeypatch.delenv("TG_MASTER_PASSPHRASE", raising=False)
    argv = ["resume", "--config", str(cfg), "--reason", "checked", "--yes", "--json"]
    assert json.loads(_stdout(capsys, argv))["state"] == "ACTIVE"


def test_btc_quoted_prices_and_pnl_keep_their_digits_within_80_columns(tmp_path, data_dir):
    """An ADA/BTC price of 0.00005791 BTC is shown so, never as 0.00, in `run` and `positions`."""
    root = Path(__file__).resolve().parents[1]
    cfg = str(root / "examples" / "token_unlock.toml")  # BTC-quoted pairs, BTC valuation
    env = {**os.environ, "TG_DATA_DIR": str(data_dir)}
    screens = []
    for argv in (["run", "--until-end"], ["positions", "--all", "--limit", "20"]):
        code, screen = run_in_pty(
            [str(EXE), *argv, "--config", cfg, "--db", f"sqlite:///{tmp_path / 'tu.db'}"],
            cwd=tmp_path, env=env, columns=80,
        )  # fmt: skip
        assert code == 0, screen
        screens.append(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen).replace("\r", ""))
    rows = json.loads(
        subprocess.run(
            [str(EXE), "positions", "--all", "--json", "--config", cfg,
             "--db", f"sqlite:///{tmp_path / 'tu.db'}"],
            env=env, capture_output=True, text=True, check=True, cwd=tmp_path,
        ).stdout
    )  # fmt: skip
    closed = next(r for r in rows if r["symbol"] == "ADA/BTC" and r["status"] == "closed")
    from decimal import Decimal

    entry = format(Decimal(closed["entry_price"]).normalize(), "f")  # 0.0000534: on a 1e-8 tick
    for screen in screens:
        lines = [line for line in screen.splitlines() if "replay" not in line]
        assert max(len(line) for line in lines) <= 80, screen
        assert "…" not in screen and " 0.00 " not in screen, screen
    ada = [line for line in screens[1].splitlines() if line.startswith("ADA/BTC")]
    assert len(entry) > 6 and any(f" {entry} " in line for line in ada), (entry, screens[1])
    assert re.search(r"Fees paid\s+│ 0\.00\d{3}", screens[0]), screens[0]


def test_http_client_request_lines_stay_out_of_the_info_log(capsys):
    """`pm arb run` polls both venues several times a second; httpx's per-request INFO lines
    would bury the node's own messages (they are kept at DEBUG)."""
    import logging

    from tradeguard.logsetup import setup_logging

    try:
        setup_logging("text", "INFO")
        logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1:8767/markets")
        logging.getLogger("tradeguard.node").info("the node's own line")
        err = capsys.readouterr().err
        assert "the node's own line" in err and "HTTP Request" not in err
        setup_logging("text", "DEBUG")
        logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1:8767/book")
        assert "HTTP Request: GET" in capsys.readouterr().err
    finally:
        setup_logging("text", "WARNING")


def test_orders_show_a_resting_stop_at_its_trigger_and_json_has_the_oco_fields(tmp_path, capsys):
    from decimal import Decimal

    from tradeguard.model.enums import OrderStatus, OrderType, Side
    from tradeguard.model.order import Order
    from tradeguard.storage.db import Database
    from tradeguard.storage.repository import Storage

    url = f"sqlite:///{tmp_path / 'j.db'}"
    db = Database(url)
    db.migrate()
    legs = [("tg-sl", OrderType.STOP_LOSS, "49100.01"), ("tg-tp", OrderType.TAKE_PROFIT, "52000")]
    for coid, kind, level in legs:
        Storage(db).upsert_order(Order(
            coid, "alpha", "binance", "BTC/USDT", Side.SELL, kind, Decimal("0.00077"),
            status=OrderStatus.ACCEPTED, reduce_only=True, trigger_price=Decimal(level),
            oco_group="oco-1", created_ts=1, updated_ts=1,
        ))  # fmt: skip
    doc = {o["client_order_id"]: o for o in json.loads(_stdout(capsys, ["orders", "--db", url,
                                                                        "--json"]))}  # fmt: skip
    assert doc["tg-sl"]["trigger_price"] == "49100.01" and doc["tg-sl"]["price"] is None
    assert doc["tg-sl"]["oco_group"] == doc["tg-tp"]["oco_group"] == "oco-1"
    assert doc["tg-tp"]["reduce_only"] is True and doc["tg-tp"]["type"] == "take_profit"
    table = _stdout(capsys, ["orders", "--db", url])
    row = next(line for line in table.splitlines() if line.startswith("tg-sl "))
    assert "@49100.01" in row and "market" not in row


@pytest.mark.parametrize(
    "argv",
    [
        ["resume", "--reason", "", "--yes"],  # was a ValueError traceback, exit 1
        ["resume", "--reason", "   ", "--yes"],
        ["resume", "--reason", "ok", "--by", "", "--yes"],
        ["resume", "--reason", "r" * 201, "--yes"],
        ["kill", "--reason", ""],  # was recorded as the kill's reason
        ["kill", "--reason", "y" * 100_000],  # was stored and printed whole
    ],
    ids=["resume-empty", "resume-blank", "resume-no-by", "resume-long", "kill-empty", "kill-huge"],
)
def test_an_empty_or_huge_kill_or_resume_reason_is_a_usage_error(tmp_path, data_dir, capsys, argv):
    cfg = _ran(tmp_path, data_dir, rows=100)
    assert main(["kill", "--config", cfg, "--reason", "drill", "--json"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as ended:  # argparse's usage error
        main([*argv, "--config", cfg])
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert "must hold 1 to 200 characters" in err and "Traceback" not in err
    doc = json.loads(_stdout(capsys, ["status", "--config", cfg, "--json"]))
    assert doc["trading_state"] == "HALTED" and "drill" in doc["halt_reason"]


def test_resume_without_a_terminal_or_yes_is_a_usage_error(tmp_path, data_dir):
    cfg = _ran(tmp_path, data_dir, rows=100)
    assert main(["kill", "--config", cfg, "--reason", "drill", "--json"]) == 0
    done = subprocess.run(
        [str(Path(sys.executable).parent / "tradeguard"), "resume", "--config", cfg,
         "--reason", "over"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "pass --yes" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        # the kill file holds one line a request: a second line made a halt a flatten
        (["kill", "--reason", "keep positions\nflatten: now"], "one line"),
        (["kill", "--reason", "bad\udcffbyte"], "not UTF-8"),  # a byte 0xff in the argument
        (["resume", "--reason", "ok", "--by", "a\x1b[2Jb", "--yes"], "one line"),
    ],
    ids=["kill-newline", "kill-not-utf8", "resume-escape"],
)
def test_a_reason_of_several_lines_or_not_utf8_is_a_usage_error(
    tmp_path, data_dir, capsys, argv, why
):
    """A --reason holding bytes that are not UTF-8 ended a kill of a running node in a
    traceback after it had created the kill file empty (a halt, never the flatten asked)."""
    cfg = _ran(tmp_path, data_dir, rows=100)
    assert main(["kill", "--config", cfg, "--reason", "drill", "--json"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as ended:
        main([*argv, "--config", cfg])
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert why in err and "Traceback" not in err, err
    assert "--reason" in err or "--by" in err, err
    doc = json.loads(_stdout(capsys, ["status", "--config", cfg, "--json"]))
    assert doc["trading_state"] == "HALTED" and "drill" in doc["halt_reason"]
