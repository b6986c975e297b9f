"""Swaps on the real Uniswap V2 contracts over JSON-RPC: amounts, refusals, approvals, fees."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

import pytest

from dex_support import ChainThread, connected_venue, dex_order, running_chain, settings_for
from fill_sink import FillSink
from tradeguard.execution.reference_prices import ReferencePrices
from tradeguard.model.enums import OrderStatus, Side
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.model.order import Order
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.sandbox.chain.deploy import ROUTER_INIT_CODE_HASH, pair_init_code_hash
from tradeguard.venues.uniswap_v2 import abi, amm
from tradeguard.venues.uniswap_v2.pool_guard import Observation
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore
from tradeguard.venues.uniswap_v2.venue import UniswapV2Venue

_seq = iter(range(1, 10_000))


@pytest.fixture(scope="module")
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


def _order(side: Side, amount: str, symbol: str = "WETH/USD") -> Order:
    return dex_order(f"dex-{next(_seq)}", amount, side=side, symbol=symbol)


def test_pair_init_code_hash_is_the_one_router02_uses(chain: ChainThread) -> None:
    from eth_utils import keccak, to_checksum_address

    assert pair_init_code_hash() == ROUTER_INIT_CODE_HASH
    d = chain.deployment
    a, b = sorted([d.tokens["WETH"], d.tokens["USD"]], key=lambda x: int(x, 16))
    salt = keccak(bytes.fromhex(a[2:]) + bytes.fromhex(b[2:]))
    raw = b"\xff" + bytes.fromhex(d.factory[2:]) + salt + bytes.fromhex(ROUTER_INIT_CODE_HASH)
    assert to_checksum_address(keccak(raw)[12:]) == d.pairs["WETH/USD"]


async def test_sell_receives_get_amounts_out_and_the_constant_product(chain: ChainThread) -> None:
    d = chain.deployment
    venue = await connected_venue(d)
    listener = FillSink()
    venue.set_listener(listener)
    r = await venue.refresh("WETH/USD")
    units = 3 * 10**17
    router = venue.chain.contract(d.router, abi.ROUTER)
    path = [d.tokens["WETH"], d.tokens["USD"]]
    quoted = (await router.functions.getAmountsOut(units, path).call())[-1]
    assert quoted == amm.amount_out(units, r.base, r.quote)
    assert quoted == (units * 997 * r.quote) // (r.base * 1000 + units * 997)
    before = await venue.chain.token_balance(d.tokens["USD"], d.wallet_address)

    report = await venue.submit(_order(Side.SELL, "0.3"))

    after = await venue.chain.token_balance(d.tokens["USD"], d.wallet_address)
    assert after - before == quoted
    assert report.status is OrderStatus.FILLED
    (fill,) = [f for f in listener.fills if f.amount]
    (approval_gas,) = [f for f in listener.fills if not f.amount]  # the approval's gas, booked
    assert approval_gas.fee > 0 and approval_gas.trade_id != fill.trade_id
    assert fill.amount == Decimal("0.3")
    assert fill.price == amm.from_units(quoted, 18) / Decimal("0.3")
    assert fill.fee_asset == "ETH" and fill.fee > 0
    assert (await venue.refresh("WETH/USD")).base == r.base + units
    await venue.close()


async def test_buy_is_exact_output_with_an_exact_approval(chain: ChainThread) -> None:
    d = chain.deployment
    venue = await connected_venue(d, slippage_bps=100)
    r = await venue.refresh("TKA/USD")
    want = 250 * 10**18
    need = amm.amount_in(want, r.quote, r.base)
    before = await venue.chain.token_balance(d.tokens["TKA"], d.wallet_address)

    report = await venue.submit(_order(Side.BUY, "250", "TKA/USD"))

    assert report.status is OrderStatus.FILLED
    got = await venue.chain.token_balance(d.tokens["TKA"], d.wallet_address) - before
    assert got == want
    (approve,) = [x for x in venue.store.for_order("dex", report.client_order_id + ":approve")]
    assert int(approve.detail["amount"]) == amm.max_in(need, 100) < abi.MAX_UINT256
    left = await venue.chain.allowance(d.tokens["USD"], d.wallet_address, d.router)
    assert left == amm.max_in(need, 100) - need
    await venue.close()


async def test_sell_leaves_no_allowance_behind(chain: ChainThread) -> None:
    d = chain.deployment
    venue = await connected_venue(d)
    await venue.submit(_order(Side.SELL, "0.1"))
    assert await venue.chain.allowance(d.tokens["WETH"], d.wallet_address, d.router) == 0
    await venue.close()


class _StaleVenue(UniswapV2Venue):
    """Sees the quote reserve three times too high: its quote and amountOutMin are too high."""

    async def observe(self, symbol: str, check: bool = False) -> Observation:
        seen = await super().observe(symbol, check)  # the pool check sees the true reserves
        base, quote, block = seen.reserves
        return replace(seen, reserves=(base, quote * 3, block))


async def _stale_venue(chain: ChainThread, **overrides: object) -> UniswapV2Venue:
    d = chain.deployment
    venue = _StaleVenue("dex", settings_for(d, **overrides), MemoryTxStore(), d.wallet_private_key)
    await venue.connect()
    return venue


async def test_too_high_amount_out_min_is_refused_with_the_router_reason(
    chain: ChainThread,
) -> None:
    venue = await _stale_venue(chain)
    with pytest.raises(DefinitiveVenueError, match="INSUFFICIENT_OUTPUT_AMOUNT") as exc:
        await venue.submit(_order(Side.SELL, "0.2"))
    assert exc.value.code == "REVERTED"
    await venue.close()


async def test_a_mined_revert_becomes_a_rejection_with_the_reason(chain: ChainThread) -> None:
    venue = await _stale_venue(chain, gas_limit=300_000)
    seen = FillSink()
    venue.set_listener(seen)
    eth_before = await venue.chain.eth_balance(chain.deployment.wallet_address)
    order = _order(Side.SELL, "0.2")
    with pytest.raises(DefinitiveVenueError, match="UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT"):
        await venue.submit(order)
    store = venue.store
    assert isinstance(store, MemoryTxStore)
    (swap,) = [r for r in store.rows.values() if r.kind == "swap"]
    assert swap.status == "reverted"
    # the gas the reverted swap burnt is booked as a fee-only fill (with the approval's gas)
    fees = {f.trade_id: f for f in seen.fills}
    assert swap.tx_hash in fees and all(f.amount == 0 for f in seen.fills)
    assert {f.client_order_id for f in seen.fills} == {order.client_order_id}
    assert fees[swap.tx_hash].fee > 0 and fees[swap.tx_hash].fee_asset == "ETH"
    eth_after = await venue.chain.eth_balance(chain.deployment.wallet_address)
    spent = sum((f.fee for f in seen.fills), Decimal(0))
    assert amm.to_units(spent, 18) == eth_before - eth_after
    await venue.close()


async def test_a_swap_past_the_risk_price_bound_is_refused_before_signing(
    chain: ChainThread,
) -> None:
    store = MemoryTxStore()
    venue = await connected_venue(chain.deployment, store)
    order = _order(Side.SELL, "0.1")
    mid = venue.mid("WETH/USD")
    order.price_bound = mid  # the pool pays less than the mid (fee and impact): past the bound
    with pytest.raises(DefinitiveVenueError, match="past the risk bound") as exc:
        await venue.submit(order)
    assert exc.value.code == "PRICE_BOUND" and store.rows == {}
    bounded = _order(Side.SELL, "0.1")
    bounded.price_bound = (mid * Decimal("0.99")).quantize(Decimal("0.01"))
    report = await venue.submit(bounded)
    assert report.status is OrderStatus.FILLED and report.avg_price >= bounded.price_bound
    (swap,) = [r for r in store.rows.values() if r.kind == "swap"]
    assert int(swap.detail["min_out"]) >= amm.to_units(Decimal("0.1") * bounded.price_bound, 18)
    await venue.close()


async def test_a_deadline_in_the_past_is_refused(chain: ChainThread) -> None:
    venue = await connected_venue(chain.deployment, deadline_s=-600)
    with pytest.raises(DefinitiveVenueError, match="UniswapV2Router: EXPIRED"):
        await venue.submit(_order(Side.SELL, "0.1"))
    await venue.close()


async def test_the_deadline_counts_from_now_on_a_chain_that_has_been_idle(
    chain: ChainThread,
) -> None:
    # A chain that mines only for transactions (`tradeguard chain`, on-demand L2s) opens each
    # block when the one before is mined: after five idle minutes the latest block is five
    # minutes old and the next one is stamped now. A deadline counted from the latest block had
    # expired before the swap was sent (`UniswapV2Router: EXPIRED` on the first swap after a
    # pause, as a new user following docs/dex.md met it).
    import time

    d = chain.deployment
    idle_s = 300
    venue = UniswapV2Venue(
        "dex", settings_for(d), MemoryTxStore(), d.wallet_private_key,
        now_ms=lambda: int(time.time() * 1000) + idle_s * 1000,
    )  # fmt: skip
    await venue.connect()
    latest = await venue.chain.timestamp()
    backend = chain.chain.tester.backend
    backend.chain.header = backend.chain.header.copy(timestamp=latest + idle_s)  # stamped now
    report = await venue.submit(_order(Side.SELL, "0.01"))
    assert report.status is OrderStatus.FILLED
    (swap,) = [r for r in venue.store.for_order("dex", report.client_order_id)]
    deadline = int(swap.detail["tx"]["data"][2 + 8 + 4 * 64 : 2 + 8 + 5 * 64], 16)
    assert deadline > latest + idle_s  # after the time of the block the swap went into
    await venue.close()


async def test_a_swap_is_refused_when_the_network_asks_above_the_fee_cap(
    chain: ChainThread,
) -> None:
    store = MemoryTxStore()
    venue = await connected_venue(chain.deployment, store, max_fee_per_gas_gwei=Decimal("0.000001"))
    with pytest.raises(DefinitiveVenueError, match="max_fee_per_gas_gwei") as exc:
        await venue.submit(_order(Side.SELL, "0.1"))
    assert exc.value.code == "FEE_CAP"
    assert store.rows == {}
    await venue.close()


async def test_a_swap_above_the_value_cap_is_refused_before_signing(chain: ChainThread) -> None:
    store = MemoryTxStore()
    venue = await connected_venue(chain.deployment, store, max_tx_value=Decimal(1000))
    with pytest.raises(DefinitiveVenueError, match="max_tx_value=1000 USD") as exc:
        await venue.submit(_order(Side.SELL, "1"))
    assert exc.value.code == "TX_VALUE_CAP"
    assert store.rows == {}
    await venue.close()


async def test_the_wallet_key_never_reaches_logs_or_reprs(
    chain: ChainThread, caplog: pytest.LogCaptureFixture
) -> None:
    key = chain.deployment.wallet_private_key
    caplog.set_level(logging.DEBUG)
    venue = await connected_venue(chain.deployment)
    report = await venue.submit(_order(Side.SELL, "0.05"))
    text = caplog.text + repr(venue) + repr(venue.sender) + repr(report)
    text += repr(list(venue.store.rows.values()))  # type: ignore[attr-defined]
    assert key[2:] not in text.lower() and key[2:].upper() not in text
    assert venue.address == chain.deployment.wallet_address
    await venue.close()


async def test_the_pools_price_what_the_wallet_holds_before_any_stream_quote(
    chain: ChainThread, caplog: pytest.LogCaptureFixture
) -> None:
    """The start-up pass that prices held assets asked every venue for a market; the DEX venue
    listed none, so a node on `tradeguard chain` logged `no venue lists a priced market for
    WETH (TKA, ETH): it counts nothing` although its own pools price them."""
    d = chain.deployment
    venue = await connected_venue(d)
    portfolio = Portfolio("USD")
    for b in await venue.fetch_balances():
        portfolio.book("dex").set(b.asset, b.free, b.locked)
    refs = ReferencePrices(portfolio, {"dex": venue})

    with caplog.at_level(logging.WARNING):
        await refs.refresh()

    assert "counts nothing" not in caplog.text
    assert refs.status() == {"ETH": "dex WETH/USD", "TKA": "dex TKA/USD", "WETH": "dex WETH/USD"}
    mid = venue.mid("WETH/USD")
    assert portfolio.price_of("WETH") == portfolio.price_of("ETH") == mid
    assert Decimal(1900) < mid < Decimal(2100)  # the demo pool's 2,000 USD
    assert portfolio.price_of("TKA") == venue.mid("TKA/USD")
