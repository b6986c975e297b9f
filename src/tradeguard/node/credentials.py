"""Read a venue's credentials from the vault; the node hands them to the venue it builds."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from tradeguard.ctrl_c_reach import start_thread
from tradeguard.model.errors import ConfigError

# A passphrase typed at the prompt, by vault path: a node with several venues (and alert
# secrets) asks once, not once per entry. Kept only after it unlocked the vault.
_typed: dict[str, str] = {}
# While a node is built (`vault_session`): each vault it unlocked, by path, kept unlocked so
# that its key is derived once per run (seconds each) rather than once per venue.
_session: dict[str, Any] | None = None
# While a node is built: a vault whose key is being derived on a thread (`unlock_ahead`), by
# path, until the first entry read from it takes it into `_session`.
_ahead: dict[str, _Unlocking] = {}


@contextmanager
def vault_session() -> Iterator[None]:
    """Keep every vault unlocked in this block open until it ends, then lock them all."""
    global _session
    if _session is not None:  # nested: the outer block locks
        yield
        return
    _session = {}
    try:
        yield
    finally:
        opened, _session = _session, None
        for vault in opened.values():
            vault.lock()
        for pending in _ahead.values():  # never read: locked as soon as its derivation ends
            pending.close()
        _ahead.clear()


class _Unlocking:
    """A vault being unlocked on a thread: scrypt's key derivation (seconds, on purpose) runs
    on another core while the node's build goes on; the entry's reader waits for it."""

    def __init__(self, vault: Any, passphrase: str) -> None:
        self.vault, self._passphrase = vault, passphrase
        self.error: BaseException | None = None
        self._done = threading.Event()
        self._closed = False
        self._guard = threading.Lock()
        start_thread(threading.Thread(target=self._run, name="vault-unlock", daemon=True))

    def _run(self) -> None:
        try:
            self.vault.unlock(self._passphrase)
        except BaseException as exc:  # handed to the reader, who raises it as unlock did
            self.error = exc
        finally:
            with self._guard:
                self._done.set()
                if self._closed:
                    self.vault.lock()

    def result(self) -> Any:
        """Wait for the derivation; return the unlocked vault or raise what unlock raised."""
        if not self._done.is_set() and sys.stderr.isatty():
            print("unlocking the key vault ...", file=sys.stderr, flush=True)
        self._done.wait()
        if self.error is not None:
            raise self.error
        return self.vault

    def close(self) -> None:
        with self._guard:
            self._closed = True
            if self._done.is_set():
                self.vault.lock()


def unlock_ahead(
    config: Any, given: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> None:
    """Inside `vault_session`: start deriving the vault's key on a thread when the node about
    to be built reads an entry from it (a venue it builds with credentials, or the alerts'
    secrets) and the passphrase is set in the environment (a prompt waits for the entry's
    read, as before). The entry's read then checks the vault and its entry as before and waits
    for the key; every error is the one the read would raise by itself."""
    venues = [
        vc for vc in config.venues
        if not vc.data_only and vc.name not in given and vc.kind != "paper" and vc.credentials
    ]  # fmt: skip
    alerts = config.alerts.enabled and bool(config.alerts.credentials)
    if _session is None or not (venues or alerts):
        return
    from tradeguard.secrets.vault import (
        PASSPHRASE_ENV,
        Vault,
        check_passphrase,
        default_vault_path,
    )  # the vault's cryptography: only for a node that reads it

    env = os.environ if environ is None else environ
    vault = Vault(default_vault_path(env))
    key = str(vault.path.resolve())
    passphrase = _typed.get(key) or env.get(PASSPHRASE_ENV)
    if key in _session or key in _ahead or not passphrase or not vault.exists:
        return
    try:
        check_passphrase(passphrase)
    except Exception:  # refused by the entry's read, with the variable's name
        return
    _ahead[key] = _Unlocking(vault, passphrase)


def venue_credentials(vc: Any, environ: Mapping[str, str] | None = None) -> Any:
    """Return the vault entry a venue config names, or None when it names none."""
    if not vc.credentials:
        return None
    return vault_entry(vc.name, vc.credentials, environ)


def vault_entry(venue: str, entry: str, environ: Mapping[str, str] | None = None) -> Any:
    """Decrypt one vault entry for a venue (TG_VAULT_PATH, TG_VAULT_PASSPHRASE or a prompt)."""
    # Imported here: the vault's cryptography library is for venues with credentials only.
    from tradeguard.secrets import vault as vault_module
    from tradeguard.secrets.vault import (
        PASSPHRASE_ENV,
        Vault,
        default_vault_path,
        read_passphrase,
    )

    env = dict(os.environ if environ is None else environ)
    vault = Vault(default_vault_path(env))
    if not vault.exists:
        raise ConfigError(
            f"venue {venue}: credentials={entry!r} but the vault {vault.path} does not exist "
            "(set TG_VAULT_PATH or run `tradeguard keys add`)"
        )
    names = vault.stored_names()
    if entry not in names:
        raise ConfigError(
            f"venue {venue}: credentials={entry!r} but the vault {vault.path} has no such entry "
            f"(entries: {', '.join(names) or 'none'}); add it with `tradeguard keys add {entry} "
            "--venue VENUE`"
        )
    key = str(vault.path.resolve())
    held = _session.get(key) if _session is not None else None
    if held is not None:
        return held.get(entry)
    pending = _ahead.pop(key, None)
    if pending is not None and _session is not None:
        try:
            _session[key] = pending.result()  # raises what unlock raised; else locked at the end
        except BaseException:  # and a wait cut short (Ctrl-C): the key forgotten once derived
            pending.close()
            raise
        return _session[key].get(entry)
    passphrase = _typed.get(key) or read_passphrase(env, vault_module.terminal_prompt)
    if sys.stderr.isatty():  # the key derivation takes seconds: say what the wait is
        print("unlocking the key vault ...", file=sys.stderr, flush=True)
    vault.unlock(passphrase)
    if not env.get(PASSPHRASE_ENV):
        _typed[key] = passphrase
    if _session is not None:
        _session[key] = vault  # locked when the session ends
        return vault.get(entry)
    try:
        return vault.get(entry)
    finally:
        vault.lock()


# vault field -> (the alerts section, the setting it fills); None: the alerts table itself
ALERT_SECRETS: dict[str, tuple[str | None, str]] = {
    "webhook_url": ("webhook", "url"),
    "telegram_bot_token": ("telegram", "bot_token"),
    "smtp_password": ("smtp", "password"),
    "heartbeat_url": (None, "heartbeat_url"),
}


def alerts_with_vault_secrets(alerts: Any, environ: Mapping[str, str] | None = None) -> Any:
    """Return the alert settings with the secrets of the vault entry `alerts.credentials` filled
    in (unchanged when it names none). A secret set both there and in the config, a field that
    is no alert secret, or a value its setting refuses is a ConfigError; no value is shown."""
    if not alerts.credentials:
        return alerts
    from pydantic import ValidationError

    entry = alerts.credentials
    creds = vault_entry("alerts", entry, environ)
    unknown = sorted(set(creds.field_names()) - set(ALERT_SECRETS))
    if unknown:
        raise ConfigError(
            f"alerts.credentials={entry!r}: field(s) {', '.join(unknown)} are no alert secret; "
            f"the entry may hold {', '.join(ALERT_SECRETS)}"
        )
    data = alerts.model_dump()
    for field, (section, name) in ALERT_SECRETS.items():
        value = creds.get(field)
        if value is None:
            continue
        holder = data if section is None else data[section]
        if holder[name].get_secret_value():
            where = name if section is None else f"{section}.{name}"
            raise ConfigError(
                f"alerts.{where} is set in the config and as {field} in the vault entry "
                f"{entry!r}; keep it in one place (the vault)"
            )
        holder[name] = value
    try:
        return type(alerts).model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"alerts.{where} from the vault entry {entry!r}: {first['msg']}"
        ) from None
