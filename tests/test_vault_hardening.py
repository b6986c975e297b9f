"""Vault cost, upgrades and damaged files; files the node creates are private."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tradeguard.cli import main
from tradeguard.secrets import ScryptParams, Vault
from tradeguard.storage.db import Database

PASS = "correct horse battery staple"
NEW_PASS = "another long master passphrase"
FIELDS = {"api_key": "k" * 24, "secret": "s" * 32}
EXE = Path(sys.executable).parent / "tradeguard"


def _old_vault(path: Path) -> Vault:
    vault = Vault(path, kdf=ScryptParams(n=2**14))
    vault.create(PASS)
    vault.add("binance-main", "binance", FIELDS)
    return vault


def test_new_vaults_use_owasp_scrypt_cost():
    assert (ScryptParams().n, ScryptParams().r, ScryptParams().p) == (2**17, 8, 1)


def test_a_weaker_vault_is_rekeyed_at_the_default_cost_on_unlock(tmp_path):
    path = tmp_path / "vault.json"
    _old_vault(path)
    before = json.loads(path.read_text())
    vault = Vault(path)
    vault.unlock(PASS)
    after = json.loads(path.read_text())
    assert before["kdf"]["n"] == 2**14 and after["kdf"]["n"] == 2**17
    assert after["salt"] != before["salt"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = Vault(path)
    again.unlock(PASS)
    assert again.get("binance-main").field("secret") == FIELDS["secret"]
    assert json.loads(path.read_text())["salt"] == after["salt"]  # no second upgrade


@pytest.mark.slow
def test_rotate_master_to_scrypt_n_2_pow_20_works(tmp_path, monkeypatch, capsys):
    path = tmp_path / "vault.json"
    _old_vault(path)
    monkeypatch.setenv("TG_MASTER_PASSPHRASE", PASS)
    monkeypatch.setenv("TG_NEW_MASTER_PASSPHRASE", NEW_PASS)
    args = ["keys", "rotate-master", "--vault", str(path), "--scrypt-n", str(2**20)]
    assert main(args) == 0, capsys.readouterr().err
    assert json.loads(path.read_text())["kdf"]["n"] == 2**20
    vault = Vault(path)
    vault.unlock(NEW_PASS)
    assert vault.get("binance-main").field("api_key") == FIELDS["api_key"]


@pytest.fixture(scope="module")
def default_cost_vault(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The text of a vault at the default scrypt cost holding one entry: made once (each
    derivation at that cost takes 128 MiB and a good part of a second); each test damages
    its own copy."""
    path = tmp_path_factory.mktemp("vault") / "vault.json"
    Vault(path, kdf=ScryptParams(n=2**17)).create(PASS)
    vault = Vault(path)
    vault.unlock(PASS)
    vault.add("binance-main", "binance", FIELDS)
    return path.read_text()


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda d: d["kdf"].update(n="lots"), "kdf.n = 'lots' is not a whole number"),
        (lambda d: d["kdf"].pop("r"), "kdf.r = None is not a whole number"),
        (lambda d: d.update(kdf="scrypt"), "kdf = 'scrypt' is not an object"),
        (
            lambda d: d["entries"]["binance-main"].update(created_at="yesterday"),
            "created_at = 'yesterday' is not an ISO 8601 time",
        ),
    ],
)
def test_a_damaged_vault_file_is_one_line_naming_the_field(
    damage, expected, tmp_path, monkeypatch, capsys, default_cost_vault
):
    path = tmp_path / "vault.json"
    doc = json.loads(default_cost_vault)
    damage(doc)
    path.write_text(json.dumps(doc))
    os.chmod(path, 0o600)
    monkeypatch.setenv("TG_MASTER_PASSPHRASE", PASS)
    code = main(["keys", "list", "--vault", str(path)])
    err = capsys.readouterr().err
    assert code == 1 and expected in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_missing_passphrase_without_a_terminal_is_one_line(tmp_path):
    path = tmp_path / "vault.json"
    _old_vault(path)
    env = {k: v for k, v in os.environ.items() if k != "TG_MASTER_PASSPHRASE"}
    proc = subprocess.run(
        [str(EXE), "keys", "list", "--vault", str(path)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=60,
        start_new_session=True,  # no controlling terminal, as under cron or CI
    )  # fmt: skip
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "EOFError" not in proc.stderr
    assert "set TG_MASTER_PASSPHRASE or run the command in a terminal" in proc.stderr


def test_a_new_sqlite_database_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "sub" / "tg.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for extra in path.parent.glob("tg.db-*"):
        assert stat.S_IMODE(extra.stat().st_mode) == 0o600, extra


def test_without_a_terminal_keys_add_never_takes_piped_keys_as_the_passphrase(tmp_path):
    """`keys add --stdin < keys.json` under cron: stdin holds the keys, not the passphrase."""
    keys = tmp_path / "keys.json"
    # Valid keys of 12+ characters a line: read as a passphrase, the first would be accepted.
    keys.write_text('{"api_key": "k" , "secret": "s"}\n')
    env = {k: v for k, v in os.environ.items() if k != "TG_MASTER_PASSPHRASE"}
    env["TG_VAULT_PATH"] = str(tmp_path / "vault.json")
    argv = [str(EXE), "keys", "add", "main", "--venue", "binance", "--stdin"]
    with keys.open() as stdin:
        proc = subprocess.run(
            argv, stdin=stdin, capture_output=True, text=True, env=env, timeout=60,
            start_new_session=True,  # no controlling terminal
        )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "no master passphrase: set TG_MASTER_PASSPHRASE" in proc.stderr, proc.stderr
    assert "characters long" not in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "vault.json").exists()
    env["TG_MASTER_PASSPHRASE"] = PASS  # the secrets themselves are not asked for either
    proc = subprocess.run(
        [*argv[:-1]], stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
        timeout=60, start_new_session=True,
    )  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "no terminal to ask for api_key for main: pipe the fields as JSON with --stdin" in (
        proc.stderr
    )


@pytest.mark.parametrize(
    "text",
    [
        '{"api_key": "live-key", "secret": "s", "api_key": "testnet-key"}',
        "api_key=live-key\nsecret=s\napi_key=testnet-key\n",
    ],
    ids=["json", "lines"],
)
def test_keys_add_refuses_a_field_given_twice_on_stdin(tmp_path, text):
    """The last of two values was stored without a word: which key the venue then got was the
    parser's choice. The refusal names the field, never a value, before a vault is made."""
    env = {**os.environ, "TG_MASTER_PASSPHRASE": PASS, "TG_VAULT_PATH": str(tmp_path / "v.json")}
    proc = subprocess.run(
        [str(EXE), "keys", "add", "main", "--venue", "binance", "--stdin"],
        input=text, capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "'api_key'" in proc.stderr and "twice" in proc.stderr, proc.stderr
    assert "live-key" not in proc.stderr and "testnet-key" not in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "v.json").exists()


@pytest.mark.parametrize("argv", [["keys", "list"], ["keys", "add", "x", "--venue", "binance",
                                   "--stdin"], ["keys", "remove", "x"]])  # fmt: skip
def test_a_folder_given_as_the_vault_is_named_as_one_and_never_chmodded(tmp_path, argv):
    """TG_VAULT_PATH=/tmp answered "vault /tmp has mode 1777, readable by others; run `chmod
    600 /tmp`" and then "/tmp: Is a directory" (exit 1): the advice would lock every user out
    of the folder. A folder is a bad setting, exit 2, said in one line."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o1777)
    env = {**os.environ, "TG_VAULT_PATH": str(folder), "TG_MASTER_PASSPHRASE": "x" * 16}
    proc = subprocess.run(
        [str(EXE), *argv], input='{"api_key": "a", "secret": "b"}', capture_output=True,
        text=True, env=env, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    err = proc.stderr.strip()
    assert proc.returncode == 2, err
    assert "chmod" not in err and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert f"{folder} is a folder" in err and "TG_VAULT_PATH" in err, err
    assert stat.S_IMODE(folder.stat().st_mode) == 0o1777 and list(folder.iterdir()) == []


def test_creating_a_vault_on_a_folder_names_the_folder_not_an_existing_vault(
    tmp_path: Path,
) -> None:
    """`Vault.create` on a folder said "vault ... already exists; unlock it, or remove the file"."""
    from tradeguard.secrets.entry_rules import VaultInputError

    with pytest.raises(VaultInputError, match=f"vault {tmp_path} is a folder; point TG_VAULT_PATH"):
        Vault(tmp_path).create("a long master passphrase")
    assert list(tmp_path.iterdir()) == []
