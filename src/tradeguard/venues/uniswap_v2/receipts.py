"""Hold what the RPC says of a journaled transaction to what we signed.

A receipt is booked (a fill, gas as a fee) only when it is the receipt of the hash asked for
and its figures fit the signed transaction: a status of 0 or 1, gas used within the gas limit
we signed, a gas price within the fee cap we signed. Anything else is an answer we cannot
trust; the lookup stays unanswered (`AmbiguousVenueError`) and the record stays open, so a
later, honest answer books it.

```python
lookup = await checked_lookup(venue.chain, record, venue.name)   # mined | pending | unknown
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.venues.uniswap_v2.rpc import RpcFailure, TxLookup

if TYPE_CHECKING:
    from tradeguard.venues.uniswap_v2.rpc import ChainClient
    from tradeguard.venues.uniswap_v2.txstore import TxRecord


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value).lower()


def _signed(record: TxRecord, key: str) -> int | None:
    value = dict(record.detail.get("tx") or {}).get(key)
    if isinstance(value, str) and value.startswith("0x"):
        return int(value, 16)
    return value if isinstance(value, int) else None


def _int(receipt: Any, key: str) -> int:
    value = receipt.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key}={value!r} is not an integer")
    return value


def receipt_problem(record: TxRecord, receipt: Any) -> str:
    """Return why `receipt` cannot be `record`'s, or '' when it fits what was signed."""
    got = _hex(receipt.get("transactionHash"))
    if got != record.tx_hash.lower():
        return f"the RPC answered the receipt of another transaction ({got})"
    try:
        status, gas_used = _int(receipt, "status"), _int(receipt, "gasUsed")
        price, block = _int(receipt, "effectiveGasPrice"), _int(receipt, "blockNumber")
    except ValueError as exc:
        return f"the RPC answered a receipt with {exc}"
    if status not in (0, 1):
        return f"the RPC answered a receipt with status={status}, not 0 or 1"
    if block < 0:
        return f"the RPC answered a receipt with blockNumber={block}"
    limit = _signed(record, "gas")
    if gas_used <= 0 or (limit is not None and gas_used > limit):
        return (
            f"the RPC answered a receipt with gasUsed={gas_used}, the signed gas limit is {limit}"
        )
    cap = _signed(record, "maxFeePerGas") or record.max_fee_per_gas
    if price < 0 or price > cap:
        return f"the RPC answered a receipt with effectiveGasPrice={price}, the signed cap is {cap}"
    return ""


async def checked_lookup(
    chain: ChainClient, record: TxRecord, venue: str, confirmations: int = 1
) -> TxLookup:
    """Look `record` up; refuse (ambiguous) an answer that cannot be about what we signed.

    A swap or cancel mined with fewer than `confirmations` blocks on it (its own counted) is
    `confirming`: not booked yet, neither re-sent nor replaced; one a reorg takes out is then
    unknown and sent again. An approval books its gas at once (the allowance is read afresh).
    """
    try:
        lookup = await chain.lookup(record.tx_hash)
    except RpcFailure as exc:
        raise AmbiguousVenueError(
            venue, f"lookup of tx {record.tx_hash} not answered: {exc}", "RPC_ANSWER"
        ) from None
    if lookup.state == "mined":
        problem = receipt_problem(record, lookup.receipt)
        if problem:
            raise AmbiguousVenueError(
                venue,
                f"receipt of {record.tx_hash} not booked: {problem}; "
                "the transaction stays open until the RPC answers for it",
                "RPC_ANSWER",
            )
        if confirmations > 1 and record.kind != "approve":
            block = int(lookup.receipt["blockNumber"])
            if await chain.block_number() - block + 1 < confirmations:
                return TxLookup("confirming", lookup.receipt)
    return lookup
