"""Honest swaps that share their pool or their block with someone else's transfers: the pair
holding tokens past its reserves (sent to it without a sync), another trader's swap mined just
before ours, a third party's transfer to the wallet in our swap's block. Each is what the chain
moved and must be booked at it, once; none may leave the order in flight for ever (and every
balance read of the venue refused with it)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal

import pytest

from dex_support import ChainThread, connected_venue, dex_order, running_chain
from fill_sink import FillSink
from tradeguard.model.enums import OrderStatus, Side
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore
from tradeguard.venues.uniswap_v2.venue import UniswapV2Venue

_TRANSFER = "0xa9059cbb"  # transfer(address,uint256)
_SWAP_EXACT_IN = "0x38ed1739"  # swapExactTokensForTokens(uint,uint,address[],address,uint)
_APPROVE = "0x095ea7b3"  # approve(address,uint256)


@pytest.fixture(scope="module")
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


def _word(value: int | str) -> str:
    number = int(value, 16) if isinstance(value, str) else value
    return number.to_bytes(32, "big").hex()


def _owner(chain: ChainThread) -> str:
    return str(chain.rpc("eth_accounts")["result"][0])


def _send(chain: ChainThread, to: str, data: str) -> str:
    """Send a transaction from the chain's funded first account (not the venue's wallet)."""
    tx = {"from": _owner(chain), "to": to, "data": data, "gas": hex(300_000)}
    answer = chain.rpc("eth_sendTransaction", tx)
    assert "result" in answer, answer
    return str(answer["result"])


def _transfer(chain: ChainThread, token: str, to: str, units: int) -> str:
    return _send(chain, token, _TRANSFER + _word(to) + _word(units))


def _their_swap(chain: ChainThread, token_in: str, token_out: str, units: int) -> str:
    """Another trader's swapExactTokensForTokens through the router, from the first account."""
    d = chain.deployment
    _send(chain, token_in, _APPROVE + _word(d.router) + _word(units))
    args = _word(units) + _word(0) + _word(5 * 32) + _word(_owner(chain)) + _word(2**63)
    path = _word(2) + _word(token_in) + _word(token_out)
    return _send(chain, d.router, _SWAP_EXACT_IN + args + path)


async def _units(chain: ChainThread, venue: UniswapV2Venue, token: str) -> int:
    return int(await venue.chain.token_balance(token, chain.deployment.wallet_address))


async def _warm(chain: ChainThread, cid: str) -> tuple[UniswapV2Venue, MemoryTxStore, FillSink]:
    store = MemoryTxStore()
    d = chain.deployment
    venue = await connected_venue(d, store, approve_unlimited=True)
    # approvals of both tokens, in blocks of their own, once a chain (the module's tests share
    # it): a swap of each side the first time, none once the router may spend without limit
    for side, spent in ((Side.SELL, "WETH"), (Side.BUY, "USD")):
        if await venue.chain.allowance(d.tokens[spent], d.wallet_address, d.router) < 2**255:
            await venue.submit(dex_order(f"{cid}-{side.value}", "0.01", side=side))
    seen = FillSink()
    venue.set_listener(seen)
    return venue, store, seen


async def _in_one_block(chain: ChainThread, venue: UniswapV2Venue, cid: str) -> None:
    """Sign and send our swap (a market sell of 0.01 WETH) while the chain holds its blocks,
    then mine it, with whatever waits before it, in one block."""
    d = chain.deployment
    task = asyncio.create_task(venue.submit(dex_order(cid, "0.01")))
    for _ in range(200):
        count = chain.rpc("eth_getTransactionCount", d.wallet_address, "pending")["result"]
        latest = chain.rpc("eth_getTransactionCount", d.wallet_address, "latest")["result"]
        if int(count, 16) > int(latest, 16) or task.done():
            break
        await asyncio.sleep(0.02)
    assert not task.done(), task.exception()
    await asyncio.to_thread(chain.mine)
    await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize(
    ("side", "donated"),
    [(Side.SELL, "WETH"), (Side.SELL, "USD"), (Side.BUY, "USD"), (Side.BUY, "WETH")],
)
async def test_a_swap_through_a_pair_holding_tokens_past_its_reserves_is_booked(
    chain: ChainThread, side: Side, donated: str
) -> None:
    # Before: the pair's Swap log counts every unit it holds past its reserves as paid in (the
    # pair cannot tell a transfer nobody synced from the router's), so the log took 1 unit more
    # than the wallet sent and the curve check priced that unit: an honest swap was refused as
    # an RPC's lie for ever, and every balance read of the venue with it. One unit sent to the
    # pair by anyone (a mistaken transfer, a griefer) before our swap was enough.
    d = chain.deployment
    venue, store, seen = await _warm(chain, f"surplus-warm-{side.value}-{donated}")
    cid = f"surplus-{side.value}-{donated}"
    weth, usd = d.tokens["WETH"], d.tokens["USD"]
    before = (await _units(chain, venue, weth), await _units(chain, venue, usd))
    _transfer(chain, d.tokens[donated], d.pairs["WETH/USD"], 10**15)
    report = await venue.submit(dex_order(cid, "0.01", side=side))
    assert report.status is OrderStatus.FILLED, report
    after = (await _units(chain, venue, weth), await _units(chain, venue, usd))
    (fill,) = [f for f in seen.fills if f.client_order_id == cid]
    sign = 1 if side is Side.BUY else -1
    assert fill.amount == Decimal("0.01") and (after[0] - before[0]) == sign * 10**16
    gas_free_quote = Decimal(before[1] - after[1]).scaleb(-18) * sign
    assert fill.amount * fill.price == gas_free_quote
    (swap,) = [r for r in store.rows.values() if r.client_order_id == cid]
    assert swap.status == "mined"
    await venue.fetch_balances()  # answered: nothing left unbooked
    await venue.close()


async def test_another_trader_s_swap_just_before_ours_in_the_block_leaves_ours_booked(
    chain: ChainThread,
) -> None:
    # The receipt's Sync log is the pair's state after our swap, whatever came before it in
    # the block: the curve check prices our swap at the reserves the other swap left.
    d = chain.deployment
    venue, store, seen = await _warm(chain, "busy-warm")
    chain.automine(False)
    try:
        _their_swap(chain, d.tokens["USD"], d.tokens["WETH"], 50 * 10**18)
        await _in_one_block(chain, venue, "busy-1")
    finally:
        chain.automine(True)
    report = await venue.fetch_order("busy-1", "WETH/USD")
    assert report is not None and report.status is OrderStatus.FILLED, report
    (swap,) = [r for r in store.rows.values() if r.client_order_id == "busy-1"]
    assert [(f.trade_id, f.amount) for f in seen.fills if f.client_order_id == "busy-1"] == [
        (swap.tx_hash, Decimal("0.01"))
    ]
    await venue.close()


async def test_a_third_party_transfer_to_the_wallet_in_our_swap_s_block_leaves_it_booked(
    chain: ChainThread,
) -> None:
    # Before: the wallet's USD balance moved by the swap's proceeds plus 1 unit sent to it by
    # someone else in the same block, the balance check saw a lie, and the swap was never
    # booked: the order in flight for ever and every balance read of the venue refused.
    d = chain.deployment
    venue, store, seen = await _warm(chain, "dust-warm")
    chain.automine(False)
    try:
        _transfer(chain, d.tokens["USD"], d.wallet_address, 1)
        await _in_one_block(chain, venue, "dust-1")
    finally:
        chain.automine(True)
    report = await venue.fetch_order("dust-1", "WETH/USD")
    assert report is not None and report.status is OrderStatus.FILLED, report
    (swap,) = [r for r in store.rows.values() if r.client_order_id == "dust-1"]
    assert swap.status == "mined"
    assert [(f.trade_id, f.amount) for f in seen.fills if f.client_order_id == "dust-1"] == [
        (swap.tx_hash, Decimal("0.01"))
    ]
    await venue.fetch_balances()
    await venue.close()
