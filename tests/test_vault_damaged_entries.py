"""A vault file damaged inside an entry (an entry that is no object, a nonce or ciphertext that
is no text, a venue left out) or nested past any vault's depth: every command that reads it
says so in one line naming the entry and the field, never a traceback, and never a secret."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tradeguard.cli import main
from tradeguard.secrets import ScryptParams, Vault, VaultError

PASS = "correct horse battery staple"
FIELDS = {"api_key": "k" * 24, "secret": "S3cr3t-" + "s" * 25}
NAME = "binance-main"


def _entry(edit: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], None]:
    def damage(doc: dict[str, Any]) -> None:
        edit(doc["entries"][NAME])

    return damage


def _replace_entry(value: Any) -> Callable[[dict[str, Any]], None]:
    def damage(doc: dict[str, Any]) -> None:
        doc["entries"][NAME] = value

    return damage


DAMAGES = [
    ("entry null", _replace_entry(None), "is not an object"),
    ("entry text", _replace_entry("abc"), "is not an object"),
    ("entry list", _replace_entry([1, 2]), "is not an object"),
    ("ciphertext null", _entry(lambda e: e.update(ciphertext=None)), "ciphertext = None"),
    ("ciphertext list", _entry(lambda e: e.update(ciphertext=[])), "ciphertext = []"),
    ("nonce number", _entry(lambda e: e.update(nonce=12)), "nonce = 12"),
    ("venue left out", _entry(lambda e: e.pop("venue")), "venue = None"),
    ("venue number", _entry(lambda e: e.update(venue=7)), "venue = 7"),
]


@pytest.fixture(scope="module")
def whole_vault(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The text of a vault at the default scrypt cost (a weaker one is rekeyed on unlock)
    holding the entry: made once, each case damages its own copy."""
    path = tmp_path_factory.mktemp("vault") / "vault.json"
    vault = Vault(path, kdf=ScryptParams(n=2**17))
    vault.create(PASS)
    vault.add(NAME, "binance", FIELDS)
    return path.read_text()


def _damaged(tmp_path: Path, damage: Callable[[dict[str, Any]], None], whole: str) -> Path:
    path = tmp_path / "vault.json"
    doc = json.loads(whole)
    damage(doc)
    path.write_text(json.dumps(doc))
    os.chmod(path, 0o600)
    return path


@pytest.mark.parametrize("case", range(len(DAMAGES)))
def test_a_damaged_entry_is_one_line_naming_the_entry_and_field(
    case: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    whole_vault: str,
) -> None:
    # Before: `keys list` and every reader of the entry ended in a TypeError or AttributeError
    # traceback ('NoneType' object has no attribute 'encode').
    label, damage, expected = DAMAGES[case]
    path = _damaged(tmp_path, damage, whole_vault)
    monkeypatch.setenv("TG_MASTER_PASSPHRASE", PASS)
    code = main(["keys", "list", "--vault", str(path)])
    err = capsys.readouterr().err
    assert code == 1, label
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, (label, err)
    assert f"entry {NAME!r}" in err and expected in err, (label, err)
    assert FIELDS["secret"] not in err
    vault = Vault(path, kdf=ScryptParams(n=2**17))
    vault.unlock(PASS)
    with pytest.raises(VaultError, match=f"entry {NAME!r}"):
        vault.get(NAME)
    before = path.read_bytes()
    with pytest.raises(VaultError, match=f"entry {NAME!r}"):
        vault.rotate_master(PASS, "another long master passphrase")
    assert path.read_bytes() == before  # nothing rewritten under the new passphrase


def test_a_file_nested_past_any_vault_is_refused_as_corrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: a RecursionError traceback from the JSON decoder.
    path = tmp_path / "vault.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    os.chmod(path, 0o600)
    monkeypatch.setenv("TG_MASTER_PASSPHRASE", PASS)
    code = main(["keys", "list", "--vault", str(path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err and "corrupted" in err, err
    assert len(err.strip().splitlines()) == 1, err
