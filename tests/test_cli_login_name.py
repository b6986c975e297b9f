"""Who asked, when `--by` is not given, is the login name (LOGNAME, USER): any text the
environment holds. It is stored, audited, logged and shown as `--by` is, so it holds to the
same rule: a control character, line separator or bidi control is kept written as its escape
(a login name of `ops<ESC>[2J<LF>forged` was stored as sent, and redrew the terminal of
whoever read the state)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from cli_support import run_cli

NAME = "ops\x1b[2J\nforged\u202e"
SHOWN = "ops\\x1b[2J\\nforged\\u202e"


COMMANDS = [["kill", "--reason", "drill"], ["strategy", "pause", "ma_cross"]]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_login_name_with_control_characters_is_recorded_escaped(
    tmp_path, capsys, monkeypatch, command
):
    db = f"sqlite:///{tmp_path / 'tg.db'}"
    add = ["bot", "add", "alpha", "--max-order-usd", "50", "--max-position-usd", "100"]
    assert run_cli(capsys, *add, "--daily-loss-usd", "20", "--db", db).returncode == 0
    monkeypatch.setenv("LOGNAME", NAME)
    extra = ["--reason", "drill"] if command[0] == "strategy" else []
    done = run_cli(capsys, *command, *extra, "--db", db)
    assert done.returncode == 0, done
    with sqlite3.connect(tmp_path / "tg.db") as conn:
        rows = [json.loads(d) for (d,) in conn.execute("SELECT data FROM events")]
    found = [r["by"] for r in rows if "by" in r]
    assert found and set(found) == {SHOWN}, rows
