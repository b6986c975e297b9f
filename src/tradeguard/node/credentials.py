"""Read a venue's credentials from the vault; the node hands them to the venue it builds."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from tradeguard.model.errors import ConfigError


def venue_credentials(vc: Any, environ: Mapping[str, str] | None = None) -> Any:
    """Return the vault entry a venue config names, or None when it names none."""
    if not vc.credentials:
        return None
    return vault_entry(vc.name, vc.credentials, environ)


def vault_entry(venue: str, entry: str, environ: Mapping[str, str] | None = None) -> Any:
    """Decrypt one vault entry for a venue (TG_VAULT_PATH, TG_VAULT_PASSPHRASE or a prompt)."""
    # Imported here: the vault's cryptography library is for venues with credentials only.
    from tradeguard.secrets.vault import Vault, default_vault_path, read_passphrase

    env = dict(os.environ if environ is None else environ)
    vault = Vault(default_vault_path(env))
    if not vault.exists:
        raise ConfigError(
            f"venue {venue}: credentials={entry!r} but the vault {vault.path} does not exist "
            "(set TG_VAULT_PATH or run `tradeguard keys add`)"
        )
    vault.unlock(read_passphrase(env))
    try:
        return vault.get(entry)
    finally:
        vault.lock()
