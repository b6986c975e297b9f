"""Sign, journal, then broadcast: the only way a transaction leaves the node.

```python
sender = TxSender("dex", chain, store, key, chain_id, max_fee_cap_wei, clock_ms)
record = await sender.send("cid-1", "swap", tx)      # journaled (committed) before broadcast
```

Nonces come from the larger of the chain's mined count and the journal's highest nonce + 1,
so pending transactions keep their nonces across restarts; a pending count past both (another
sender's transaction on the wallet) refuses to sign rather than replace it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError
from tradeguard.venues.uniswap_v2 import crashpoints
from tradeguard.venues.uniswap_v2.rpc import ChainClient, RpcFailure
from tradeguard.venues.uniswap_v2.txstore import TxRecord, TxStore

GWEI = 10**9


def gwei(value: int) -> str:
    return f"{Decimal(value) / GWEI:f}"


class TxSender:
    """Holds the wallet key (never shown) and sends journaled transactions from it."""

    def __init__(
        self,
        venue: str,
        chain: ChainClient,
        store: TxStore,
        private_key: str,
        chain_id: int,
        max_fee_cap_wei: int,
        priority_fee_wei: int,
        now_ms: Callable[[], int],
    ) -> None:
        from tradeguard.model.recursion import kept_recursion_limit

        with kept_recursion_limit():  # eth_account loads py_ecc, which raises it
            from eth_account import Account

        self.venue = venue
        self.chain = chain
        self.store = store
        self._account = Account.from_key(private_key)
        self.address: str = self._account.address
        self.chain_id = chain_id
        self.max_fee_cap_wei = max_fee_cap_wei
        self.priority_fee_wei = priority_fee_wei
        self.now_ms = now_ms
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"TxSender(venue={self.venue!r}, address={self.address})"

    async def fees(self) -> tuple[int, int]:
        """Return (max fee, priority fee) per gas, or refuse when the network asks above the cap."""
        base = await self.chain.base_fee()
        tip = min(self.priority_fee_wei, self.max_fee_cap_wei)
        if base + tip > self.max_fee_cap_wei:
            raise DefinitiveVenueError(
                self.venue,
                f"gas refused: the network asks {gwei(base + tip)} gwei per gas (base fee "
                f"{gwei(base)} + tip {gwei(tip)}), above max_fee_per_gas_gwei="
                f"{gwei(self.max_fee_cap_wei)}; wait for lower fees or raise the cap",
                "FEE_CAP",
            )
        return min(self.max_fee_cap_wei, 2 * base + tip), tip

    async def check_chain(self) -> None:
        """Refuse to sign when the RPC now answers another chain id than at connect: its reads
        (reserves, balances, nonces) are another chain's, whatever the signature would allow."""
        now = await self.chain.chain_id()
        if now != self.chain_id:
            raise DefinitiveVenueError(
                self.venue,
                f"transaction refused: the RPC answered eth_chainId={self.chain_id} at start "
                f"but eth_chainId={now} now; nothing is signed until the endpoint is the chain "
                "the node started on (restart to take the new one)",
                "CHAIN_ID",
            )

    async def next_nonce(self) -> int:
        """The chain's mined count or the journal's next, whichever is higher, once the RPC's
        pending count shows no transaction past them. A pending count above both means nonces
        held by transactions this node never signed (another tool on the same wallet, or a
        lying RPC): signing the next nonce ours would replace one of them, signing past them
        would wait behind a gap we cannot fill, so nothing is signed (`NONCE_PENDING`)."""
        chain_next = await self.chain.nonce(self.address, pending=False)
        pending = await self.chain.nonce(self.address, pending=True)
        stored = self.store.max_nonce(self.venue, self.address)
        journal_next = (stored + 1) if stored is not None else 0
        ours = max(chain_next, journal_next)
        if pending > ours:
            raise DefinitiveVenueError(
                self.venue,
                f"transaction refused: the RPC counts {pending} transactions from "
                f"{self.address} with the pending ones, but the mined count ({chain_next}) and "
                f"the journal (next nonce {journal_next}) account for {ours}: nonces {ours} to "
                f"{pending - 1} belong to transactions this node did not sign (another tool "
                "using the wallet?); signing now would replace one of them. Nothing is signed "
                "until they are mined or dropped",
                "NONCE_PENDING",
            )
        return ours

    def sign(self, tx: dict[str, Any]) -> tuple[str, str]:
        signed = self._account.sign_transaction(tx)
        return "0x" + bytes(signed.hash).hex(), "0x" + bytes(signed.raw_transaction).hex()

    async def send(
        self, cid: str, kind: str, tx: dict[str, Any], detail: dict[str, Any] | None = None
    ) -> TxRecord:
        """Fill in nonce and fees, sign, journal, broadcast; return the journaled record."""
        async with self._lock:
            await self.check_chain()
            max_fee, tip = await self.fees()
            tx = {
                **tx,
                "from": self.address,
                "chainId": self.chain_id,
                "maxFeePerGas": max_fee,
                "maxPriorityFeePerGas": tip,
                "type": 2,
            }
            tx["nonce"] = await self.next_nonce()
            return await self._sign_and_send(cid, kind, tx, detail or {})

    async def _sign_and_send(
        self, cid: str, kind: str, tx: dict[str, Any], detail: dict[str, Any]
    ) -> TxRecord:
        tx_hash, raw = self.sign(tx)
        now = self.now_ms()
        unsigned = {k: (hex(v) if isinstance(v, int) else v) for k, v in tx.items()}
        record = TxRecord(
            tx_hash=tx_hash, venue=self.venue, client_order_id=cid, kind=kind,
            sender=self.address, nonce=int(tx["nonce"]), raw_tx=raw,
            max_fee_per_gas=int(tx["maxFeePerGas"]), created_ts=now, updated_ts=now,
            detail={**detail, "tx": unsigned},
        )  # fmt: skip
        self.store.save(record)  # committed before the network hears of it
        if kind == "swap":
            await crashpoints.pause_at(crashpoints.BEFORE_BROADCAST, tx_hash)
        return await self.broadcast(record)

    async def broadcast(self, record: TxRecord) -> TxRecord:
        """Send a journaled raw transaction (again); the same bytes can never swap twice."""
        try:
            await self.chain.send_raw(record.raw_tx)
        except RpcFailure as exc:
            if await self._known(record):  # an earlier send of these bytes was taken
                sent = record.with_status("sent", self.now_ms())
                self.store.save(sent)
                return sent
            failed = record.with_status("dropped", self.now_ms())
            self.store.save(failed)
            raise DefinitiveVenueError(
                self.venue, f"transaction {record.tx_hash} refused by the node: {exc}", "TX_REFUSED"
            ) from None
        except Exception as exc:
            raise AmbiguousVenueError(
                self.venue, f"broadcast of tx {record.tx_hash} has no answer: {exc}", "TX_UNKNOWN"
            ) from None
        sent = record.with_status("sent", self.now_ms())
        self.store.save(sent)
        return sent

    async def _known(self, record: TxRecord) -> bool:
        """Whether the chain knows `record`'s hash (mined or pending), looked up before a
        refusal marks it dropped: a send answered an error (a 429, a timeout) may have reached
        the node, which then refuses the same bytes asked again ("nonce too low" once mined).
        A lookup not answered leaves the send unanswered (`TX_UNKNOWN`), never dropped."""
        try:
            lookup = await self.chain.lookup(record.tx_hash)
        except Exception as exc:
            raise AmbiguousVenueError(
                self.venue,
                f"broadcast of tx {record.tx_hash} refused, and its lookup has no answer: {exc}",
                "TX_UNKNOWN",
            ) from None
        return lookup.state != "unknown"

    async def resign(self, record: TxRecord, tx: dict[str, Any], kind: str) -> TxRecord:
        """Sign `tx` with `record`'s nonce (a fee bump or a cancel); mark `record` replaced."""
        async with self._lock:
            await self.check_chain()
            tx = {**tx, "nonce": record.nonce, "chainId": self.chain_id, "type": 2}
            new = await self._sign_and_send(record.client_order_id, kind, tx, dict(record.detail))
            self.store.save(replace(record, status="replaced", updated_ts=self.now_ms()))
            return new
