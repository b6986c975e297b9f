"""The passphrase and credential prompts typed at a real terminal: wrong, huge and hostile input,
Ctrl-C and Ctrl-D at each prompt. Each ends in one line of its own, never a traceback, and never
says there is no terminal when the user is at one."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from pty_support import PtySession
from tradeguard.secrets.vault import Vault

EXE = str(Path(sys.executable).parent / "tradeguard")
PASSPHRASE = "correct horse battery staple"
CTRL_C, CTRL_D = b"\x03", b"\x04"


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TG_")}
    env.update({"TG_VAULT_PATH": str(tmp_path / "vault.json"), "HOME": str(tmp_path)})
    return env


def _vault(tmp_path: Path) -> Vault:
    vault = Vault(tmp_path / "vault.json")  # at the default cost: an unlock leaves it as it is
    vault.create(PASSPHRASE)
    vault.add("main", "binance", {"api_key": "k" * 64, "secret": "s" * 64})
    vault.lock()
    return vault


def _session(tmp_path: Path, *argv: str) -> PtySession:
    return PtySession([EXE, *argv], cwd=tmp_path, env=_env(tmp_path))


def _one_line_after_the_prompt(rest: str) -> str:
    """What followed the prompt must begin on a line of its own and be one line."""
    assert rest.startswith("\r\n"), f"written on the prompt's line: {rest!r}"
    lines = [line for line in rest.split("\r\n") if line.strip()]
    assert len(lines) == 1 and "Traceback" not in rest, rest
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "prompts"),
    [
        (["keys", "list"], ["master passphrase: "]),
        (
            ["keys", "add", "new", "--venue", "binance"],
            ["master passphrase: ", "api_key for new: "],
        ),
    ],
)
def test_ctrl_d_at_each_prompt_says_the_input_ended_on_a_line_of_its_own(tmp_path, argv, prompts):
    vault = _vault(tmp_path)
    before = vault.path.read_bytes()
    for at in range(len(prompts)):
        session = _session(tmp_path, *argv)
        for prompt in prompts[:at]:
            session.expect(prompt)
            session.type(PASSPHRASE.encode() + b"\r")
        session.expect(prompts[at])
        session.type(CTRL_D)
        code, rest = session.finish()
        line = _one_line_after_the_prompt(rest)
        assert code == 1, rest
        assert "ended" in line and "Ctrl-D" in line, line
        assert "terminal" not in line, f"the user is at a terminal: {line}"
    assert vault.path.read_bytes() == before


@pytest.mark.parametrize(
    "argv", [["keys", "list"], ["keys", "remove", "main"], ["keys", "rotate-master"]]
)
def test_ctrl_c_at_a_passphrase_prompt_aborts_on_a_line_of_its_own(tmp_path, argv):
    vault = _vault(tmp_path)
    before = vault.path.read_bytes()
    session = _session(tmp_path, *argv)
    session.expect("master passphrase: ")
    session.type(b"half typed" + CTRL_C)
    code, rest = session.finish()
    assert _one_line_after_the_prompt(rest) == "aborted: nothing was changed"
    assert code == 130 and vault.path.read_bytes() == before  # was 1; Ctrl-C is 130 everywhere


@pytest.mark.parametrize(
    "typed",
    [
        b"not the passphrase at all",
        b"x" * 20_000,  # beyond the terminal's line buffer: the rest is dropped, not a hang
        b"\x1b[A\x1b[1;5D\x00\x07\x1b" + b"\xc3\xa9\xe2\x80\x8f" * 5 + b"\x7f\x7f",
        "émoji 🔑 passphrase".encode(),
    ],
    ids=["wrong", "huge", "control", "unicode"],
)
def test_a_wrong_huge_or_hostile_passphrase_is_one_line_and_never_echoed(tmp_path, typed):
    vault = _vault(tmp_path)
    before = vault.path.read_bytes()
    session = _session(tmp_path, "keys", "list")
    session.expect("master passphrase: ")
    for i in range(0, len(typed), 1000):
        session.type(typed[i : i + 1000])
    session.type(b"\r")
    code, rest = session.finish()
    line = _one_line_after_the_prompt(rest)
    assert code == 1, rest
    assert line.startswith("error: ") and "passphrase" in line, line
    assert "xxxxxxxx" not in rest and "not the passphrase" not in rest and "🔑" not in rest
    assert vault.path.read_bytes() == before


def test_the_right_passphrase_typed_lists_the_entries(tmp_path):
    _vault(tmp_path)
    session = _session(tmp_path, "keys", "list")
    session.expect("master passphrase: ")
    session.type(PASSPHRASE.encode() + b"\r")
    code, rest = session.finish()
    assert code == 0 and "main" in rest and "binance" in rest and PASSPHRASE not in rest, rest


def test_a_new_vault_refuses_a_short_passphrase_before_asking_it_again(tmp_path):
    session = _session(tmp_path, "keys", "add", "main", "--venue", "binance")
    session.expect("master passphrase: ")
    session.type(b"short\r")
    code, rest = session.finish()
    line = _one_line_after_the_prompt(rest)
    assert code == 2 and "at least 12" in line, rest  # bad input: a usage error
    assert "repeat" not in rest
    assert not (tmp_path / "vault.json").exists()


def test_a_new_vault_typed_twice_then_its_fields_stores_the_entry(tmp_path):
    session = _session(tmp_path, "keys", "add", "main", "--venue", "binance")
    for prompt, typed in [
        ("master passphrase: ", PASSPHRASE),
        ("repeat master passphrase: ", PASSPHRASE),
        ("api_key for main: ", "a" * 64),
        ("secret for main: ", "b" * 64),
    ]:
        session.expect(prompt)
        session.type(typed.encode() + b"\r")
    code, rest = session.finish()
    assert code == 0 and "stored main (venue binance)" in rest, rest
    assert "a" * 64 not in rest and "b" * 64 not in rest
    data = json.loads((tmp_path / "vault.json").read_text())
    assert "main" in json.dumps(data) and "b" * 64 not in json.dumps(data)


def test_ctrl_d_or_ctrl_c_at_the_resume_confirmation_keeps_trading_halted(tmp_path, data_dir):
    from node_support import write_paper_toml, write_slice
    from pty_support import run_in_pty

    data = write_slice(data_dir, tmp_path / "btc.csv", 300)
    cfg = str(write_paper_toml(tmp_path, data, name="halted.toml"))
    env = _env(tmp_path)
    for argv in (["run", "--until-end"], ["kill", "--reason", "drill"]):
        code, screen = run_in_pty([EXE, *argv, "--config", cfg], cwd=tmp_path, env=env)
        assert code == 0, screen
    for key, said, exit_code in [
        (CTRL_D, "not confirmed (the input ended); trading stays as it is", 1),
        (CTRL_C, "tradeguard resume: stopped by Ctrl-C", 130),
    ]:
        session = _session(tmp_path, "resume", "--reason", "over", "--config", cfg)
        session.expect("to let trading resume: ")
        session.type(key)
        code, rest = session.finish()
        assert _one_line_after_the_prompt(rest.replace("^C", "").replace("^D", "")) == said
        assert code == exit_code, rest
    code, screen = run_in_pty([EXE, "status", "--config", cfg], cwd=tmp_path, env=env)
    assert code == 0 and "HALTED" in screen, screen


def test_bytes_that_are_not_utf8_at_the_resume_confirmation_keep_trading_halted(tmp_path, data_dir):
    """The confirmation is read from standard input: a backspace over an accented letter (or a
    terminal set to another encoding) sent bytes that are not UTF-8, and the command ended in a
    UnicodeDecodeError traceback."""
    from node_support import write_paper_toml, write_slice
    from pty_support import run_in_pty

    data = write_slice(data_dir, tmp_path / "btc.csv", 300)
    cfg = str(write_paper_toml(tmp_path, data, name="halted.toml"))
    env = _env(tmp_path)
    for argv in (["run", "--until-end"], ["kill", "--reason", "drill"]):
        code, screen = run_in_pty([EXE, *argv, "--config", cfg], cwd=tmp_path, env=env)
        assert code == 0, screen
    # As under en_US.UTF-8 (a desktop's locale): Python reads standard input strictly there;
    # under C or C.UTF-8 (this machine's) it escapes such bytes instead.
    strict = {**env, "PYTHONIOENCODING": "utf-8:strict"}
    argv = [EXE, "resume", "--reason", "over", "--config", cfg]
    session = PtySession(argv, cwd=tmp_path, env=strict)
    session.expect("to let trading resume: ")
    session.type(b"RESUM\xc3\r")  # an accented letter half erased: its first byte alone
    code, rest = session.finish()
    assert "Traceback" not in rest, rest
    assert code == 1, rest
    assert "not confirmed" in rest, rest
    code, screen = run_in_pty([EXE, "status", "--config", cfg], cwd=tmp_path, env=env)
    assert code == 0 and "HALTED" in screen, screen
