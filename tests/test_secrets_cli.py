"""`tradeguard keys ...` end to end, in process, with injected passphrases and stdin."""

from __future__ import annotations

import argparse
import io
import json
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tradeguard.cli.keys import KeysIO, add_keys_parser, run_keys
from tradeguard.secrets import Vault, find_secrets

PASS = "correct horse battery staple"
NEW_PASS = "another long master passphrase"
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
ALL_SECRETS = [API_KEY, SECRET, PASS, NEW_PASS]


@dataclass
class Prompts:
    """Answer prompts by the first word of their label; record what was asked."""

    answers: dict[str, str]
    asked: list[str] = field(default_factory=list)

    def __call__(self, label: str) -> str:
        self.asked.append(label)
        for start, answer in self.answers.items():
            if label.startswith(start):
                return answer
        raise AssertionError(f"unexpected prompt {label!r}")


@dataclass
class Run:
    code: int
    out: str
    err: str


def keys(
    vault: Path,
    *argv: str,
    env: dict[str, str] | None = None,
    stdin: str = "",
    prompt: Prompts | None = None,
) -> Run:
    out, err = io.StringIO(), io.StringIO()
    kio = KeysIO(
        env={"TG_MASTER_PASSPHRASE": PASS} if env is None else env,
        prompt=prompt or Prompts({}),
        stdin=io.StringIO(stdin),
        stdout=out,
        stderr=err,
    )
    code = run_keys(["keys", argv[0], "--vault", str(vault), *argv[1:]], kio)
    return Run(code, out.getvalue(), err.getvalue())


def assert_no_secret(runs: Iterable[Run]) -> None:
    for run in runs:
        assert find_secrets(run.out + run.err, ALL_SECRETS) == []


def add_binance(vault: Path) -> Run:
    body = json.dumps({"api_key": API_KEY, "secret": SECRET})
    return keys(vault, "add", "binance-main", "--venue", "binance", "--stdin", stdin=body)


def test_add_list_remove_rotate_end_to_end(tmp_path: Path) -> None:
    vault = tmp_path / "vault.json"

    added = add_binance(vault)
    listed = keys(vault, "list")
    as_json = keys(vault, "list", "--json")
    rotated = keys(
        vault,
        "rotate-master",
        env={"TG_MASTER_PASSPHRASE": PASS, "TG_NEW_MASTER_PASSPHRASE": NEW_PASS},
    )
    stale = keys(vault, "list")
    removed = keys(vault, "remove", "binance-main", env={"TG_MASTER_PASSPHRASE": NEW_PASS})
    empty = keys(vault, "list", env={"TG_MASTER_PASSPHRASE": NEW_PASS})

    assert (added.code, listed.code, as_json.code, rotated.code) == (0, 0, 0, 0)
    assert "stored binance-main (venue binance): api_key vmPU…8A" in added.out
    assert "binance-main  binance  vmPU…8A" in listed.out
    assert json.loads(as_json.out)[0]["api_key_masked"] == "vmPU…8A"
    assert "re-encrypted 1 entry" in rotated.out
    assert stale.code == 1 and "wrong master passphrase" in stale.err
    assert removed.code == 0 and "removed binance-main" in removed.out
    assert empty.code == 0 and "no entries" in empty.out
    assert stat.S_IMODE(vault.stat().st_mode) == 0o600
    assert find_secrets(vault.read_bytes(), ALL_SECRETS) == []
    assert_no_secret([added, listed, as_json, rotated, stale, removed, empty])


def test_add_prompts_for_passphrase_twice_and_for_each_field(tmp_path: Path) -> None:
    vault = tmp_path / "vault.json"
    prompts = Prompts(
        {
            "master passphrase": PASS,
            "repeat master passphrase": PASS,
            "api_key": API_KEY,
            "secret": SECRET,
            "passphrase": "okx-trading-pass",
        }
    )

    run = keys(
        vault,
        "add",
        "okx-main",
        "--venue",
        "okx",
        "--field",
        "api_key",
        "--field",
        "secret",
        "--field",
        "passphrase",
        env={},
        prompt=prompts,
    )

    assert run.code == 0, run.err
    assert "created vault" in run.out
    assert prompts.asked == [
        "master passphrase: ",
        "repeat master passphrase: ",
        "api_key for okx-main: ",
        "secret for okx-main: ",
        "passphrase for okx-main: ",
    ]
    opened = Vault(vault)
    opened.unlock(PASS)
    assert opened.get("okx-main").field("passphrase") == "okx-trading-pass"
    assert_no_secret([run])


def test_add_defaults_to_api_key_and_secret_prompts(tmp_path: Path) -> None:
    prompts = Prompts({"api_key": API_KEY, "secret": SECRET})

    run = keys(tmp_path / "v.json", "add", "b", "--venue", "binance", prompt=prompts)

    assert run.code == 0, run.err
    assert prompts.asked == ["api_key for b: ", "secret for b: "]


def test_secret_on_argv_is_refused_by_default(tmp_path: Path) -> None:
    vault = tmp_path / "vault.json"

    run = keys(vault, "add", "b", "--venue", "binance", "--field", f"secret={SECRET}")

    assert run.code == 2
    assert "shell history" in run.err and "--stdin" in run.err
    assert not vault.exists()
    assert_no_secret([run])


def test_stdin_lines_and_explicit_argv_opt_in_are_accepted(tmp_path: Path) -> None:
    vault = tmp_path / "vault.json"

    run = keys(
        vault,
        "add",
        "b",
        "--venue",
        "binance",
        "--stdin",
        "--allow-argv-secrets",
        "--field",
        "uid=12345678",
        stdin=f"api_key={API_KEY}\nsecret={SECRET}\n",
    )

    assert run.code == 0, run.err
    opened = Vault(vault)
    opened.unlock(PASS)
    creds = opened.get("b")
    assert (creds.field("api_key"), creds.field("uid")) == (API_KEY, "12345678")


def test_adding_the_same_entry_again_changes_nothing(tmp_path: Path) -> None:
    vault = tmp_path / "vault.json"
    add_binance(vault)
    before = vault.read_text()

    again = add_binance(vault)

    assert again.code == 0, again.err
    assert "already holds these credentials" in again.out
    assert vault.read_text() == before


def test_short_passphrase_is_refused_with_a_message(tmp_path: Path) -> None:
    run = keys(tmp_path / "v.json", "list", env={"TG_MASTER_PASSPHRASE": "short"})

    assert run.code == 2  # bad input: a usage error
    assert "must be at least 12" in run.err


def test_missing_vault_says_how_to_create_one(tmp_path: Path) -> None:
    run = keys(tmp_path / "absent.json", "list")

    assert run.code == 1
    assert "no vault at" in run.err and "keys add" in run.err


def test_remove_unknown_entry_names_known_ones(tmp_path: Path) -> None:
    vault = tmp_path / "vault.json"
    add_binance(vault)

    run = keys(vault, "remove", "kraken-main")

    assert run.code == 1
    assert "no entry 'kraken-main'" in run.err and "binance-main" in run.err


def test_vault_path_defaults_to_env_variable(tmp_path: Path) -> None:
    vault = tmp_path / "from-env.json"
    out = io.StringIO()
    kio = KeysIO(
        env={"TG_MASTER_PASSPHRASE": PASS, "TG_VAULT_PATH": str(vault)},
        prompt=Prompts({"api_key": API_KEY, "secret": SECRET}),
        stdout=out,
        stderr=io.StringIO(),
    )

    code = run_keys(["keys", "add", "b", "--venue", "binance"], kio)

    assert code == 0
    assert vault.exists()


def test_add_keys_parser_hooks_into_an_outer_parser(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="tradeguard")
    sub = parser.add_subparsers(dest="command")
    out = io.StringIO()
    add_keys_parser(sub, KeysIO(env={"TG_MASTER_PASSPHRASE": PASS}, stdout=out))
    add_binance(tmp_path / "v.json")

    args = parser.parse_args(["keys", "list", "--vault", str(tmp_path / "v.json"), "--json"])

    assert args.func(args) == 0
    assert [e["name"] for e in json.loads(out.getvalue())] == ["binance-main"]


def test_bare_keys_command_prints_usage(tmp_path: Path) -> None:
    err = io.StringIO()

    code = run_keys(["keys"], KeysIO(stderr=err))

    assert code == 2
    assert "rotate-master" in err.getvalue()


@pytest.mark.parametrize("bad", ["{not json", '{"api_key": 5}'])
def test_bad_stdin_is_refused_without_echoing_it(tmp_path: Path, bad: str) -> None:
    run = keys(tmp_path / "v.json", "add", "b", "--venue", "binance", "--stdin", stdin=bad)

    assert run.code == 2  # bad input, refused before any vault is opened
    assert "stdin" in run.err and bad not in run.err
