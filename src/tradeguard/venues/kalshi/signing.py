"""Kalshi request signing: RSA-PSS (SHA-256, MGF1-SHA256, salt = digest length)."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

API_PREFIX = "/trade-api/v2"


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """Parse a PEM private key; ValueError (without the key text) when it is not RSA."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("kalshi private_key_pem: not a readable unencrypted PEM key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("kalshi private_key_pem: the key is not an RSA key")
    return key


def signing_message(timestamp_ms: str, method: str, path: str) -> bytes:
    """What is signed: timestamp + METHOD + path (with /trade-api/v2, without the query)."""
    return f"{timestamp_ms}{method.upper()}{path.split('?', 1)[0]}".encode()


def sign(key: rsa.RSAPrivateKey, timestamp_ms: str, method: str, path: str) -> str:
    """Return the base64 KALSHI-ACCESS-SIGNATURE of one request."""
    sig = key.sign(
        signing_message(timestamp_ms, method, path),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
        hashes.SHA256(),
    )
    return base64.b64encode(sig).decode()


def auth_headers(
    key_id: str, key: rsa.RSAPrivateKey, timestamp_ms: int, method: str, path: str
) -> dict[str, str]:
    """The three KALSHI-ACCESS-* headers of one request."""
    ts = str(timestamp_ms)
    return {
        "KALSHI-ACCESS-KEY": key_id,
        "KALSHI-ACCESS-TIMESTAMP": ts,
        "KALSHI-ACCESS-SIGNATURE": sign(key, ts, method, path),
    }
