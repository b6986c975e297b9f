"""The DEX transaction journal kept in the node's database (one kv row per venue).

Each `save` commits at once, so a signed transaction is durable before it is broadcast.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from tradeguard.venues.uniswap_v2.txstore import OPEN_STATES, TxRecord


class StoredTxJournal:
    """A TxStore over `Storage.kv_get/kv_set`; records keyed by transaction hash."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage

    @staticmethod
    def _key(venue: str) -> str:
        return f"dex.tx.{venue}"

    def _load(self, venue: str) -> dict[str, TxRecord]:
        raw = self.storage.kv_get(self._key(venue)) or {}
        return {h: TxRecord(**row) for h, row in raw.items()}

    def save(self, record: TxRecord) -> None:
        rows = self._load(record.venue)
        rows[record.tx_hash] = record
        with self.storage.transaction():
            self.storage.kv_set(self._key(record.venue), {h: asdict(r) for h, r in rows.items()})

    def for_order(self, venue: str, client_order_id: str) -> list[TxRecord]:
        found = [r for r in self._load(venue).values() if r.client_order_id == client_order_id]
        return sorted(found, key=lambda r: (r.created_ts, r.nonce))

    def open_records(self, venue: str) -> list[TxRecord]:
        return [r for r in self._load(venue).values() if r.status in OPEN_STATES]

    def max_nonce(self, venue: str, sender: str) -> int | None:
        nonces = [
            r.nonce
            for r in self._load(venue).values()
            if r.sender == sender and r.status != "dropped"
        ]
        return max(nonces) if nonces else None
