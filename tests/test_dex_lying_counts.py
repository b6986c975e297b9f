"""An RPC that lies about counts the chain keeps: a Sync event's reserves past uint112 (no pair
can hold them) and a pending nonce above the chain's. The venue talks to the real Uniswap V2
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


async def test_a_pending_nonce_above_the_chain_s_signs_no_swap_behind_a_gap(
    chain: ChainThread, hostile: HostileServer
) -> None:
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
    report = await venue.submit(order)
    (swap,) = [r for r in store.rows.values() if r.client_order_id == order.client_order_id]
    assert swap.nonce == real  # the chain's next, not the lie's five past it
    assert report.status is OrderStatus.FILLED, report
    assert [(f.trade_id, f.amount) for f in seen.fills if f.client_order_id == "gap-1"] == [
        (swap.tx_hash, Decimal("0.01"))
    ]
    await venue.close()
