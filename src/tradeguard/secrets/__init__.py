"""Encrypted credential vault and log redaction."""

from tradeguard.secrets.credentials import CredentialError, Credentials, mask_id
from tradeguard.secrets.permissions import check_withdrawal_permission
from tradeguard.secrets.redact import (
    RedactingFilter,
    find_secrets,
    install_redaction,
    redact,
    register_secret,
    registered_secrets,
    scan_paths,
)
from tradeguard.secrets.vault import (
    EntryInfo,
    ScryptParams,
    Vault,
    VaultError,
    read_passphrase,
)

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
