"""Judge the transaction that took a journaled swap's nonce without being journaled itself.

Another tool on the same wallet may re-sign a pending swap ("speed up": the same nonce, a
higher fee) or use its nonce for something else. Our hash then never mines. When the mined
transaction's receipt proves the very swap we signed (the same pair and side, to the wallet,
within the signed amounts), it is journaled as a copy of the order and booked from its receipt
like our own; otherwise the order's swap is replaced, nothing is booked on it, and what that
transaction moved is the balance sync's to account for.

```python
taken = judge(tx, receipt, records, tokens, pair, now_ms)   # Taken(hash, block, copy, why)
```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tradeguard.model.enums import Side
from tradeguard.venues.uniswap_v2.fills import prove_swap
from tradeguard.venues.uniswap_v2.settings import Token
from tradeguard.venues.uniswap_v2.txstore import TxRecord


@dataclass(frozen=True, slots=True)
class Taken:
    """The transaction that used the order's nonce: a copy to book it by, or why not."""

    tx_hash: str
    block: int  # the block it was mined in
    copy: TxRecord | None  # journaled as the order's swap when it made the very swap
    why: str = ""  # what it did instead, when it did not


def tx_hash_of(tx: Any) -> str:
    raw = tx.get("hash")
    return "0x" + bytes(raw).hex() if isinstance(raw, bytes | bytearray) else str(raw).lower()


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value or 0)


def judge(
    tx: Any,
    receipt: Any,
    records: list[TxRecord],
    tokens: tuple[Token, Token],
    pair: str,
    now_ms: int,
) -> Taken:
    """Tell whether `tx` (mined with `receipt`, signed outside the node with the nonce of the
    order's `records`) made the swap they journal; `tokens` is (base, quote)."""
    newest = max(records, key=lambda r: r.created_ts)
    tx_hash, block = tx_hash_of(tx), int(receipt["blockNumber"])
    if int(receipt["status"]) != 1:
        return Taken(tx_hash, block, None, "reverted")
    side = Side(str(newest.detail["side"]))
    proof = prove_swap(receipt, side, tokens, pair, newest.sender, newest.detail)
    if isinstance(proof, str):
        return Taken(tx_hash, block, None, f"did not make this swap ({proof})")
    fee = _int(tx.get("maxFeePerGas") or tx.get("gasPrice"))
    signed = {"gas": hex(_int(tx.get("gas"))), "maxFeePerGas": hex(fee)}
    copy = TxRecord(
        tx_hash=tx_hash, venue=newest.venue, client_order_id=newest.client_order_id,
        kind="swap", sender=newest.sender, nonce=newest.nonce, raw_tx="",
        max_fee_per_gas=fee, status="sent", created_ts=now_ms, updated_ts=now_ms,
        detail={**newest.detail, "tx": signed, "signed_outside": True},
    )  # fmt: skip
    return Taken(tx_hash, block, copy)
