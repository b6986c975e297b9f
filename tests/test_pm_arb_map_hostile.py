"""A hostile or careless market map is refused when it loads, naming the pair, key and limit.

A pair id, event or reviewer goes into every record, event, log line and terminal table of the
pair; a wrong type must not pass for a review, and escape codes must never reach a terminal.
"""

from __future__ import annotations

import datetime as dt
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tradeguard.model.errors import ConfigError
from tradeguard.strategies.cross_venue.market_map import parse_market_map

NOW = 1_780_000_000_000  # 2026-05-28


def _entry() -> dict:
    day = dt.date(2026, 12, 1)
    side = {"resolution_source": "src", "resolves_at": day, "void_rule": "50-50"}
    return {
        "id": "p", "event": "ev", "reviewed_by": "ana",
        "reviewed_at": dt.date(2026, 1, 1), "review_expires_at": dt.date(2027, 1, 1),
        "polymarket": {**side, "market": "m", "yes_token": "1", "no_token": "2"},
        "kalshi": {**side, "ticker": "K"},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("id", "fed\x1b[31m\nok", r"pairs\[0\]\.id = 'fed\\x1b\[31m\\nok': 1-100 letters"),
        ("id", "A" * 101, r"pairs\[0\]\.id = 'A{40}'\.\.\. \(101 characters\): 1-100"),
        ("id", "fé", r"pairs\[0\]\.id = 'fé': 1-100 letters, digits"),
        ("event", "ev ent", r"\(p\)\.event = 'ev ent': 1-100 letters"),
        ("event", 5, r"\(p\)\.event = 5: 1-100 letters"),
        ("reviewed_by", False, r"\(p\)\.reviewed_by = False: a name of 1-100 printable"),
        ("reviewed_by", {}, r"\(p\)\.reviewed_by = \{\}: a name of 1-100 printable"),
        ("reviewed_by", "ana\u200b", r"\(p\)\.reviewed_by = 'ana\\u200b': a name of 1-100"),
        ("close_tolerance_s", True, r"\(p\)\.close_tolerance_s = True: must be an integer"),
    ],
)  # fmt: skip
def test_a_pair_key_of_the_wrong_type_or_text_is_refused_by_name(key, value, message) -> None:
    entry = _entry()
    entry[key] = value
    with pytest.raises(ConfigError, match=message):
        parse_market_map({"pairs": [entry]})


@pytest.mark.parametrize(
    ("side", "key", "value", "message"),
    [
        ("polymarket", "resolution_source", "x" * 501,
         r"polymarket\.resolution_source = 'x{40}'\.\.\. \(501 characters\): 1-500 printable"),
        ("kalshi", "resolution_source", "NOAA\x1b[2J",
         r"kalshi\.resolution_source = 'NOAA\\x1b\[2J': 1-500 printable"),
        ("polymarket", "yes_token", "\uff13\uff13913",
         r"polymarket\.yes_token = '\uff13\uff13913': 1-100 ASCII letters and digits"),
        ("polymarket", "no_token", "2 ", None),  # stripped: fine
    ],
)  # fmt: skip
def test_a_side_key_of_the_wrong_text_is_refused_by_name(side, key, value, message) -> None:
    entry = _entry()
    entry[side][key] = value
    if message is None:
        parse_market_map({"pairs": [entry]})
        return
    with pytest.raises(ConfigError, match=message):
        parse_market_map({"pairs": [entry]})


def test_a_reviewed_pair_without_an_expiry_says_so_rather_than_expired_in_1970() -> None:
    entry = _entry()
    del entry["review_expires_at"]
    why = parse_market_map({"pairs": [entry]}).pairs["p"].refusal(NOW)
    assert "1970" not in why
    assert "no review_expires_at" in why


def test_map_check_refuses_an_escape_code_in_a_pair_id_without_drawing_it(tmp_path) -> None:
    base = (Path(__file__).resolve().parents[1] / "examples" / "pm_map.toml").read_text()
    hostile = base.replace('id = "fed-dec-above-4"', 'id = "fed\\u001b[2J\\nFAKE ok line"')
    (tmp_path / "map.toml").write_text(hostile)
    (tmp_path / "pm.toml").write_text(
        'mode = "sandbox"\n[[venues]]\nname = "k"\nkind = "kalshi"\ndata_only = true\n'
        'rest_url = "http://127.0.0.1:9/trade-api/v2"\n[[venues]]\nname = "p"\n'
        'kind = "polymarket"\ndata_only = true\nrest_url = "http://127.0.0.1:9"\n'
    )
    cmd = [sys.executable, "-m", "tradeguard.cli", "pm", "map", "check",
           str(tmp_path / "map.toml"), "--config", str(tmp_path / "pm.toml")]  # fmt: skip
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.chdir(tmp_path)
        os.execv(sys.executable, cmd)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    text = out.decode()
    assert os.waitstatus_to_exitcode(status) == 2, text
    assert "\x1b" not in text, text  # shown escaped, never drawn
    assert text.strip().count("\n") == 0, text  # one line: no "FAKE ok line" of its own
    assert "pairs[0].id = " in text and "1-100 letters" in text
    piped = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert piped.returncode == 2 and "\x1b" not in piped.stderr + piped.stdout


@pytest.mark.parametrize(
    ("where", "key"),
    [
        ((), "id"), ((), "event"), ((), "reviewed_by"), ((), "close_tolerance_s"),
        ((), "orientation"), ((), "reviewed_at"), (("polymarket",), "yes_token"),
        (("polymarket",), "resolution_source"), (("polymarket",), "void_rule"),
        (("kalshi",), "ticker"),
    ],
)  # fmt: skip
def test_a_huge_value_of_another_type_is_named_in_a_short_line(where, key) -> None:
    # 200 KB written as an array or a table, not a string: the error stays one short line
    for value in (["x" * 1000] * 200, {"k": "x" * 200_000}):
        entry = _entry()
        target = entry[where[0]] if where else entry
        target[key] = value
        with pytest.raises(ConfigError, match=key) as err:
            parse_market_map({"pairs": [entry]})
        assert len(str(err.value)) < 400 and "\n" not in str(err.value)
