"""Decrypted credentials that never print, log or pickle their secret values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from tradeguard.secrets.redact import register_secret

# Fields that identify rather than authenticate: shown masked, never blanked.
_ID_FIELDS = ("api_key",)

# Our field names to the CCXT constructor options.
_CCXT_NAMES = {
    "api_key": "apiKey",
    "secret": "secret",
    "password": "password",
    "passphrase": "password",
    "uid": "uid",
    "private_key": "privateKey",
    "wallet_address": "walletAddress",
    "token": "token",
}


def mask_id(value: str) -> str:
    """Return an identifier as first 4 + `…` + last 2 characters, or `***` when too short."""
    if len(value) < 12:
        return "***"
    return f"{value[:4]}…{value[-2:]}"


class CredentialError(Exception):
    """A credential field was asked for that the entry does not hold."""


class Credentials:
    """Secret fields of one vault entry; read them with `field(name)`, nothing else shows them."""

    __slots__ = ("_fields", "name", "venue")

    def __init__(self, name: str, venue: str, fields: Mapping[str, str]) -> None:
        self.name = name
        self.venue = venue
        self._fields = dict(fields)
        for value in self._fields.values():
            register_secret(value)

    def field(self, key: str) -> str:
        """Return the plain value of field `key`."""
        try:
            return self._fields[key]
        except KeyError:
            raise CredentialError(
                f"credentials {self.name!r} have no field {key!r}; fields: "
                f"{', '.join(sorted(self._fields)) or 'none'} (re-add with `tradeguard keys add "
                f"{self.name} --venue {self.venue} --field {key} --overwrite`)"
            ) from None

    def get(self, key: str, default: str | None = None) -> str | None:
        """Return the plain value of field `key`, or `default` when absent."""
        return self._fields.get(key, default)

    def field_names(self) -> tuple[str, ...]:
        """Return the names of the fields held, sorted."""
        return tuple(sorted(self._fields))

    def __contains__(self, key: object) -> bool:
        return key in self._fields

    def masked(self) -> dict[str, str]:
        """Return every field masked: identifiers shortened, secrets blanked."""
        return {
            k: mask_id(v) if k in _ID_FIELDS else "***" for k, v in sorted(self._fields.items())
        }

    def ccxt_config(self) -> dict[str, str]:
        """Return the CCXT constructor options (`apiKey`, `secret`, `password`, ...)."""
        return {_CCXT_NAMES.get(k, k): v for k, v in self._fields.items()}

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.masked().items())
        return f"Credentials(name={self.name!r}, venue={self.venue!r}, {shown})"

    __str__ = __repr__

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError(
            f"Credentials {self.name!r} cannot be pickled or copied: secrets stay in the "
            "process that decrypted them; pass the entry name and read the vault there"
        )

    def __getstate__(self) -> NoReturn:
        raise TypeError(f"Credentials {self.name!r} cannot be serialized")
