"""Every node config under examples/ passes `tradeguard config check` once the steps its header
comments name are done (the vault entry `keys add` writes, the calendar `calendar shift`
writes): a user copying an example meets no refusal the docs do not lead them past."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cli_support import run_cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
NOT_NODE_CONFIGS = {"pm_map.toml"}  # a market map (`pm map check`), not a node config


def _node_configs() -> list[str]:
    return sorted(p.name for p in EXAMPLES.glob("*.toml") if p.name not in NOT_NODE_CONFIGS)


def test_every_example_node_config_passes_config_check_after_its_documented_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tradeguard.secrets.vault import ScryptParams, Vault

    names = _node_configs()
    assert len(names) >= 8, names  # the glob found the examples
    examples = tmp_path / "examples"
    shutil.copytree(EXAMPLES, examples)
    vault = Vault(tmp_path / "vault.json", kdf=ScryptParams(n=2**14))
    vault.create("pass phrase for the test")
    vault.add("sandbox-main", "binance", {"api_key": "k", "secret": "s"})  # `keys add`
    monkeypatch.setenv("TG_VAULT_PATH", str(tmp_path / "vault.json"))
    monkeypatch.chdir(tmp_path)
    shift = run_cli(capsys, "calendar", "shift", "examples/unlock_calendar.csv", "--by-ms", "0",
                    "--out", "examples/rehearsal_calendar.csv")  # fmt: skip
    assert shift.returncode == 0, shift.stderr
    failed = {}
    for name in names:
        run = run_cli(capsys, "config", "check", f"examples/{name}")
        if run.returncode != 0 or ": valid (" not in run.stdout:
            failed[name] = (run.returncode, run.stdout[-300:], run.stderr[-600:])
    assert failed == {}
