"""A token that keeps a fee on every transfer (the Uniswap V2 periphery's DeflatingERC20 burns
1 % of each transfer), traded through the real router: a buy receives less than the pair pays
out, and the fill books what reached the wallet, with the token's fee journaled; a sell of it
through the router's plain functions cannot work (the pair receives less than the router
priced) and is refused before signing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

import pytest

from dex_support import ChainThread, connected_venue, dex_order, running_chain
from fill_sink import FillSink
from tradeguard.model.enums import OrderStatus, Side
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError
from tradeguard.sandbox.chain.artifacts import load_artifact
from tradeguard.sandbox.chain.deploy import UNIT, Deployment
from tradeguard.venues.uniswap_v2.settings import Token
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore


@pytest.fixture(scope="module")
def chain() -> Iterator[ChainThread]:
    for chain in running_chain():
        _deploy_fee_token(chain)
        yield chain


def _deploy_fee_token(chain: ChainThread) -> None:
    """DEF (1 % burnt on each transfer) and a DEF/USD pool at 2 USD, on the running chain."""
    w3, d = chain.chain.w3, chain.deployment
    owner = w3.eth.accounts[0]
    art, erc20 = load_artifact("DeflatingERC20"), load_artifact("ERC20")
    tx = (
        w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        .constructor(10**9 * UNIT)
        .transact({"from": owner})
    )
    token = w3.eth.contract(
        address=w3.eth.get_transaction_receipt(tx)["contractAddress"], abi=art["abi"]
    )
    usd = w3.eth.contract(address=d.tokens["USD"], abi=erc20["abi"])
    router = w3.eth.contract(address=d.router, abi=load_artifact("UniswapV2Router02")["abi"])
    for tok in (token, usd):
        tok.functions.approve(router.address, 10**30).transact({"from": owner})
    router.functions.addLiquidity(
        token.address, usd.address, 100_000 * UNIT, 200_000 * UNIT, 0, 0, owner, 2**63
    ).transact({"from": owner})
    token.functions.transfer(d.wallet_address, 1_000 * UNIT).transact({"from": owner})
    d.tokens["DEF"] = token.address
    factory = w3.eth.contract(address=d.factory, abi=load_artifact("UniswapV2Factory")["abi"])
    d.pairs["DEF/USD"] = factory.functions.getPair(token.address, usd.address).call()


def _declared(d: Deployment) -> dict[str, Token]:
    """The deployment's tokens with DEF declared to take a fee on transfer."""
    return {name: Token(name, addr, 18, name == "DEF") for name, addr in d.tokens.items()}


async def test_a_buy_of_a_fee_on_transfer_token_books_what_the_wallet_received(
    chain: ChainThread,
) -> None:
    # Before: the pair paid 1 DEF, the wallet received 0.99 DEF, and the receipt was refused
    # as one the signed swap cannot have made (received != the signed amountOut): the order
    # stayed in flight and the transaction open for ever, the swap never booked.
    d = chain.deployment
    store = MemoryTxStore()
    venue = await connected_venue(
        d, store, symbols=["DEF/USD"], approve_unlimited=True, tokens=_declared(d)
    )
    seen = FillSink()
    venue.set_listener(seen)
    before = {b.asset: b.free for b in await venue.fetch_balances()}
    report = await venue.submit(dex_order("def-buy", "1", side=Side.BUY, symbol="DEF/USD"))
    assert report.status is OrderStatus.FILLED, report
    (swap,) = [r for r in store.rows.values() if r.client_order_id == "def-buy"]
    (fill,) = [f for f in seen.fills if f.trade_id == swap.tx_hash]
    after = {b.asset: b.free for b in await venue.fetch_balances()}
    assert fill.amount == Decimal("0.99") == after["DEF"] - before["DEF"]
    assert fill.amount * fill.price == before["USD"] - after["USD"]  # the cost, all of it
    assert Decimal(2) < fill.price < Decimal("2.1")  # 1 DEF's price spread over 0.99 received
    assert swap.status == "mined"
    fee = swap.detail["transfer_fee"]
    assert (fee["token"], fee["units"], Decimal(fee["amount"])) == (
        "DEF",
        str(10**16),
        Decimal("0.01"),
    )
    await venue.close()


async def test_a_shortfall_of_a_token_not_declared_to_take_a_fee_leaves_the_swap_waiting(
    chain: ChainThread,
) -> None:
    # The wallet receiving less than the pair's Swap log pays is a transfer fee only for a
    # token declared in venues.dex.fee_on_transfer: otherwise an RPC cutting the Transfer log
    # could pass its cut off as one. The swap stays open until the token is declared.
    d = chain.deployment
    store = MemoryTxStore()
    venue = await connected_venue(d, store, symbols=["DEF/USD"], approve_unlimited=True)
    seen = FillSink()
    venue.set_listener(seen)
    with pytest.raises(AmbiguousVenueError) as exc:
        await venue.submit(dex_order("def-undeclared", "1", side=Side.BUY, symbol="DEF/USD"))
    text = str(exc.value)
    assert exc.value.code == "RPC_ANSWER" and "venues.dex.fee_on_transfer" in text, text
    assert f"pays {10**18} DEF units" in text and f"receive {99 * 10**16}" in text, text
    assert seen.fills == []
    (swap,) = [r for r in store.rows.values() if r.client_order_id == "def-undeclared"]
    assert swap.status == "sent"
    venue.settings.tokens["DEF"] = replace(venue.settings.tokens["DEF"], fee_on_transfer=True)
    report = await venue.fetch_order("def-undeclared", "DEF/USD")
    assert report is not None and report.status is OrderStatus.FILLED
    assert [f.amount for f in seen.fills if f.trade_id == swap.tx_hash] == [Decimal("0.99")]
    assert store.rows[swap.tx_hash].detail["transfer_fee"]["units"] == str(10**16)
    await venue.close()


async def test_a_sell_of_a_fee_on_transfer_token_is_refused_before_signing(
    chain: ChainThread,
) -> None:
    store = MemoryTxStore()
    venue = await connected_venue(
        chain.deployment, store, symbols=["DEF/USD"], approve_unlimited=True
    )
    with pytest.raises(DefinitiveVenueError, match="UniswapV2: K"):
        await venue.submit(dex_order("def-sell", "1", side=Side.SELL, symbol="DEF/USD"))
    assert [r for r in store.rows.values() if r.kind == "swap"] == []
    await venue.close()


def test_fee_on_transfer_declares_configured_tokens_only() -> None:
    from tradeguard.model.errors import ConfigError
    from tradeguard.venues.uniswap_v2.config import DexVenueConfig

    where = {"router": "0x" + "11" * 20, "factory": "0x" + "22" * 20}
    tokens = {"DEF": "0x" + "33" * 20, "USD": "0x" + "44" * 20}
    dex = DexVenueConfig(tokens=tokens, fee_on_transfer=["DEF"], **where)
    settings = dex.settings(["DEF/USD"])
    assert (settings.token("DEF").fee_on_transfer, settings.token("USD").fee_on_transfer) == (
        True,
        False,
    )
    with pytest.raises(ConfigError, match=r"fee_on_transfer names 'DFE', which is no configured"):
        DexVenueConfig(tokens=tokens, fee_on_transfer=["DFE"], **where).settings(["DEF/USD"])
