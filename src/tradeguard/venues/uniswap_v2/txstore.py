"""Signed transactions, journaled before broadcast: the record and the store protocol.

A swap's raw signed transaction and hash are saved (and committed) before it is broadcast, so a
node that dies at any moment finds, at start-up, every transaction it may have sent and looks
each one up by hash instead of signing a second one for the same order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol

# signed: saved, maybe not broadcast; sent: broadcast; mined/reverted: in a block;
# dropped: its nonce went to another transaction; replaced: a re-signed copy took over.
OPEN_STATES = frozenset({"signed", "sent"})


@dataclass(frozen=True, slots=True)
class TxRecord:
    tx_hash: str
    venue: str
    client_order_id: str
    kind: str  # approve | swap | cancel
    sender: str
    nonce: int
    raw_tx: str
    max_fee_per_gas: int
    status: str = "signed"
    created_ts: int = 0
    updated_ts: int = 0
    detail: dict[str, Any] = field(default_factory=dict)

    def with_status(self, status: str, ts: int) -> TxRecord:
        return replace(self, status=status, updated_ts=ts)


class TxStore(Protocol):
    """Durable transaction journal; `save` returns only once the row is committed."""

    def save(self, record: TxRecord) -> None: ...

    def for_order(self, venue: str, client_order_id: str) -> list[TxRecord]: ...

    def open_records(self, venue: str) -> list[TxRecord]: ...

    def max_nonce(self, venue: str, sender: str) -> int | None: ...


class MemoryTxStore:
    """A TxStore in memory, for tests and benchmarks."""

    def __init__(self) -> None:
        self.rows: dict[str, TxRecord] = {}

    def save(self, record: TxRecord) -> None:
        self.rows[record.tx_hash] = record

    def for_order(self, venue: str, client_order_id: str) -> list[TxRecord]:
        found = [
            r
            for r in self.rows.values()
            if r.venue == venue and r.client_order_id == client_order_id
        ]
        return sorted(found, key=lambda r: (r.created_ts, r.nonce))

    def open_records(self, venue: str) -> list[TxRecord]:
        return [r for r in self.rows.values() if r.venue == venue and r.status in OPEN_STATES]

    def max_nonce(self, venue: str, sender: str) -> int | None:
        nonces = [
            r.nonce
            for r in self.rows.values()
            if r.venue == venue and r.sender == sender and r.status != "dropped"
        ]
        return max(nonces) if nonces else None
