"""An RPC that lies about counts the chain keeps: a Sync event's reserves past uint112 (no pair
can hold them) and a pending nonce above the chain's; and another sender's transaction pending
on the same wallet. The venue talks to the real Uniswap V2
contracts through a server that rewrites those answers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from dex_support import ChainThread, connected_venue, dex_order, running_chain
from fill_sink import FillSink
from test_dex_hostile_rpc import HostileServer, serving_hostile
from tradeguard.model.enums import OrderStatus
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.venues.uniswap_v2.rpc import SYNC_TOPIC
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore

UINT112_MAX = 2**112 - 1


@pytest.fixture(scope="module")
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


@pytest.fixture
def hostile(chain: ChainThread) -> Iterator[HostileServer]:
    yield from serving_hostile(chain)


def _word(value: int) -> str:
    return value.to_bytes(32, "big").hex()


@pytest.mark.parametrize(
    ("reserve0", "reserve1", "field"),
    [(UINT112_MAX + 1, 10**18, "reserve0"), (10**18, 2**255, "reserve1")],
)
async def test_a_sync_event_with_reserves_past_uint112_is_refused(
    chain: ChainThread, hostile: HostileServer, reserve0: int, reserve1: int, field: str
) -> None:
    d = chain.deployment
    venue = await connected_venue(replace(d, rpc_url=hostile.url), approve_unlimited=True)
    first = await venue.chain.block_number() + 1
    assert (await venue.submit(dex_order("sync-1", "0.01"))).status is OrderStatus.FILLED
    pair = venue.pairs["WETH/USD"][0]
    honest = await venue.chain.sync_logs([pair], first, await venue.chain.block_number())
    assert honest and all(r0 <= UINT112_MAX and r1 <= UINT112_MAX for _, r0, r1, _ in honest)

    def huge(params: list[Any], result: Any) -> Any:
        return [
            {**log, "data": "0x" + _word(reserve0) + _word(reserve1)}
            if log.get("topics", [""])[0] == SYNC_TOPIC
            else log
            for log in result
        ]

    hostile.rewrites["eth_getLogs"] = huge
    with pytest.raises(ValueError, match=f"Sync {field} .* above {UINT112_MAX}") as exc:
        await venue.chain.sync_logs([pair], first, await venue.chain.block_number())
    assert pair.lower() in str(exc.value).lower()
    await venue.close()


async def test_a_pending_nonce_above_the_chain_s_and_the_journal_s_signs_nothing(
    chain: ChainThread, hostile: HostileServer
) -> None:
    # A pending count the journal cannot explain is refused in words naming both counts: taking
    # it would sign behind a gap no transaction of ours fills, ignoring it might replace another
    # sender's transaction. An honest count afterwards trades as before.
    d = chain.deployment
    store = MemoryTxStore()
    venue = await connected_venue(replace(d, rpc_url=hostile.url), store, approve_unlimited=True)
    seen = FillSink()
    venue.set_listener(seen)
    assert (await venue.submit(dex_order("gap-warm", "0.01"))).status is OrderStatus.FILLED
    real = int(chain.rpc("eth_getTransactionCount", d.wallet_address, "latest")["result"], 16)

    def ahead(params: list[Any], result: Any) -> Any:
        tag = params[1] if len(params) > 1 else "latest"
        return hex(int(result, 16) + 5) if tag == "pending" else result

    hostile.rewrites["eth_getTransactionCount"] = ahead
    order = dex_order("gap-1", "0.01")
    with pytest.raises(DefinitiveVenueError) as exc:
        await venue.submit(order)
    assert exc.value.code == "NONCE_PENDING"
    assert f"counts {real + 5} transactions" in str(exc.value)
    assert f"account for {real}" in str(exc.value), str(exc.value)
    assert [r for r in store.rows.values() if r.client_order_id == "gap-1"] == []
    hostile.rewrites.clear()
    report = await venue.submit(dex_order("gap-2", "0.01"))
    (swap,) = [r for r in store.rows.values() if r.client_order_id == "gap-2"]
    assert swap.nonce == real and report.status is OrderStatus.FILLED, report
    assert [(f.trade_id, f.amount) for f in seen.fills if f.client_order_id == "gap-2"] == [
        (swap.tx_hash, Decimal("0.01"))
    ]
    await venue.close()


async def test_another_sender_s_pending_transaction_is_never_replaced(chain: ChainThread) -> None:
    # Before: the nonce was the chain's mined count, so a swap signed while another tool's
    # transaction from the same wallet waited in the mempool took that transaction's nonce
    # and, paying more, replaced it.
    from eth_account import Account

    d = chain.deployment
    store = MemoryTxStore()
    venue = await connected_venue(d, store, approve_unlimited=True)
    assert (await venue.submit(dex_order("other-warm", "0.01"))).status is OrderStatus.FILLED
    mined = int(chain.rpc("eth_getTransactionCount", d.wallet_address, "latest")["result"], 16)
    gas_price = 50 * 10**9
    theirs = Account.sign_transaction(
        {"to": d.wallet_address, "value": 1, "gas": 21_000, "nonce": mined, "chainId":
         d.chain_id, "maxFeePerGas": gas_price, "maxPriorityFeePerGas": 10**9, "type": 2},
        d.wallet_private_key,
    )  # fmt: skip
    chain.automine(False)
    try:
        sent = chain.rpc("eth_sendRawTransaction", "0x" + bytes(theirs.raw_transaction).hex())
        assert "result" in sent, sent
        with pytest.raises(DefinitiveVenueError) as exc:
            await venue.submit(dex_order("other-1", "0.01"))
        assert exc.value.code == "NONCE_PENDING"
        assert f"counts {mined + 1} transactions" in str(exc.value), str(exc.value)
        assert f"account for {mined}" in str(exc.value)
        assert [r for r in store.rows.values() if r.client_order_id == "other-1"] == []
        chain.mine()
    finally:
        chain.automine(True)
    receipt = chain.rpc("eth_getTransactionReceipt", sent["result"])["result"]
    assert receipt is not None and receipt["status"] == "0x1"  # theirs mined, not replaced
    report = await venue.submit(dex_order("other-2", "0.01"))
    (swap,) = [r for r in store.rows.values() if r.client_order_id == "other-2"]
    assert report.status is OrderStatus.FILLED and swap.nonce == mined + 1
    await venue.close()
