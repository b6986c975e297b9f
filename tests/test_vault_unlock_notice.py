"""A run whose venues take their keys from the vault asks for the passphrase once and, in a
terminal, says it is unlocking the vault before the seconds-long key derivation; piped, it
prints nothing about it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pty_support import run_in_pty
from test_vault_prompt_once import PASSPHRASE, _two_credentialed_venues, two_entry_vault

NOTICE = "unlocking the key vault ..."


def _argv(cfg: Path) -> list[str]:
    # the venues' address refuses connections: the run ends right after the node is built
    return [sys.executable, "-m", "tradeguard.cli", "run", "--config", str(cfg), "--duration", "1"]


def test_a_terminal_is_told_once_that_the_vault_is_being_unlocked(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "TG_VAULT_PATH": str(two_entry_vault(tmp_path))}
    cfg = _two_credentialed_venues(tmp_path)
    code, screen = run_in_pty(
        _argv(cfg), cwd=tmp_path, env=env, answer=("master passphrase: ", PASSPHRASE + "\r")
    )
    assert screen.count("master passphrase: ") == 1, screen
    assert screen.count(NOTICE) == 1, screen
    assert screen.index("master passphrase: ") < screen.index(NOTICE)
    assert PASSPHRASE not in screen and "Traceback" not in screen, screen
    assert code in (0, 1), screen


def test_a_piped_run_prints_no_notice(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "TG_VAULT_PATH": str(two_entry_vault(tmp_path)),
        "TG_MASTER_PASSPHRASE": PASSPHRASE,
    }
    run = subprocess.run(
        _argv(_two_credentialed_venues(tmp_path)), cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert NOTICE not in run.stdout + run.stderr
    assert "Traceback" not in run.stderr and run.returncode in (0, 1), run.stderr
