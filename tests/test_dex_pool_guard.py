"""A swap into a pool someone just pushed off its time-weighted price is refused before signing.

The push is a real swap from another account on the local chain, through the same Router02."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from dex_support import ChainThread, connected_venue, dex_order, running_chain
from tradeguard.model.enums import OrderStatus
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.venues.uniswap_v2 import abi
from tradeguard.venues.uniswap_v2.pool_guard import Q112, current_cumulative
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore

_DEPOSIT = {
    "type": "function", "name": "deposit", "inputs": [], "outputs": [],
    "stateMutability": "payable",
}  # fmt: skip


@pytest.fixture
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


def _push(chain: ChainThread, weth: int) -> None:
    """Sell `weth` whole WETH into the WETH/USD pool from another account, over JSON-RPC."""
    from web3 import HTTPProvider, Web3

    w3 = Web3(HTTPProvider(chain.server.url))
    d = chain.deployment
    whale = w3.eth.accounts[-1]
    assert whale.lower() not in (w3.eth.accounts[0].lower(), d.wallet_address.lower())
    units = weth * 10**18
    token = w3.eth.contract(address=w3.to_checksum_address(d.tokens["WETH"]), abi=[_DEPOSIT])
    token.functions.deposit().transact({"from": whale, "value": units})
    erc20 = w3.eth.contract(address=token.address, abi=abi.ERC20)
    erc20.functions.approve(d.router, units).transact({"from": whale})
    router = w3.eth.contract(address=w3.to_checksum_address(d.router), abi=abi.ROUTER)
    path = [d.tokens["WETH"], d.tokens["USD"]]
    deadline = w3.eth.get_block("latest")["timestamp"] + 600
    router.functions.swapExactTokensForTokens(units, 0, path, whale, deadline).transact(
        {"from": whale}
    )


async def test_a_swap_into_a_pool_pushed_by_another_account_is_refused(
    chain: ChainThread,
) -> None:
    store = MemoryTxStore()
    venue = await connected_venue(chain.deployment, store)  # the first reading: 2,000 USD
    # each block of the push is stamped at least a second after the one before: the mean spans
    # the seconds since the first reading, all at 2,000 USD but the last block's
    _push(chain, 300)  # 1,000 WETH pool: about -41 % on the price
    with pytest.raises(DefinitiveVenueError) as exc:
        await venue.submit(dex_order("victim-1", "0.1"))
    assert exc.value.code == "POOL_PRICE"
    text = str(exc.value)
    assert "WETH/USD pool's price 1184.25" in text and "off its mean over the last" in text
    assert ", 2000.000000 USD" in text and "max_pool_deviation_pct=5" in text
    assert store.rows == {}  # nothing journaled, nothing signed
    assert 1184 < venue.mid("WETH/USD") < 1185  # 1,300 WETH against about 1,539,527 USD
    await venue.close()


async def test_a_push_within_the_limit_lets_the_swap_through(chain: ChainThread) -> None:
    venue = await connected_venue(chain.deployment)
    _push(chain, 10)  # about -2 %: within the default 5 %
    report = await venue.submit(dex_order("ok-1", "0.1"))
    assert report.status is OrderStatus.FILLED
    await venue.close()


async def test_a_price_held_for_the_whole_window_becomes_the_reference(
    chain: ChainThread,
) -> None:
    """A move that lasts (the market's, not a push) is traded once the window has passed."""
    venue = await connected_venue(chain.deployment, twap_window_s=2)
    _push(chain, 300)
    with pytest.raises(DefinitiveVenueError, match="off its mean"):
        await venue.submit(dex_order("early", "0.1"))
    chain.rpc("evm_mine", "0x3")  # a second a block: the pushed price has held for the window
    report = await venue.submit(dex_order("later", "0.1"))
    assert report.status is OrderStatus.FILLED and report.avg_price < 1300
    await venue.close()


def test_the_price_sum_runs_on_to_now_and_wraps_as_the_pair_does() -> None:
    price = 2000 * Q112  # 2,000 quote units per base unit
    assert current_cumulative(7, 1, 2000, 100, 110) == 7 + price * 10
    assert current_cumulative(7, 1, 2000, 100, 100) == 7  # traded this second: as stored
    # the pair keeps time as uint32: 2^32 - 5 to 5 is 10 seconds
    assert current_cumulative(0, 1, 2000, 2**32 - 5, 2**32 + 5) == price * 10
    assert current_cumulative(2**256 - 1, 1, 2000, 0, 1) == price - 1


def _restore(chain: ChainThread) -> None:
    """Buy the pool back with all the USD the other account holds (undoing `_push`)."""
    from web3 import HTTPProvider, Web3

    w3 = Web3(HTTPProvider(chain.server.url))
    d = chain.deployment
    whale = w3.eth.accounts[-1]
    usd = w3.eth.contract(address=w3.to_checksum_address(d.tokens["USD"]), abi=abi.ERC20)
    units = usd.functions.balanceOf(whale).call()
    usd.functions.approve(d.router, units).transact({"from": whale})
    router = w3.eth.contract(address=w3.to_checksum_address(d.router), abi=abi.ROUTER)
    path = [d.tokens["USD"], d.tokens["WETH"]]
    deadline = w3.eth.get_block("latest")["timestamp"] + 600
    router.functions.swapExactTokensForTokens(units, 0, path, whale, deadline).transact(
        {"from": whale}
    )


async def test_the_swap_is_priced_from_the_reserves_the_pool_check_passed(
    chain: ChainThread,
) -> None:
    """The reserves a swap's amountOutMin comes from are the ones the pool check judged: a
    pool pushed when the swap is quoted and put back by the check is not signed at the push."""
    store = MemoryTxStore()
    venue = await connected_venue(chain.deployment, store)
    chain.rpc("evm_mine", hex(600))  # 2,000 USD held for ten minutes: the reference
    _push(chain, 300)  # the pool at about 1,184 USD when the swap reads its reserves
    real = venue.chain.price_state

    async def put_back_first(pair: str, base_first: bool, n: int | None = None) -> tuple[int, ...]:
        _restore(chain)  # ... and back near 2,000 USD when the pool check reads it
        venue.chain.price_state = real  # type: ignore[method-assign]
        return await real(pair, base_first, n)

    venue.chain.price_state = put_back_first  # type: ignore[method-assign]
    report = await venue.submit(dex_order("toctou-1", "0.1"))
    assert report.status is OrderStatus.FILLED
    swap = next(r for r in store.rows.values() if r.kind == "swap")
    # the pool the check passed pays about 199 USD for 0.1 WETH: amountOutMin is held to it,
    # not to the 118 USD the pushed pool would have paid (a front-run back to the push)
    assert int(swap.detail["min_out"]) > 190 * 10**18, swap.detail
    await venue.close()


def _fn_abi(name: str, inputs: list[str]) -> dict[str, object]:
    return {
        "type": "function", "name": name, "outputs": [], "stateMutability": "nonpayable",
        "inputs": [{"name": f"a{i}", "type": t} for i, t in enumerate(inputs)],
    }  # fmt: skip


async def test_a_pool_first_read_empty_and_filled_at_any_price_is_refused(
    chain: ChainThread,
) -> None:
    """A pool with no liquidity when first read has no mean price: one filled at a made-up
    price in the latest block is not let through as if it were at its mean."""
    from web3 import HTTPProvider, Web3

    w3 = Web3(HTTPProvider(chain.server.url))
    d = chain.deployment
    owner = w3.eth.accounts[0]  # holds TKA; WETH from a deposit
    weth, tka = (w3.to_checksum_address(d.tokens[t]) for t in ("WETH", "TKA"))
    factory = w3.eth.contract(
        address=w3.to_checksum_address(d.factory), abi=[_fn_abi("createPair", ["address"] * 2)]
    )
    factory.functions.createPair(weth, tka).transact({"from": owner})  # no liquidity yet
    store = MemoryTxStore()
    venue = await connected_venue(d, store, symbols=["WETH/TKA"])
    chain.rpc("evm_mine", hex(600))
    # filled at 1 TKA a WETH (the market being 2,000 USD a WETH and 1 TKA 1 USD, say)
    w3.eth.contract(address=weth, abi=[_DEPOSIT]).functions.deposit().transact(
        {"from": owner, "value": 10 * 10**18}
    )
    for token in (weth, tka):
        erc20 = w3.eth.contract(address=token, abi=abi.ERC20)
        erc20.functions.approve(d.router, 10 * 10**18).transact({"from": owner})
    add = _fn_abi("addLiquidity", ["address"] * 2 + ["uint256"] * 4 + ["address", "uint256"])
    router = w3.eth.contract(address=w3.to_checksum_address(d.router), abi=[add])
    router.functions.addLiquidity(weth, tka, 10 * 10**18, 10 * 10**18, 0, 0, owner, 2**63).transact(
        {"from": owner}
    )
    with pytest.raises(DefinitiveVenueError) as exc:
        await venue.submit(dex_order("empty-1", "0.1", symbol="WETH/TKA"))
    assert exc.value.code == "POOL_PRICE"
    assert "WETH/TKA" in str(exc.value) and "no liquidity" in str(exc.value)
    assert store.rows == {}  # nothing journaled, nothing signed
    await venue.close()


async def test_a_pool_pushed_before_the_first_reading_is_refused(chain: ChainThread) -> None:
    """The first reading looks back `twap_window_s` on the chain: a pool pushed before the node
    started is held to the price it had before the push."""
    chain.rpc("evm_mine", hex(600))  # 2,000 USD held for ten minutes
    _push(chain, 300)  # ... then about 1,184 USD, just before the node starts
    store = MemoryTxStore()
    venue = await connected_venue(chain.deployment, store)
    with pytest.raises(DefinitiveVenueError) as exc:
        await venue.submit(dex_order("victim-2", "0.1"))
    assert exc.value.code == "POOL_PRICE"
    assert "off its mean over the last 30" in str(exc.value) and ", 2000.000000 USD" in str(
        exc.value
    )
    assert store.rows == {}  # nothing journaled, nothing signed
    await venue.close()


async def test_a_pool_pushed_right_after_a_start_without_a_look_back_is_refused(
    chain: ChainThread,
) -> None:
    """The chain is younger than `twap_window_s` at the first reading, so no block a window
    back exists: the seconds the readings do not yet span count at the price first read, and
    a pool pushed right after the start is refused until the push has held for the window.
    Before, the mean since the first reading was the reference: two minutes after the push it
    was within 2 % of the pushed price and the swap was signed."""
    store = MemoryTxStore()
    venue = await connected_venue(chain.deployment, store)  # chain seconds old: no look-back
    _push(chain, 300)  # about -41 %, right after the start
    chain.rpc("evm_mine", hex(120))  # held for two minutes
    with pytest.raises(DefinitiveVenueError) as exc:
        await venue.submit(dex_order("victim-3", "0.1"))
    assert exc.value.code == "POOL_PRICE"
    text = str(exc.value)
    assert "WETH/USD pool's price 1184.25" in text, text
    assert re.search(
        r"its mean over the last 300 s, \d+ s read and 2000\.000000 USD when "
        r"first read for the \d+ s before",
        text,
    ), text
    assert "no block twap_window_s=300 s before the first reading" in text, text
    assert store.rows == {}  # nothing journaled, nothing signed
    chain.rpc("evm_mine", hex(300))  # the pushed price held for the whole window: the market's
    report = await venue.submit(dex_order("later-3", "0.1"))
    assert report.status is OrderStatus.FILLED
    await venue.close()
