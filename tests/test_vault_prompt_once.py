"""A node with several venues asks for the master passphrase once, and a missing vault entry
is named before anything is typed (`run`) or before anything runs (`config check`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeguard.cli import main
from tradeguard.model.errors import ConfigError
from tradeguard.node import credentials
from tradeguard.secrets import vault as vault_module
from tradeguard.secrets.vault import ScryptParams, Vault

PASSPHRASE = "correct horse battery staple"


def two_entry_vault(tmp_path: Path) -> Path:
    """A locked vault in `tmp_path` holding binance keys under `main` and `second`."""
    path = tmp_path / "vault.json"
    vault = Vault(path, kdf=ScryptParams(n=2**14))
    vault.create(PASSPHRASE)
    for name in ("main", "second"):
        vault.add(name, "binance", {"api_key": f"key-{name}-0123456789", "secret": "s" * 32})
    vault.lock()
    return path


@pytest.fixture
def vault_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = two_entry_vault(tmp_path)
    monkeypatch.setattr(credentials, "_typed", {})
    return path


def test_two_vault_entries_ask_for_the_passphrase_once(vault_path, monkeypatch):
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return PASSPHRASE

    monkeypatch.setattr(vault_module, "terminal_prompt", prompt)
    env = {"TG_VAULT_PATH": str(vault_path)}
    first = credentials.vault_entry("binance", "main", env)
    second = credentials.vault_entry("binance2", "second", env)
    assert (first.get("api_key"), second.get("api_key")) == (
        "key-main-0123456789",
        "key-second-0123456789",
    )
    assert asked == ["master passphrase: "]


def test_a_wrong_typed_passphrase_is_not_kept(vault_path, monkeypatch):
    answers = iter(["a wrong passphrase here", PASSPHRASE])
    monkeypatch.setattr(vault_module, "terminal_prompt", lambda text: next(answers))
    env = {"TG_VAULT_PATH": str(vault_path)}
    with pytest.raises(vault_module.VaultError, match="wrong master passphrase"):
        credentials.vault_entry("binance", "main", env)
    assert credentials.vault_entry("binance", "main", env).get("api_key") == "key-main-0123456789"


def test_a_missing_entry_is_named_before_the_prompt(vault_path, monkeypatch):
    def prompt(text: str) -> str:
        raise AssertionError("asked for a passphrase although the entry is missing")

    monkeypatch.setattr(vault_module, "terminal_prompt", prompt)
    with pytest.raises(ConfigError, match=r"no such entry \(entries: main, second\)"):
        credentials.vault_entry("binance2", "sandbox-two", {"TG_VAULT_PATH": str(vault_path)})


def test_config_check_names_a_credentials_entry_the_vault_lacks(
    vault_path, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("TG_VAULT_PATH", str(vault_path))
    cfg = _two_credentialed_venues(tmp_path, second="sandbox-two")
    assert main(["config", "check", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "venues[two]: credentials = 'sandbox-two' but the vault" in err
    assert "has no such entry; add it with `tradeguard keys add sandbox-two" in err
    assert "venues[one]" not in err and "Traceback" not in err


def _two_credentialed_venues(tmp_path: Path, second: str = "second") -> Path:
    """A sandbox config of two venues, `one` keyed by the vault entry `main` and `two` by
    `second`."""
    cfg = tmp_path / "c.toml"
    venue = '[[venues]]\nkind = "ccxt"\nexchange = "binance"\nrest_url = "http://127.0.0.1:1"\n'
    cfg.write_text(
        'mode = "sandbox"\n'
        f'[node]\ndatabase_url = "sqlite:///{tmp_path / "tg.db"}"\n'
        f'{venue}name = "one"\ncredentials = "main"\n'
        f'{venue}name = "two"\ncredentials = "{second}"\n'
    )
    return cfg


def test_a_node_with_two_credentialed_venues_derives_the_vault_key_once(
    vault_path, tmp_path, monkeypatch
):
    # each derivation costs seconds at the vault's real cost: one per run, not one per venue
    from tradeguard.config import load_config
    from tradeguard.node import TradingNode

    unlocked: list[str] = []
    real = Vault.unlock

    def counting(self, passphrase):
        unlocked.append(str(self.path))
        return real(self, passphrase)

    monkeypatch.setattr(Vault, "unlock", counting)
    monkeypatch.setenv("TG_VAULT_PATH", str(vault_path))
    monkeypatch.setenv("TG_MASTER_PASSPHRASE", PASSPHRASE)
    node = TradingNode(load_config(str(_two_credentialed_venues(tmp_path))))
    node.close()
    assert unlocked == [str(vault_path)]


def test_the_vault_key_is_derived_on_another_thread_while_the_node_builds(
    vault_path, tmp_path, monkeypatch
):
    # scrypt's seconds run on the other core while the database opens and ccxt is imported
    import threading

    from tradeguard.config import load_config
    from tradeguard.node import TradingNode

    threads: list[str] = []
    real = Vault.unlock

    def recording(self, passphrase):
        threads.append(threading.current_thread().name)
        return real(self, passphrase)

    from tradeguard.venues import ccxt_venue

    keys: dict[str, str] = {}
    build = ccxt_venue.build_ccxt_venue

    def keyed(vc, clock, *, credentials=None):
        keys[vc.name] = credentials.get("api_key")
        return build(vc, clock, credentials=credentials)

    monkeypatch.setattr(ccxt_venue, "build_ccxt_venue", keyed)
    monkeypatch.setattr(Vault, "unlock", recording)
    monkeypatch.setenv("TG_VAULT_PATH", str(vault_path))
    monkeypatch.setenv("TG_MASTER_PASSPHRASE", PASSPHRASE)
    TradingNode(load_config(str(_two_credentialed_venues(tmp_path)))).close()
    assert keys == {"one": "key-main-0123456789", "two": "key-second-0123456789"}
    assert threads == ["vault-unlock"]


def test_a_key_derived_ahead_fails_the_build_as_the_read_would(vault_path, tmp_path, monkeypatch):
    from tradeguard.config import load_config
    from tradeguard.node import TradingNode

    opened: list[Vault] = []
    real = Vault.unlock

    def recording(self, passphrase):
        opened.append(self)
        return real(self, passphrase)

    monkeypatch.setattr(Vault, "unlock", recording)
    monkeypatch.setenv("TG_VAULT_PATH", str(vault_path))
    monkeypatch.setenv("TG_MASTER_PASSPHRASE", "a wrong passphrase here")
    with pytest.raises(vault_module.VaultError, match="wrong master passphrase"):
        TradingNode(load_config(str(_two_credentialed_venues(tmp_path))))
    # a missing entry is named as before; the key derived meanwhile is forgotten once derived
    monkeypatch.setenv("TG_MASTER_PASSPHRASE", PASSPHRASE)
    with pytest.raises(ConfigError, match="no such entry"):
        other = tmp_path / "other"  # a config of its own, the entry "gone" missing
        other.mkdir()
        TradingNode(load_config(str(_two_credentialed_venues(other, second="gone"))))
    from conftest import eventually

    eventually(lambda: not opened[-1].unlocked, timeout_s=30)
    assert len(opened) == 2


def test_a_wait_for_the_key_cut_short_still_forgets_the_key_once_derived(vault_path, monkeypatch):
    # Ctrl-C while the entry's read waits for the thread: the key derived after it was kept
    # in memory, unlocked, for as long as the process went on.
    import threading
    from types import SimpleNamespace

    release = threading.Event()
    opened: list[Vault] = []
    real = Vault.unlock

    def slow(self, passphrase):
        opened.append(self)
        release.wait(30)
        real(self, passphrase)

    def interrupted(timeout=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(Vault, "unlock", slow)
    env = {"TG_VAULT_PATH": str(vault_path), "TG_MASTER_PASSPHRASE": PASSPHRASE}
    venue = SimpleNamespace(data_only=False, name="one", kind="ccxt", credentials="main")
    config = SimpleNamespace(venues=[venue], alerts=SimpleNamespace(enabled=False))
    with pytest.raises(KeyboardInterrupt), credentials.vault_session():
        credentials.unlock_ahead(config, {}, env)
        (pending,) = credentials._ahead.values()
        deriving = [t for t in threading.enumerate() if t.name == "vault-unlock"]
        pending._done.wait = interrupted
        credentials.vault_entry("one", "main", env)
    release.set()
    for thread in deriving:
        thread.join(30)
    assert len(opened) == 1 and not opened[0].unlocked
