"""The Polymarket order signer encodes the typed data once: same signature and hash as the
official builder computing each on its own."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from py_clob_client_v2.order_utils import OrderV2

from tradeguard.venues.polymarket.signing import OrderSigner


@pytest.mark.parametrize("neg_risk", [False, True])
def test_signature_and_hash_equal_the_builders_own(neg_risk: bool) -> None:
    signer = OrderSigner(Account.create().key.hex())
    order_hash, signed = signer.sign(
        "tg1-7", "1001", True, Decimal(10), Decimal("0.4"), 1_700_000_000_000, neg_risk
    )
    builder = signer._builders[neg_risk]
    fields = {k: v for k, v in asdict(signed).items() if k != "signature"}
    typed = builder.build_order_typed_data(OrderV2(**fields))
    assert order_hash == builder.build_order_hash(typed)
    assert signed.signature == builder.build_order_signature(typed)
    recovered = Account.recover_message(
        encode_typed_data(full_message=typed),
        signature=signed.signature,
    )
    assert recovered == signer.address
