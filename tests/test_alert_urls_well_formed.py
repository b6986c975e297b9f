"""A webhook or dead-man ping URL that cannot be sent to is refused by the config check, exit 2,
naming the key and never the value (a credential): `http://[::1` passed `config check` as valid
and then stopped `run` with a ValueError traceback when the webhook channel was built."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_support import run_cli
from tradeguard.config import load_config
from tradeguard.model.errors import ConfigError

BAD = [
    "http://[::1",
    "https://[::1/hook",
    "http://hooks.example.com:x/T0/B0/secretpart",
    "http://hooks.example.com:99999/secretpart",
    "http://hooks.example.com:0/secretpart",
    "https://",
    "http:///secretpart",
    "https://hooks.example.com/secret part",
    "https://hooks.example.com/secret\x7fpart",
    "https://hooks.example.com/secret\u202epart",
]
KEYS = [
    ("[alerts.webhook]\nurl", "alerts.webhook.url"),
    ("[alerts]\nheartbeat_url", "alerts.heartbeat_url"),
]


def _toml(key: str, url: str) -> str:
    return f'{key} = {json.dumps(url)}\n[node]\ndatabase_url = "sqlite:///x.db"\n'


@pytest.mark.parametrize(("key", "field"), KEYS)
@pytest.mark.parametrize("url", BAD)
def test_a_url_that_cannot_be_sent_to_is_refused_naming_the_key_not_the_value(
    tmp_path, key, field, url
):
    path = tmp_path / "c.toml"
    path.write_text(_toml(key, url), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert f"{field} is not a well-formed URL" in text, text
    assert "secret" not in text.replace("the value is hidden", "") and "[::1" not in text


@pytest.mark.parametrize(("key", "field"), KEYS)
@pytest.mark.parametrize(
    "url",
    ["https://hooks.slack.com/services/T0/B0/x", "http://127.0.0.1:8080/ping", "http://[::1]:9/p"],
)
def test_a_good_url_still_loads(tmp_path, key, field, url):
    path = tmp_path / "c.toml"
    path.write_text(_toml(key, url), encoding="utf-8")
    load_config(path)


def test_config_check_exits_2_in_one_line(tmp_path, monkeypatch, capsys):
    path = tmp_path / "c.toml"
    path.write_text(_toml(KEYS[0][0], "http://[::1"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    run = run_cli(capsys, "config", "check", str(path))
    assert run.returncode == 2, run.stderr
    assert "alerts.webhook.url is not a well-formed URL" in run.stderr
    assert "Traceback" not in run.stderr and "[::1" not in run.stderr
    assert not Path(tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    "base", ["http://[::1", "https://api.telegram.org:x", "https://api.telegram.org ", "ftp://h"]
)
def test_a_telegram_api_base_that_cannot_be_sent_to_is_refused(tmp_path, base):
    path = tmp_path / "c.toml"
    path.write_text(
        f'[alerts.telegram]\nbot_token = "123:abc"\nchat_id = "1"\napi_base = {json.dumps(base)}\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"alerts\.telegram\.api_base=.* must be an http"):
        load_config(path)
