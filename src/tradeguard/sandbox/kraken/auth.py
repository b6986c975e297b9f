"""Kraken's private-endpoint signature and per-key nonce check.

API-Sign = base64(HMAC-SHA512(base64decode(secret), uri_path + SHA256(nonce + post_data))), and
every request's `nonce` must be greater than the last one the key used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

INVALID_KEY = "EAPI:Invalid key"
INVALID_SIGNATURE = "EAPI:Invalid signature"
INVALID_NONCE = "EAPI:Invalid nonce"
NONCE_MAX = 2**64 - 1  # Kraken's nonce is an unsigned 64-bit integer


class KrakenAuthError(Exception):
    """A refused private request; the message is Kraken's error string."""


@dataclass(slots=True)
class KrakenKey:
    api_key: str
    secret: bytes  # decoded from the base64 secret handed out
    account_id: str
    last_nonce: int = 0


def decode_secret(secret: str) -> bytes:
    """The raw bytes of a base64 API secret; ValueError naming the problem otherwise."""
    try:
        raw = base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("kraken secret must be base64 (as Kraken hands them out)") from None
    if not raw:
        raise ValueError("kraken secret is empty")
    return raw


def sign(secret: bytes, uri_path: str, nonce: str, body: str) -> str:
    """The API-Sign header of a request."""
    digest = hashlib.sha256((nonce + body).encode()).digest()
    mac = hmac.new(secret, uri_path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


class KrakenKeys:
    """The API keys the sandbox answers to, each with its last nonce."""

    def __init__(self) -> None:
        self.keys: dict[str, KrakenKey] = {}

    def add(self, api_key: str, secret: str, account_id: str) -> None:
        self.keys[api_key] = KrakenKey(api_key, decode_secret(secret), account_id)

    def verify(self, api_key: str, signature: str, uri_path: str, nonce: str, body: str) -> str:
        """Check key, signature and nonce; return the account id or raise KrakenAuthError."""
        key = self.keys.get(api_key)
        if key is None:
            raise KrakenAuthError(INVALID_KEY)
        # ASCII digits only: str.isdigit() also takes "²" and other scripts' digits
        if not (nonce.isascii() and nonce.isdigit() and len(nonce) <= 20):
            raise KrakenAuthError(INVALID_NONCE)
        value = int(nonce)
        if value > NONCE_MAX:  # taken, it would leave the key no nonce above it
            raise KrakenAuthError(INVALID_NONCE)
        expected = sign(key.secret, uri_path, nonce, body)
        # compare_digest raises on non-ASCII text: a header of it is simply not our signature
        if not signature.isascii() or not hmac.compare_digest(expected, signature):
            raise KrakenAuthError(INVALID_SIGNATURE)
        if value <= key.last_nonce:
            raise KrakenAuthError(INVALID_NONCE)
        key.last_nonce = value
        return key.account_id
