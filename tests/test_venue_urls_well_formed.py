"""A venue's `rest_url` / `ws_url` that cannot be connected to is refused when the config loads
(exit 2 from `config check`, the key named): 'http://[::1' was called valid and then stopped
`run` with a ValueError traceback from the HTTP client, and 'ftp://...' or a trailing space
reached the exchange client."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_support import run_cli
from tradeguard.config import load_config
from tradeguard.model.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = (ROOT / "examples" / "bots_sandbox.toml").read_text(encoding="utf-8")
GOOD = 'rest_url = "http://127.0.0.1:8765"'
WS = 'ws_url = "ws://127.0.0.1:8765/ws"'


def _config(tmp_path: Path, line: str) -> Path:
    assert GOOD in EXAMPLE and WS in EXAMPLE
    path = tmp_path / "c.toml"
    text = EXAMPLE.replace(WS, line) if line.startswith("ws_url") else EXAMPLE.replace(GOOD, line)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "line",
    [
        'rest_url = "http://[::1"',
        'rest_url = "http://127.0.0.1:x"',
        'rest_url = "http://127.0.0.1:99999"',
        'rest_url = "http://127.0.0.1:0"',
        'rest_url = "ftp://127.0.0.1:8765"',
        'rest_url = "http://127.0.0.1:8765 "',
        'rest_url = "http://127.0.0.1:8765/\\u001b[2J"',
        'rest_url = "127.0.0.1:8765"',
        'rest_url = "http://"',
        f'rest_url = "http://127.0.0.1:8765/{"a" * 600}"',
        'ws_url = "ws://[::1/ws"',
    ],
)
def test_a_url_that_cannot_be_connected_to_is_refused_naming_the_key(tmp_path, line):
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, line))
    text = str(caught.value)
    key = "ws_url" if "ws_url" in line else "rest_url"
    assert f"venues.0.{key}" in text and "not a URL to connect to" in text, text
    assert "\x1b" not in text


@pytest.mark.parametrize(
    "line",
    [GOOD, 'rest_url = "https://[::1]:8765/api"', 'rest_url = ""', 'ws_url = "wss://localhost/ws"'],
)
def test_good_urls_still_load(tmp_path, line):
    load_config(_config(tmp_path, line))


def test_config_check_exits_2_without_a_traceback(tmp_path, monkeypatch, capsys):
    path = _config(tmp_path, 'rest_url = "http://[::1"')
    monkeypatch.chdir(tmp_path)
    run = run_cli(capsys, "config", "check", str(path))
    assert run.returncode == 2, run.stderr
    assert "venues.0.rest_url" in run.stderr and "Traceback" not in run.stderr, run.stderr


PM_ARB = (ROOT / "examples" / "pm_arb_sandbox.toml").read_text(encoding="utf-8")
KALSHI = 'rest_url = "http://127.0.0.1:8766/trade-api/v2"'


@pytest.mark.parametrize("url", ["http://127.0.0.1:8766", "http://127.0.0.1:8766/trade-api/v1"])
def test_a_kalshi_rest_url_without_the_api_prefix_is_refused_at_load(
    tmp_path, url, monkeypatch, capsys
):
    # It passed config check and stopped `run` with a ValueError traceback from the client.
    assert KALSHI in PM_ARB
    path = tmp_path / "c.toml"
    path.write_text(PM_ARB.replace(KALSHI, f'rest_url = "{url}"'), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    run = run_cli(capsys, "config", "check", str(path))
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert f"venues.0.rest_url = '{url}'" in run.stderr, run.stderr
    assert "kalshi venue's REST URL ends with /trade-api/v2" in run.stderr, run.stderr


def test_a_kalshi_rest_url_with_the_prefix_and_a_slash_still_loads(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(PM_ARB.replace(KALSHI, KALSHI[:-1] + '/"'), encoding="utf-8")
    (tmp_path / "pm_map.toml").write_text(
        (ROOT / "examples" / "pm_map.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    load_config(path)
