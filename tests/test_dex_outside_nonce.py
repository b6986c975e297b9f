"""A swap's nonce as the chain knows it: judged by the address that signed it (the configured
wallet may have changed since), and taken by a transaction signed outside the node (another
tool on the same wallet speeding it up, or replacing it with something else)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from dex_support import ChainThread, connected_venue, dex_order, running_chain
from fill_sink import FillSink
from tradeguard.model.enums import OrderStatus
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.venues.uniswap_v2 import crashpoints
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore, TxRecord
from tradeguard.venues.uniswap_v2.venue import UniswapV2Venue


@pytest.fixture(scope="module")
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


def _owner_key(chain: ChainThread) -> str:
    """The key of the chain's first account: it deployed everything, so its nonce is high."""
    return str(chain.chain.tester.backend.account_keys[0])


async def _pending_swap(
    chain: ChainThread, cid: str, store: MemoryTxStore, **overrides: Any
) -> tuple[UniswapV2Venue, TxRecord, str]:
    """A venue on the demo wallet whose swap for `cid` waits in the pool (automine is left
    off: the caller turns it back on), and a snapshot of the chain from before the swap."""
    venue = await connected_venue(chain.deployment, store, receipt_timeout_s=0.2,
                                  approve_unlimited=True, **overrides)  # fmt: skip
    await venue.submit(dex_order(f"{cid}-warm", "0.01"))  # the approval, out of the way
    snapshot = str(chain.rpc("evm_snapshot")["result"])
    chain.automine(False)
    assert (await venue.submit(dex_order(cid))).status is OrderStatus.ACCEPTED
    (swap,) = store.for_order("dex", cid)
    return venue, swap, snapshot


async def _journaled_not_sent(
    chain: ChainThread, cid: str, store: MemoryTxStore, tmp_path: Path, monkeypatch: Any
) -> TxRecord:
    """A swap for `cid` signed and journaled by the demo wallet, the process stopped before
    its broadcast (the swap never reaches the node)."""
    venue = await connected_venue(chain.deployment, store, approve_unlimited=True)
    await venue.submit(dex_order(f"{cid}-warm", "0.01"))  # the approval, out of the way
    paused = tmp_path / "paused"
    monkeypatch.setenv(crashpoints.BEFORE_BROADCAST, str(paused))
    task = asyncio.ensure_future(venue.submit(dex_order(cid)))
    while not paused.exists() and not task.done():
        await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    monkeypatch.delenv(crashpoints.BEFORE_BROADCAST)
    await venue.close()
    (swap,) = store.for_order("dex", cid)
    assert swap.tx_hash == paused.read_text() and swap.status == "signed"
    return swap


async def test_a_swap_from_the_wallet_before_a_change_is_judged_by_its_own_nonce(
    chain: ChainThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The swap was signed by the old wallet and never broadcast (the process died); its
    nonce is still unused on that address. A node restarted on another wallet (whose own nonce
    is far past it) broadcasts the same bytes again instead of calling it dropped."""
    d = chain.deployment
    store = MemoryTxStore()
    swap = await _journaled_not_sent(chain, "moved-1", store, tmp_path, monkeypatch)
    new = await connected_venue(replace(d, wallet_private_key=_owner_key(chain)), store)
    assert new.address != swap.sender
    assert await new.chain.nonce(new.address, pending=False) > swap.nonce
    weth_before = await new.chain.token_balance(d.tokens["WETH"], d.wallet_address)
    seen = FillSink()
    new.set_listener(seen)
    again = await new.fetch_order("moved-1", "WETH/USD")  # the same bytes, sent again
    assert again is not None and again.status is OrderStatus.ACCEPTED, again
    done = await new.fetch_order("moved-1", "WETH/USD")
    assert done is not None and done.status is OrderStatus.FILLED, done
    assert [(f.trade_id, f.amount) for f in seen.fills] == [(swap.tx_hash, Decimal("0.1"))]
    weth_after = await new.chain.token_balance(d.tokens["WETH"], d.wallet_address)
    assert weth_before - weth_after == 10**17
    await new.close()


def _sign_outside(chain: ChainThread, tx: dict[str, Any]) -> str:
    """Sign `tx` with the demo wallet's key, as another tool would, and send it; its hash."""
    signed = Account.from_key(chain.deployment.wallet_private_key).sign_transaction(tx)
    sent = chain.rpc("eth_sendRawTransaction", "0x" + bytes(signed.raw_transaction).hex())
    assert "result" in sent, sent
    return "0x" + bytes(signed.hash).hex()


async def test_a_pending_swap_of_the_wallet_before_a_change_is_never_replaced_by_the_new_one(
    chain: ChainThread,
) -> None:
    """A swap of the old wallet still waits in the pool: the new wallet's key cannot replace
    it (its nonce is the old address's), so a stuck one is left to mine and a cancel is
    refused in words; the swap is booked once it mines."""
    d = chain.deployment
    store = MemoryTxStore()
    old = await connected_venue(d, store, receipt_timeout_s=0.2, approve_unlimited=True)
    await old.submit(dex_order("moved-2-warm", "0.01"))
    chain.automine(False)
    try:
        assert (await old.submit(dex_order("moved-2"))).status is OrderStatus.ACCEPTED
        await old.close()
        new = await connected_venue(replace(d, wallet_private_key=_owner_key(chain)), store,
                                    stuck_after_s=0.01)  # fmt: skip
        stuck = await new.fetch_order("moved-2", "WETH/USD")  # past stuck_after_s: left alone
        assert stuck is not None and stuck.status is OrderStatus.ACCEPTED, stuck
        with pytest.raises(DefinitiveVenueError, match="signed by") as refused:
            await new.cancel(dex_order("moved-2"))
        assert refused.value.code == "WALLET_CHANGED"
        (swap,) = store.for_order("dex", "moved-2")  # nothing re-signed, nothing replaced
        assert swap.status == "sent"
    finally:
        chain.automine(True)
    chain.mine()
    done = await new.fetch_order("moved-2", "WETH/USD")
    assert done is not None and done.status is OrderStatus.FILLED, done
    await new.close()
