"""What a vault entry may hold: names, venues and field values, checked before anything is stored.

Kept apart from the vault so the command line can refuse a bad name or value before it asks for a
passphrase or creates a vault file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

__all__ = [
    "MAX_FIELD_CHARS",
    "VaultError",
    "VaultInputError",
    "validate_entry",
    "validate_entry_name",
    "validate_field_names",
]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_FIELD_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_FIELD_CHARS = 16_384  # a PEM private key is ~3,300; an API secret is under 200


class VaultError(Exception):
    """The vault cannot do what was asked; the message says why and what to do, never a secret."""


class VaultInputError(VaultError):
    """What was given (an entry name, a venue, a field) is refused: a usage error, exit 2."""


def validate_entry_name(name: str, venue: str) -> None:
    """Refuse an entry name or venue the vault cannot store (before any prompt)."""
    if not _NAME_RE.fullmatch(name):  # fullmatch: '$' would let a trailing newline through
        raise VaultInputError(
            f"entry name {name!r} is invalid: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. binance-main)"
        )
    if not _NAME_RE.fullmatch(venue):
        raise VaultInputError(
            f"venue {venue!r} is invalid: use 1-64 letters, digits, '.', '_' or '-'"
        )


def validate_field_names(name: str, keys: Iterable[str]) -> None:
    """Refuse a field name the vault cannot store (before any prompt)."""
    for key in keys:
        if not _FIELD_RE.fullmatch(key):
            raise VaultInputError(
                f"field name {key!r} of entry {name!r} is invalid: use lower-case letters, "
                "digits and '_' (e.g. api_key, secret, passphrase, private_key)"
            )


def validate_entry(name: str, venue: str, fields: Mapping[str, str]) -> None:
    """Refuse an entry the vault cannot store, naming the field and never showing a value."""
    validate_entry_name(name, venue)
    if not fields:
        raise VaultInputError(
            f"entry {name!r} has no fields; give at least one (e.g. api_key, secret)"
        )
    validate_field_names(name, fields)
    for key, value in fields.items():
        if not isinstance(value, str) or not value:
            raise VaultInputError(f"field {key!r} of entry {name!r} is empty; give a value")
        # The value is never echoed: it is a secret. Only what is wrong with it is said.
        if len(value) > MAX_FIELD_CHARS:
            raise VaultInputError(
                f"field {key!r} of entry {name!r} is {len(value):,} characters long; allowed "
                f"at most {MAX_FIELD_CHARS:,} (was a file piped in by mistake?)"
            )
        if any(
            ("\ud800" <= c <= "\udfff") or (c < " " and c not in "\n\r\t") or c == "\x7f"
            for c in value
        ):
            raise VaultInputError(
                f"field {key!r} of entry {name!r} holds bytes that are not UTF-8 text or control "
                "characters; give the value as the exchange shows it"
            )
        if any(unicodedata.category(c) == "Cf" for c in value):  # zero-width, bidi overrides
            raise VaultInputError(
                f"field {key!r} of entry {name!r} holds an invisible format character (such as "
                "a zero-width space, often copied from a web page); type the value again"
            )
