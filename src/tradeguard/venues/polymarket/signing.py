"""Deterministic V2 order signing: the order hash is a function of the journaled order.

The salt and the `metadata` field come from our client order id and the timestamp from the
order's creation time, so the hash (Polymarket's order id) can be recomputed from the journal
after a crash and the order looked up by it, never guessed.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict
from decimal import ROUND_DOWN, Decimal
from typing import Any

from tradeguard.model.recursion import kept_recursion_limit

with kept_recursion_limit():  # eth_account loads py_ecc, which raises it
    from eth_account import Account
    from eth_account.messages import encode_typed_data
from py_clob_client_v2.config import get_contract_config
from py_clob_client_v2.order_utils import (
    ExchangeOrderBuilderV2,
    OrderDataV2,
    Side,
    SignedOrderV2,
)
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2
from py_clob_client_v2.order_utils.model.signature_type_v2 import SignatureTypeV2
from py_clob_client_v2.signer import Signer
from py_clob_client_v2.signing.hmac import build_hmac_signature

SCALE = Decimal(1_000_000)
CHAIN_ID = 137


def salt_for(client_order_id: str) -> int:
    return int.from_bytes(hashlib.sha256(client_order_id.encode()).digest()[:6], "big")


def metadata_for(client_order_id: str) -> str:
    raw = client_order_id.encode()[:32]
    return "0x" + raw.hex().ljust(64, "0")


def amounts(buy: bool, size: Decimal, price: Decimal) -> tuple[int, int]:
    """(makerAmount, takerAmount) in 6-decimal units: a buy gives cash, a sell gives shares."""
    shares = int((size * SCALE).to_integral_value(rounding=ROUND_DOWN))
    cash = int((size * price * SCALE).to_integral_value(rounding=ROUND_DOWN))
    return (cash, shares) if buy else (shares, cash)


class OrderSigner:
    """Signs V2 orders with the wallet key; the key never leaves this object."""

    def __init__(self, private_key: str, chain_id: int = CHAIN_ID) -> None:
        self._signer = Signer(private_key, chain_id)
        contracts = get_contract_config(chain_id)
        self._builders = {
            neg: ExchangeOrderBuilderV2(
                contracts.neg_risk_exchange_v2 if neg else contracts.exchange_v2,
                chain_id,
                self._signer,
            )
            for neg in (False, True)
        }

    @property
    def address(self) -> str:
        return str(self._signer.address())

    def __repr__(self) -> str:
        return f"OrderSigner(address={self.address})"

    def sign(
        self,
        client_order_id: str,
        token_id: str,
        buy: bool,
        size: Decimal,
        price: Decimal,
        timestamp_ms: int,
        neg_risk: bool,
    ) -> tuple[str, Any]:
        """Return (order hash, signed order) for one order."""
        maker_amount, taker_amount = amounts(buy, size, price)
        builder = self._builders[neg_risk]
        data = OrderDataV2(
            maker=self.address,
            tokenId=token_id,
            makerAmount=str(maker_amount),
            takerAmount=str(taker_amount),
            side=Side.BUY if buy else Side.SELL,
            signer=self.address,
            timestamp=str(timestamp_ms),
            metadata=metadata_for(client_order_id),
        )
        order = builder.build_order(data)
        order.salt = str(salt_for(client_order_id))
        typed = builder.build_order_typed_data(order)
        if typed["message"]["signatureType"] == int(SignatureTypeV2.POLY_1271):
            signature, order_hash = (
                builder.build_order_signature(typed),
                builder.build_order_hash(typed),
            )
        else:
            # The builder encodes the typed data once for the signature and again for the hash;
            # one encoding gives both (the signed message's hash is the order hash).
            msg = Account.sign_message(
                encode_typed_data(full_message=typed), self._signer.private_key
            )
            signature, order_hash = "0x" + msg.signature.hex(), "0x" + msg.message_hash.hex()
        return order_hash, SignedOrderV2(**asdict(order), signature=signature)


def order_payload(signed: Any, api_key: str, order_type: str, post_only: bool) -> dict[str, Any]:
    return dict(order_to_json_v2(signed, api_key, order_type, post_only))


def l2_headers(
    creds: dict[str, str], address: str, method: str, path: str, body: str
) -> dict[str, str]:
    """The CLOB's L2 headers of one request: its HMAC under the API secret, now."""
    ts = str(int(time.time()))
    return {
        "POLY_ADDRESS": address,
        "POLY_SIGNATURE": build_hmac_signature(creds["secret"], ts, method, path, body or None),
        "POLY_TIMESTAMP": ts,
        "POLY_API_KEY": creds["api_key"],
        "POLY_PASSPHRASE": creds["passphrase"],
        "Content-Type": "application/json",
    }
