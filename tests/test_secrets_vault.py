"""The credential vault: encryption at rest, authentication, rotation, masking."""

from __future__ import annotations

import base64
import copy
import json
import pickle
import stat
from pathlib import Path

import pytest

from tradeguard.secrets import (
    CredentialError,
    Credentials,
    ScryptParams,
    Vault,
    VaultError,
    find_secrets,
    read_passphrase,
)

PASS = "correct horse battery staple"
FAST = ScryptParams(n=2**14)
FIELDS = {
    "api_key": "AKtestApiKey0123456789xyzQ",
    "secret": "sEcReT-0123456789abcdefghij-vault",
    "passphrase": "okx-passphrase-42!",
}


def new_vault(tmp_path: Path) -> Vault:
    vault = Vault(tmp_path / "vault.json", kdf=FAST)
    vault.create(PASS)
    return vault


def test_round_trip_returns_the_stored_fields(tmp_path: Path) -> None:
    vault = new_vault(tmp_path)
    vault.add("okx-main", "okx", FIELDS)

    reopened = Vault(tmp_path / "vault.json")
    reopened.unlock(PASS)
    creds = reopened.get("okx-main")

    assert creds.venue == "okx"
    assert {k: creds.field(k) for k in creds.field_names()} == FIELDS


def test_file_on_disk_holds_no_secret_and_is_private(tmp_path: Path) -> None:
    vault = new_vault(tmp_path)
    vault.add("okx-main", "okx", FIELDS)

    blob = vault.path.read_bytes()

    assert find_secrets(blob, [*FIELDS.values(), PASS]) == []
    assert stat.S_IMODE(vault.path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["vault.json"]  # no temp file left behind


def test_default_scrypt_parameters_are_recorded(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault.json")
    vault.create(PASS)

    doc = json.loads(vault.path.read_text())

    assert doc["kdf"] == {"name": "scrypt", "n": 2**17, "r": 8, "p": 1, "dklen": 64}
    assert len(doc["salt"]) >= 20
    assert doc["version"] == 1


def test_wrong_passphrase_is_named_as_such(tmp_path: Path) -> None:
    new_vault(tmp_path).add("okx-main", "okx", FIELDS)

    with pytest.raises(VaultError, match="wrong master passphrase for vault"):
        Vault(tmp_path / "vault.json").unlock("not the right passphrase")


def test_tampered_ciphertext_is_detected(tmp_path: Path) -> None:
    new_vault(tmp_path).add("okx-main", "okx", FIELDS)
    path = tmp_path / "vault.json"
    doc = json.loads(path.read_text())
    raw = bytearray(base64.b64decode(doc["entries"]["okx-main"]["ciphertext"]))
    raw[3] ^= 0x01
    doc["entries"]["okx-main"]["ciphertext"] = base64.b64encode(raw).decode()
    path.write_text(json.dumps(doc))

    vault = Vault(path)
    vault.unlock(PASS)
    with pytest.raises(VaultError, match="failed authentication"):
        vault.get("okx-main")


def test_swapped_entries_are_detected(tmp_path: Path) -> None:
    vault = new_vault(tmp_path)
    vault.add("binance-main", "binance", {"api_key": "binanceKey0123456789", "secret": "bsecret-1"})
    vault.add("binance-alt", "binance", {"api_key": "altKey0123456789xyz", "secret": "bsecret-2"})
    doc = json.loads(vault.path.read_text())
    main, alt = doc["entries"]["binance-main"], doc["entries"]["binance-alt"]
    for key in ("nonce", "ciphertext"):
        main[key], alt[key] = alt[key], main[key]
    vault.path.write_text(json.dumps(doc))

    reopened = Vault(vault.path)
    reopened.unlock(PASS)
    with pytest.raises(VaultError, match="moved from another entry"):
        reopened.get("binance-main")


def test_changing_the_venue_on_disk_is_detected(tmp_path: Path) -> None:
    new_vault(tmp_path).add("okx-main", "okx", FIELDS)
    path = tmp_path / "vault.json"
    doc = json.loads(path.read_text())
    doc["entries"]["okx-main"]["venue"] = "binance"
    path.write_text(json.dumps(doc))

    vault = Vault(path)
    vault.unlock(PASS)
    with pytest.raises(VaultError, match="failed authentication"):
        vault.get("okx-main")


def test_corrupted_file_is_told_apart_from_wrong_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "vault.json"
    path.write_text("{ not json")

    with pytest.raises(VaultError, match="corrupted or not a tradeguard vault"):
        Vault(path).unlock(PASS)


def test_rotate_master_keeps_entries_and_retires_old_passphrase(tmp_path: Path) -> None:
    vault = new_vault(tmp_path)
    vault.add("okx-main", "okx", FIELDS)
    salt_before = json.loads(vault.path.read_text())["salt"]
    new_pass = "a brand new master passphrase"

    vault.rotate_master(PASS, new_pass, ScryptParams(n=2**15))

    doc = json.loads(vault.path.read_text())
    assert doc["salt"] != salt_before
    assert doc["kdf"]["n"] == 2**15
    with pytest.raises(VaultError, match="wrong master passphrase"):
        Vault(vault.path).unlock(PASS)
    reopened = Vault(vault.path)
    reopened.unlock(new_pass)
    assert reopened.get("okx-main").field("secret") == FIELDS["secret"]
    assert stat.S_IMODE(vault.path.stat().st_mode) == 0o600


def test_rotate_master_with_wrong_old_passphrase_changes_nothing(tmp_path: Path) -> None:
    vault = new_vault(tmp_path)
    vault.add("okx-main", "okx", FIELDS)
    before = vault.path.read_bytes()

    with pytest.raises(VaultError, match="wrong master passphrase"):
        Vault(vault.path).rotate_master("wrong passphrase here", "another long passphrase")

    assert vault.path.read_bytes() == before


def test_list_masks_api_key_and_hides_secret_fields(tmp_path: Path) -> None:
    vault = new_vault(tmp_path)
    vault.add("okx-main", "okx", FIELDS)
    vault.add("wallet", "uniswap", {"private_key": "0x" + "ab" * 32})

    infos = vault.list()

    assert [i.name for i in infos] == ["okx-main", "wallet"]
    assert infos[0].api_key_masked == "AKte…zQ"
    assert infos[1].api_key_masked == "-"
    assert infos[0].field_names == ("api_key", "passphrase", "secret")
    shown = json.dumps([i.to_dict() for i in infos])
    assert find_secrets(shown, [*FIELDS.values(), "ab" * 32]) == []


def test_add_refuses_to_replace_without_overwrite(tmp_path: Path) -> None:
    vault = new_vault(tmp_path)
    vault.add("okx-main", "okx", FIELDS)

    with pytest.raises(VaultError, match="already exists"):
        vault.add("okx-main", "okx", {"api_key": "other-key-0123456"})
    info = vault.add("okx-main", "okx", {"api_key": "other-key-0123456"}, overwrite=True)

    assert info.field_names == ("api_key",)
    assert vault.get("okx-main").field("api_key") == "other-key-0123456"


def test_remove_deletes_the_entry(tmp_path: Path) -> None:
    vault = new_vault(tmp_path)
    vault.add("okx-main", "okx", FIELDS)

    vault.remove("okx-main")

    reopened = Vault(vault.path)
    reopened.unlock(PASS)
    assert reopened.list() == []
    with pytest.raises(VaultError, match="no entry 'okx-main'"):
        reopened.get("okx-main")


def test_locked_vault_refuses_reads(tmp_path: Path) -> None:
    new_vault(tmp_path).add("okx-main", "okx", FIELDS)

    with pytest.raises(VaultError, match="is locked"):
        Vault(tmp_path / "vault.json").get("okx-main")


def test_short_passphrase_is_refused_with_its_length(tmp_path: Path) -> None:
    with pytest.raises(VaultError, match="11 characters long; it must be at least 12"):
        Vault(tmp_path / "vault.json", kdf=FAST).create("short-pass!")
    with pytest.raises(VaultError, match="at least 12"):
        read_passphrase({}, lambda _: "tiny")


def test_passphrase_comes_from_env_before_prompt() -> None:
    def no_prompt(_: str) -> str:
        raise AssertionError("prompted although TG_MASTER_PASSPHRASE is set")

    assert read_passphrase({"TG_MASTER_PASSPHRASE": PASS}, no_prompt) == PASS
    assert read_passphrase({}, lambda _: PASS, confirm=True) == PASS


def test_credentials_repr_and_str_are_masked() -> None:
    creds = Credentials("okx-main", "okx", FIELDS)

    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert find_secrets(text, FIELDS.values()) == []
        assert "AKte…zQ" in text
    assert creds.ccxt_config()["apiKey"] == FIELDS["api_key"]
    assert creds.ccxt_config()["password"] == FIELDS["passphrase"]


def test_credentials_refuse_pickling_and_copying() -> None:
    creds = Credentials("okx-main", "okx", FIELDS)

    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(creds)
    with pytest.raises(TypeError):
        copy.deepcopy(creds)


def test_missing_credential_field_error_shows_no_value() -> None:
    creds = Credentials("okx-main", "okx", FIELDS)

    with pytest.raises(CredentialError, match="no field 'private_key'") as info:
        creds.field("private_key")

    assert find_secrets(str(info.value), FIELDS.values()) == []


def test_scrypt_parameters_below_the_floor_are_refused(tmp_path: Path) -> None:
    with pytest.raises(VaultError, match="scrypt n=1024 is out of range"):
        Vault(tmp_path / "v.json", kdf=ScryptParams(n=1024)).create(PASS)
