"""Verify Kalshi request signatures the way the venue does."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

TIMESTAMP_WINDOW_MS = 5_000
# epoch milliseconds in ASCII digits: str.isdigit() also takes '²' (int() then raised, a 500)
# and other scripts' digits (which int() reads as a time)
_TIMESTAMP_RE = re.compile(r"^[0-9]{1,19}$")


class AuthError(Exception):
    """A request failed authentication; `code` is Kalshi's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class KalshiKey:
    key_id: str
    public_key: rsa.RSAPublicKey
    account_id: str


def public_key_from_pem(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key.public_key()


def verify_request(
    keys: dict[str, KalshiKey], headers: dict[str, str], method: str, path: str, now_ms: int
) -> KalshiKey:
    """Return the key that signed this request, or raise AuthError."""
    key_id = headers.get("KALSHI-ACCESS-KEY", "")
    ts = headers.get("KALSHI-ACCESS-TIMESTAMP", "")
    sig = headers.get("KALSHI-ACCESS-SIGNATURE", "")
    if not key_id or not ts or not sig:
        raise AuthError("missing_parameters", "authentication headers are missing")
    key = keys.get(key_id)
    if key is None:
        raise AuthError("authentication_error", "unknown API key")
    if not _TIMESTAMP_RE.fullmatch(ts) or abs(int(ts) - now_ms) > TIMESTAMP_WINDOW_MS:
        raise AuthError("authentication_error", "timestamp outside the allowed window")
    try:
        raw = base64.b64decode(sig, validate=True)
        key.public_key.verify(
            raw,
            f"{ts}{method.upper()}{path}".encode(),
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=hashes.SHA256.digest_size),
            hashes.SHA256(),
        )
    except (InvalidSignature, binascii.Error, ValueError):
        raise AuthError("authentication_error", "signature does not verify") from None
    return key
