"""Verify Polymarket's EIP-712 V2 orders, L1 (ClobAuth) and L2 (HMAC) headers as the CLOB does."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from eth_abi.exceptions import EncodingError

from tradeguard.model.recursion import kept_recursion_limit
from tradeguard.sandbox.auth import same_secret

with kept_recursion_limit():  # eth_account loads py_ecc, which raises it
    from eth_account import Account
    from eth_account.messages import encode_typed_data
from eth_utils import keccak
from eth_utils.exceptions import ValidationError

CHAIN_ID = 137
EXCHANGE_V2 = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE_V2 = "0xe2222d279d744050d28e00520010520000310F59"
CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"
AUTH_WINDOW_S = 30

_DOMAIN = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
_ORDER = [
    {"name": n, "type": t}
    for n, t in (
        ("salt", "uint256"), ("maker", "address"), ("signer", "address"),
        ("tokenId", "uint256"), ("makerAmount", "uint256"), ("takerAmount", "uint256"),
        ("side", "uint8"), ("signatureType", "uint8"), ("timestamp", "uint256"),
        ("metadata", "bytes32"), ("builder", "bytes32"),
    )
]  # fmt: skip
_CLOB_AUTH = [
    {"name": "address", "type": "address"},
    {"name": "timestamp", "type": "string"},
    {"name": "nonce", "type": "uint256"},
    {"name": "message", "type": "string"},
]


class PolyAuthError(Exception):
    """Authentication or signature failure; the CLOB answers {"error": message}."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


def order_typed_data(order: dict[str, Any], neg_risk: bool) -> dict[str, Any]:
    """The EIP-712 typed data of a V2 order as it arrives in POST /order."""
    return {
        "primaryType": "Order",
        "types": {"EIP712Domain": _DOMAIN, "Order": _ORDER},
        "domain": {
            "name": "Polymarket CTF Exchange",
            "version": "2",
            "chainId": CHAIN_ID,
            "verifyingContract": NEG_RISK_EXCHANGE_V2 if neg_risk else EXCHANGE_V2,
        },
        "message": {
            "salt": int(order["salt"]),
            "maker": order["maker"],
            "signer": order["signer"],
            "tokenId": int(order["tokenId"]),
            "makerAmount": int(order["makerAmount"]),
            "takerAmount": int(order["takerAmount"]),
            "side": 0 if order["side"] == "BUY" else 1,
            "signatureType": int(order["signatureType"]),
            "timestamp": int(order["timestamp"]),
            "metadata": bytes.fromhex(str(order["metadata"]).removeprefix("0x").zfill(64)),
            "builder": bytes.fromhex(str(order["builder"]).removeprefix("0x").zfill(64)),
        },
    }


def verify_order(order: dict[str, Any], neg_risk: bool) -> str:
    """Return the order hash if an EOA signature recovers to signer == maker; else raise."""
    try:
        msg = encode_typed_data(full_message=order_typed_data(order, neg_risk))
        recovered = Account.recover_message(msg, signature=order["signature"])
    except (KeyError, ValueError, TypeError, IndexError, EncodingError, ValidationError) as exc:
        # a field of the wrong type or size: the eth libraries raise their own families
        raise PolyAuthError(f"invalid order payload: {type(exc).__name__}", 400) from None
    if int(order["signatureType"]) != 0:
        raise PolyAuthError("only EOA (signatureType 0) orders are supported here", 400)
    if recovered.lower() != str(order["signer"]).lower() or order["signer"] != order["maker"]:
        raise PolyAuthError("invalid order signature", 400)
    return "0x" + keccak(b"\x19" + msg.version + msg.header + msg.body).hex()


def _in_window(ts: str, now_s: int) -> bool:
    """Whether an auth timestamp is epoch seconds in ASCII digits (a few: int() refuses
    thousands) within the window of now."""
    ok = ts.isascii() and ts.isdigit() and len(ts) <= 19
    return ok and abs(int(ts) - now_s) <= AUTH_WINDOW_S


def _nonce(raw: str) -> int:
    """The ClobAuth nonce: a uint256 in ASCII digits (int() also read '٣', ' 3', '+3' and
    '0_3', so headers signed over one nonce passed with another spelling of it)."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 78) or int(raw) >= 2**256:
        raise PolyAuthError(
            f"Invalid L1 Request headers: POLY_NONCE {raw[:80]!r} is not a uint256 in ASCII digits"
        )
    return int(raw)


def verify_l1(headers: dict[str, str], now_s: int) -> tuple[str, int]:
    """Check ClobAuth headers; return (address, nonce)."""
    try:
        address, ts = headers["POLY_ADDRESS"], headers["POLY_TIMESTAMP"]
        sig = headers["POLY_SIGNATURE"]
    except KeyError:
        raise PolyAuthError("Invalid L1 Request headers") from None
    nonce = _nonce(headers.get("POLY_NONCE", "0"))
    if not _in_window(ts, now_s):
        raise PolyAuthError("Invalid L1 Request headers: timestamp outside the window")
    typed = {
        "primaryType": "ClobAuth",
        "types": {"EIP712Domain": _DOMAIN[:3], "ClobAuth": _CLOB_AUTH},
        "domain": {"name": "ClobAuthDomain", "version": "1", "chainId": CHAIN_ID},
        "message": {
            "address": address, "timestamp": ts, "nonce": nonce, "message": CLOB_AUTH_MESSAGE,
        },
    }  # fmt: skip
    try:
        recovered = Account.recover_message(encode_typed_data(full_message=typed), signature=sig)
    except (ValueError, TypeError):
        raise PolyAuthError("Invalid L1 Request headers") from None
    if recovered.lower() != address.lower():
        raise PolyAuthError("Invalid L1 Request headers")
    return recovered, nonce


def hmac_signature(secret: str, ts: str, method: str, path: str, body: str) -> str:
    message = f"{ts}{method}{path}{body}"
    digest = hmac.new(base64.urlsafe_b64decode(secret), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()


def verify_l2(
    creds: dict[str, tuple[str, str, str]],
    headers: dict[str, str],
    method: str,
    path: str,
    body: str,
    now_s: int,
) -> str:
    """Check L2 HMAC headers against `creds` (api key -> secret, passphrase, address)."""
    key = headers.get("POLY_API_KEY", "")
    if key not in creds:
        raise PolyAuthError("Unauthorized/Invalid api key")
    secret, passphrase, address = creds[key]
    ts = headers.get("POLY_TIMESTAMP", "")
    if not _in_window(ts, now_s):
        raise PolyAuthError("Unauthorized: timestamp outside the window")
    if (
        headers.get("POLY_PASSPHRASE") != passphrase
        or headers.get("POLY_ADDRESS", "").lower() != address.lower()
    ):
        raise PolyAuthError("Unauthorized/Invalid api key")
    expected = hmac_signature(secret, ts, method, path, body)
    if not same_secret(headers.get("POLY_SIGNATURE", ""), expected):
        raise PolyAuthError("Unauthorized/Invalid signature")
    return address
