"""Encrypted credential vault and log redaction."""

# The vault's names load on first use: redaction is needed everywhere, the vault (and its
# cryptography library) only by the commands that open it. Redaction is imported at once: its
# function `redact` shares its name with the submodule, and importing the submodule later
# would leave the module, not the function, under that name.

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tradeguard.secrets.redact import (
    RedactingFilter,
    find_secrets,
    install_redaction,
    redact,
    register_secret,
    registered_secrets,
    scan_paths,
)

if TYPE_CHECKING:
    from tradeguard.secrets.credentials import (
        CredentialError,
        Credentials,
        mask_id,
    )
    from tradeguard.secrets.permissions import (
        check_withdrawal_permission,
    )
    from tradeguard.secrets.vault import (
        EntryInfo,
        ScryptParams,
        Vault,
        VaultError,
        read_passphrase,
    )

_WHERE = {
    "CredentialError": "tradeguard.secrets.credentials",
    "Credentials": "tradeguard.secrets.credentials",
    "mask_id": "tradeguard.secrets.credentials",
    "check_withdrawal_permission": "tradeguard.secrets.permissions",
    "EntryInfo": "tradeguard.secrets.vault",
    "ScryptParams": "tradeguard.secrets.vault",
    "Vault": "tradeguard.secrets.vault",
    "VaultError": "tradeguard.secrets.vault",
    "read_passphrase": "tradeguard.secrets.vault",
}

__all__ = [
    "CredentialError",
    "Credentials",
    "EntryInfo",
    "RedactingFilter",
    "ScryptParams",
    "Vault",
    "VaultError",
    "check_withdrawal_permission",
    "find_secrets",
    "install_redaction",
    "mask_id",
    "read_passphrase",
    "redact",
    "register_secret",
    "registered_secrets",
    "scan_paths",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
