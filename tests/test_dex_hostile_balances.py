"""A JSON-RPC endpoint answering balances no wallet can hold: a negative wei count, a fraction
of a wei, more than a uint256, a token balance of every bit set. The balance read is refused
(unanswered, in words naming the asset and the limit), never handed to the balance sync, which
would set it as the ledger's and book the difference as a deposit or a withdrawal."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from dex_support import ChainThread, connected_venue, running_chain
from test_dex_hostile_rpc import HostileServer, serving_hostile
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore


@pytest.fixture(scope="module")
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


@pytest.fixture
def hostile(chain: ChainThread) -> Iterator[HostileServer]:
    yield from serving_hostile(chain)


@pytest.mark.parametrize(
    ("method", "answer", "asset"),
    [
        ("eth_getBalance", "-0x1000", "ETH"),
        ("eth_getBalance", 1.5, "ETH"),
        ("eth_getBalance", hex(2**300), "ETH"),
        ("eth_getBalance", "0x" + "f" * 64, "ETH"),
    ],
)
async def test_a_balance_no_wallet_can_hold_is_refused_in_words(
    chain: ChainThread, hostile: HostileServer, method: str, answer: Any, asset: str
) -> None:
    # Before: -4.096E-15 ETH, 1E-18 ETH and 2.04E+72 ETH came back as balances.
    d = replace(chain.deployment, rpc_url=hostile.url)
    venue = await connected_venue(d, MemoryTxStore())
    honest = {b.asset: b.free for b in await venue.fetch_balances()}
    hostile.rewrites[method] = lambda params, result: answer
    with pytest.raises(AmbiguousVenueError, match="balances not read") as exc:
        await venue.fetch_balances()
    assert f"{asset} balance" in str(exc.value) and "is not an amount from 0 to" in str(exc.value)
    hostile.rewrites.clear()
    assert {b.asset: b.free for b in await venue.fetch_balances()} == honest
    await venue.close()


@pytest.mark.parametrize(
    ("units", "decimals", "expected"),
    [
        (10**18 + 1, 0, "1000000000000000001"),
        (5 * 10**40 + 123, 18, "50000000000000000000000.000000000000000123"),
        (2**256 - 1, 18, f"{2**256 - 1}"[:-18] + "." + f"{2**256 - 1}"[-18:]),
        (2**256 - 1, 6, f"{2**256 - 1}"[:-6] + "." + f"{2**256 - 1}"[-6:]),
    ],
)
async def test_a_token_balance_past_10_18_is_read_to_the_unit(
    chain: ChainThread, hostile: HostileServer, units: int, decimals: int, expected: str
) -> None:
    # Before: a token balance above 10^18 of the token (10^18 + 1 units of a 0-decimal token,
    # 5e22 tokens of an 18-decimal one, any uint256 past that) refused the whole balance read,
    # and from_units rounded anything past 28 digits (5E+22 WETH, its 123 units lost).
    d = replace(chain.deployment, rpc_url=hostile.url)
    venue = await connected_venue(d, MemoryTxStore())
    weth = venue.settings.tokens["WETH"]
    venue.settings.tokens["WETH"] = replace(weth, decimals=decimals)
    word = "0x" + units.to_bytes(32, "big").hex()
    weth_call = weth.address.lower()

    def only_weth(params: list[Any], result: Any) -> Any:
        to = str((params[0] or {}).get("to", "")).lower() if params else ""
        return word if to == weth_call else result

    hostile.rewrites["eth_call"] = only_weth
    balances = {b.asset: b.free for b in await venue.fetch_balances()}
    assert balances["WETH"] == Decimal(expected)
    assert str(balances["WETH"]) == expected or f"{balances['WETH']:f}" == expected
    await venue.close()


async def test_a_token_balance_above_the_tokens_total_supply_is_refused_in_words(
    chain: ChainThread, hostile: HostileServer
) -> None:
    # Before: any uint256 was taken as a balance, so an RPC answering 2^256 - 1 units of WETH
    # (about 1e59 dollars' worth) had it handed to the balance sync, which books the
    # difference as a deposit. No wallet holds more of a token than its totalSupply().
    d = replace(chain.deployment, rpc_url=hostile.url)
    venue = await connected_venue(d, MemoryTxStore())
    honest = {b.asset: b.free for b in await venue.fetch_balances()}
    weth = venue.settings.tokens["WETH"].address.lower()
    supply = int(chain.rpc("eth_call", {"to": weth, "data": "0x18160ddd"}, "latest")["result"], 16)
    lie = 2**256 - 1

    def balance_lie(params: list[Any], result: Any) -> Any:
        call = params[0] if params and isinstance(params[0], dict) else {}
        mine = str(call.get("to", "")).lower() == weth
        return "0x" + "f" * 64 if mine and call.get("data", "").startswith("0x70a08231") else result

    hostile.rewrites["eth_call"] = balance_lie
    with pytest.raises(AmbiguousVenueError, match="balances not read") as exc:
        await venue.fetch_balances()
    text = str(exc.value)
    assert f"WETH balance {str(lie)[:40]}" in text and "totalSupply" in text, text
    assert str(supply) in text, text
    hostile.rewrites.clear()
    assert {b.asset: b.free for b in await venue.fetch_balances()} == honest
    await venue.close()
