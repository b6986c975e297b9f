"""Shared helpers for the prediction-market tests: RSA keys and a seeded local Kalshi."""

from __future__ import annotations

from decimal import Decimal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tradeguard.sandbox.kalshi.server import KalshiExchange

TICKER = "KXFED-26DEC-T4.00"


def rsa_pem() -> tuple[str, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, key


def seeded_kalshi(ex: KalshiExchange, cash: str = "1000") -> tuple[str, str]:
    """Add one market with house liquidity and a funded account; return (key_id, pem)."""
    ex.add_market(TICKER, "KXFED-26DEC", "Fed funds above 4.00% in December?")
    ex.seed_book(TICKER, yes_bids=[("0.45", "100")], yes_asks=[("0.47", "100")])
    pem, key = rsa_pem()
    key_id = ex.add_account(key.public_key(), Decimal(cash))
    return key_id, pem
