"""Commands that act on an existing node database refuse a SQLite file that is not there."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_support import run_cli

COMMANDS = [
    ["resume", "--reason", "incident closed", "--yes"],
    ["resume", "--reason", "incident closed", "--yes", "--json"],
    ["kill", "--reason", "typo test"],
    ["kill", "--reason", "typo test", "--json"],
    ["status"],
    ["orders"],
    ["positions"],
    ["balances", "--json"],
    ["fills"],
    ["pm", "settlements"],
    ["doctor"],
    ["doctor", "--json"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a[:1] + a[-1:]))
def test_a_command_on_a_missing_database_file_names_it_exits_non_zero_and_creates_nothing(
    tmp_path: Path,
    argv: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "ops"
    folder.mkdir()
    target = folder / "typo.db"
    monkeypatch.setenv("TG_VAULT_PATH", str(tmp_path / "no-vault.json"))
    monkeypatch.chdir(folder)
    done = run_cli(capsys, *argv, "--db", f"sqlite:///{target}")
    assert done.returncode != 0, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"no database file at {target}" in lines[0], done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert sorted(p.name for p in folder.iterdir()) == []  # no database, no lock file
