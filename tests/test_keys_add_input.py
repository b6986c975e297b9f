"""`keys add` judges what it was given before it asks for a passphrase or makes a vault file.

A new user typing the README's commands in a terminal: a bad entry name, a malformed stdin or a
value holding an invisible character is a usage error (exit 2) naming the field, and it leaves no
vault behind that was created for nothing with a master passphrase typed twice.
"""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from pty_support import run_in_pty
from tradeguard.cli.keys import KeysIO, run_keys
from tradeguard.secrets import Vault, VaultError

PASS = "correct horse battery staple"
EXE = Path(sys.executable).parent / "tradeguard"


def _keys(tmp_path: Path, argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    prompts: list[str] = []

    def prompt(text: str) -> str:
        prompts.append(text)
        return PASS

    keys_io = KeysIO(
        env={"TG_VAULT_PATH": str(tmp_path / "vault.json")},
        prompt=prompt,
        stdin=io.StringIO(stdin),
        stdout=out,
        stderr=err,
    )
    code = run_keys(["keys", *argv], keys_io)
    return code, out.getvalue(), err.getvalue() + "".join(f"[prompt {p}]" for p in prompts)


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["add", "bad name", "--venue", "binance", "--stdin"], '{"api_key": "a", "secret": "b"}',
         "entry name 'bad name' is invalid"),
        (["add", "bad\x1b[2J", "--venue", "binance"], "", "entry name 'bad\\x1b[2J' is invalid"),
        (["add", "main", "--venue", "bin\nance", "--stdin"], '{"api_key": "a", "secret": "b"}',
         "venue 'bin\\nance' is invalid"),
        (["add", "main", "--venue", "binance", "--stdin"], "nonsense",
         "stdin line 1 has no '='"),
        (["add", "main", "--venue", "binance", "--stdin"], '{"api_key": 5}',
         "stdin JSON must be an object of field name to string value"),
        (["add", "main", "--venue", "binance", "--stdin"], '{"api_key": "a", "secret": ',
         "stdin is not valid JSON"),
        (["add", "main", "--venue", "binance", "--stdin"], '{"api_key": "", "secret": "b"}',
         "field 'api_key' of entry 'main' is empty"),
        (["add", "main", "--venue", "binance", "--stdin", "--field", "passphrase"],
         '{"api_key": "a", "secret": "b"}', "stdin has no value for field(s) passphrase"),
        (["add", "main", "--venue", "binance", "--stdin"], '{"API-KEY": "a"}',
         "field name 'API-KEY' of entry 'main' is invalid"),
    ],
)  # fmt: skip
def test_bad_input_is_exit_2_before_any_prompt_and_makes_no_vault(tmp_path, argv, stdin, message):
    code, out, err = _keys(tmp_path, argv, stdin)
    assert code == 2, (out, err)
    assert message in err, err
    assert "[prompt" not in err, "a passphrase was asked for input that was refused anyway"
    assert not (tmp_path / "vault.json").exists()
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "value",
    ["ab\u200bcd", "\ufeffabcd", "abcd\u202e", "ab\u2066cd"],
    ids=["zwsp", "bom", "rlo", "lri"],
)
def test_a_value_with_an_invisible_format_character_is_refused_naming_the_field(tmp_path, value):
    """A key pasted from a web page with a zero-width space in it fails at the exchange as
    'invalid API key' with nothing to see; a bidi override in it reorders what a terminal shows."""
    stdin = json.dumps({"api_key": value, "secret": "s3cr3t-value"})
    code, out, err = _keys(tmp_path, ["add", "main", "--venue", "binance", "--stdin"], stdin)
    assert code == 2, (out, err)
    assert "field 'api_key' of entry 'main' holds an invisible format character" in err, err
    assert value not in err and "s3cr3t-value" not in err + out
    assert not (tmp_path / "vault.json").exists()
    vault = Vault(tmp_path / "v2.json")  # the library refuses it too, whoever calls it
    vault.create(PASS)
    with pytest.raises(VaultError) as caught:
        vault.add("main", "binance", {"api_key": value, "secret": "x"})
    assert "invisible format character" in str(caught.value)
    assert vault.names() == []


def test_good_input_still_prompts_once_per_secret_and_stores(tmp_path):
    code, out, err = _keys(
        tmp_path, ["add", "main", "--venue", "binance", "--stdin"], "api_key=abc\nsecret=def\n"
    )
    assert code == 0, (out, err)
    assert "stored main (venue binance)" in out
    vault = Vault(tmp_path / "vault.json")
    vault.unlock(PASS)
    assert vault.get("main").field("secret") == "def"


def test_in_a_terminal_a_bad_name_is_refused_before_the_passphrase_prompt(tmp_path):
    """The README's command with a typo in the name, typed in a real terminal with no vault yet:
    one line and exit 2, no 'master passphrase:' prompt and no vault file."""
    env = {k: v for k, v in os.environ.items() if k != "TG_MASTER_PASSPHRASE"}
    code, screen = run_in_pty(
        [str(EXE), "keys", "add", "sandbox main", "--venue", "binance"],
        cwd=tmp_path,
        env=env,
        timeout_s=120,
        answer=[("master passphrase: ", PASS + "\r"), ("repeat master passphrase: ", PASS + "\r")],
    )
    assert code == 2, screen
    assert "error: entry name 'sandbox main' is invalid" in screen, screen
    assert "master passphrase" not in screen, screen
    assert not (tmp_path / "tradeguard-vault.json").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["add", "main", "--venue", "binance", "--field", "API-KEY"],
         "field name 'API-KEY' of entry 'main' is invalid"),
        (["add", "main", "--venue", "binance", "--field", "api_key=a\u200bb",
          "--allow-argv-secrets"], "field 'api_key' of entry 'main' holds an invisible format"),
        (["add", "main", "--venue", "binance", "--field", "api_key=",
          "--allow-argv-secrets"], "field 'api_key' of entry 'main' is empty"),
    ],
)  # fmt: skip
def test_a_field_to_prompt_for_is_checked_before_the_passphrase(tmp_path, argv, message):
    code, _out, err = _keys(tmp_path, argv)
    assert code == 2, err
    assert message in err, err
    assert "[prompt" not in err, err  # no passphrase typed twice for nothing
    assert not (tmp_path / "vault.json").exists()


@pytest.mark.parametrize(
    ("name", "venue", "message"),
    [("main\n", "binance", "entry name 'main\\n' is invalid"),
     ("main", "binance\n", "venue 'binance\\n' is invalid")],
)  # fmt: skip
def test_a_trailing_newline_in_a_name_is_refused(tmp_path, name, venue, message):
    stdin = '{"api_key": "a", "secret": "b", "x\\n": "c"}'
    code, _out, err = _keys(tmp_path, ["add", name, "--venue", venue, "--stdin"], stdin)
    assert code == 2, err
    assert message in err, err
    assert not (tmp_path / "vault.json").exists()


def test_a_trailing_newline_in_a_field_name_is_refused(tmp_path):
    stdin = '{"api_key": "a", "secret\\n": "b"}'
    code, _out, err = _keys(tmp_path, ["add", "main", "--venue", "binance", "--stdin"], stdin)
    assert code == 2, err
    assert "field name 'secret\\n' of entry 'main' is invalid" in err, err
    assert not (tmp_path / "vault.json").exists()


def test_an_endless_stdin_is_refused_without_reading_it_all(tmp_path):
    # `--stdin < /dev/zero` read until memory ran out (a MemoryError traceback under a limit).
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))

    env = {**os.environ, "TG_VAULT_PATH": str(tmp_path / "vault.json"),
           "TG_MASTER_PASSPHRASE": PASS}  # fmt: skip
    with open("/dev/zero", "rb") as zero:
        run = subprocess.run(
            [sys.executable, "-m", "tradeguard.cli", "keys", "add", "main", "--venue",
             "binance", "--stdin"],
            stdin=zero, env=env, capture_output=True, text=True, timeout=120, preexec_fn=cap,
        )  # fmt: skip
    assert run.returncode == 2, run.stderr[-2000:]
    assert "stdin holds over 1,000,000 characters" in run.stderr, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "vault.json").exists()
