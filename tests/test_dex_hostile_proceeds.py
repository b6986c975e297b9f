"""A JSON-RPC endpoint that lies about a swap's price within the signed bounds: a sell's
proceeds inflated above what the pool paid (still past amountOutMin), a buy's cost cut (still
under amountInMax). First the Transfer logs alone, then a careful liar whose Transfer, Swap and
Sync logs all agree with each other and with the pool's curve: only the wallet's balances,
read before and after the swap's block, give it away. Nothing is booked at the lie (the order
stays in flight, its transaction open) and the honest answer books what the chain moved, once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from dex_support import ChainThread, connected_venue, dex_order, running_chain
from fill_sink import FillSink
from test_dex_hostile_rpc import HostileServer, _through, serving_hostile
from tradeguard.model.enums import OrderStatus, Side
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.sandbox.chain.deploy import Deployment
from tradeguard.venues.uniswap_v2 import amm
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore

_TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
_SWAP = "0xd78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822"
_SYNC = "0x1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1"
_seq = iter(range(1, 10_000))
Edit = Callable[[list[Any]], list[Any]]


@pytest.fixture(scope="module")
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


@pytest.fixture
def hostile(chain: ChainThread) -> Iterator[HostileServer]:
    yield from serving_hostile(chain)


def _words(data: str) -> list[int]:
    raw = data.removeprefix("0x")
    return [int(raw[i : i + 64], 16) for i in range(0, len(raw), 64)]


def _data(words: list[int]) -> str:
    return "0x" + "".join(w.to_bytes(32, "big").hex() for w in words)


def _solve(target: int, figure: Callable[[int], int], high: int) -> int:
    """The least reserve in 1..high for which `figure` (rising with it) reaches `target`."""
    low = 1
    while low < high:
        mid = (low + high) // 2
        if figure(mid) < target:
            low = mid + 1
        else:
            high = mid
    return low


def _lie(d: Deployment, side: Side, factor: Decimal, careful: bool) -> Edit:
    """Scale the quote amount of the swap (a sell's proceeds, a buy's cost) by `factor` in the
    Transfer log; `careful` rewrites the pair's Swap and Sync logs to agree, on the curve."""
    usd, pair = d.tokens["USD"].lower(), d.pairs["WETH/USD"].lower()
    usd_first = int(usd, 16) < int(d.tokens["WETH"], 16)
    q = 0 if usd_first else 1  # the quote's slot in the pair's (token0, token1) figures

    def edit(logs: list[Any]) -> list[Any]:
        (swap,) = [g for g in logs if g["address"].lower() == pair and g["topics"][0] == _SWAP]
        (sync,) = [g for g in logs if g["address"].lower() == pair and g["topics"][0] == _SYNC]
        amounts, reserves = _words(swap["data"]), _words(sync["data"])
        real = amounts[2 + q] if side is Side.SELL else amounts[q]
        lie = int(real * factor)
        if careful:
            base_in, base_out = amounts[1 - q], amounts[3 - q]
            if side is Side.SELL:  # the pool's quote reserve that pays `lie` for base_in
                pre_base = reserves[1 - q] - base_in
                pre_q = _solve(lie, lambda r: amm.amount_out(base_in, pre_base, r), 10**40)
                amounts[2 + q], reserves[q] = lie, pre_q - lie
            else:  # the pool's quote reserve that asks only `lie` for base_out
                pre_base = reserves[1 - q] + base_out
                pre_q = _solve(lie, lambda r: amm.amount_in(base_out, r, pre_base), 10**40)
                amounts[q], reserves[q] = lie, pre_q + lie
        out = []
        for log in logs:
            if log is swap and careful:
                log = {**log, "data": _data(amounts)}
            elif log is sync and careful:
                log = {**log, "data": _data(reserves)}
            elif log["address"].lower() == usd and log["topics"][0] == _TRANSFER:
                log = {**log, "data": _data([lie])}
            out.append(log)
        return out

    return edit


def _receipts(edit: Edit) -> Callable[[list[Any], Any], Any]:
    def rewrite(params: list[Any], result: Any) -> Any:
        if not isinstance(result, dict) or result.get("status") != "0x1":
            return result
        return {**result, "logs": edit(list(result.get("logs") or []))}

    return rewrite


_CASES = [
    # name, side, factor, careful, what gives it away
    ("sell proceeds x2 in the Transfer log", Side.SELL, Decimal(2), False, "Swap log"),
    ("buy cost halved in the Transfer log", Side.BUY, Decimal("0.5"), False, "Swap log"),
    ("sell proceeds x2 in every log", Side.SELL, Decimal(2), True, "USD balance went from"),
    ("buy cost halved in every log", Side.BUY, Decimal("0.5"), True, "USD balance went from"),
    ("sell proceeds +0.2 % in every log", Side.SELL, Decimal("1.002"), True, "USD balance"),
]


@pytest.mark.parametrize("case", range(len(_CASES)))
async def test_a_price_lie_within_the_signed_bounds_is_not_booked(
    chain: ChainThread, hostile: HostileServer, case: int
) -> None:
    # Before: the Transfer logs only had to fall within the signed bounds (a sell's proceeds at
    # least amountOutMin, a buy's cost at most amountInMax), so a sell was booked at twice what
    # the pool paid and a buy at half what it cost.
    name, side, factor, careful, tell = _CASES[case]
    store = MemoryTxStore()
    venue = await connected_venue(_through(chain.deployment, hostile), store,
                                  approve_unlimited=True)  # fmt: skip
    await venue.submit(dex_order(f"price-warm-{next(_seq)}", "0.01", side=side))  # approvals
    seen = FillSink()
    venue.set_listener(seen)
    hostile.rewrites["eth_getTransactionReceipt"] = _receipts(
        _lie(chain.deployment, side, factor, careful)
    )
    order = dex_order(f"price-{next(_seq)}", "0.01", side=side)
    with pytest.raises(AmbiguousVenueError) as exc:
        await venue.submit(order)
    assert exc.value.code == "RPC_ANSWER" and tell in str(exc.value), (name, str(exc.value))
    assert seen.fills == [], name
    (swap,) = [r for r in store.rows.values() if r.client_order_id == order.client_order_id]
    assert swap.status == "sent", name  # open: the honest answer books it
    hostile.rewrites.clear()
    resolved = await venue.fetch_order(order.client_order_id, "WETH/USD")
    assert resolved is not None and resolved.status is OrderStatus.FILLED, name
    (fill,) = seen.fills
    assert (fill.trade_id, fill.amount) == (swap.tx_hash, Decimal("0.01")), name
    assert Decimal(1000) < fill.price < Decimal(3000), name
    moved = chain.rpc("eth_getTransactionReceipt", swap.tx_hash)["result"]["logs"]
    usd = chain.deployment.tokens["USD"].lower()
    (real,) = [int(g["data"], 16) for g in moved
               if g["address"].lower() == usd and g["topics"][0] == _TRANSFER]  # fmt: skip
    assert fill.price * fill.amount == amm.from_units(real, 18), name
    await venue.close()


@pytest.mark.parametrize("answer", ["0x", "0x" + "00" * 31, "0xzz" + "00" * 31])
async def test_a_balance_answer_no_node_gives_does_not_pass_a_price_lie(
    chain: ChainThread, hostile: HostileServer, answer: str
) -> None:
    # Before: any answer to the balance reads that was not a uint256 (an empty result, a short
    # word) counted as a node keeping no state of those blocks, and the check was skipped: a
    # careful liar (Transfer, Swap and Sync logs in agreement) had the sell booked at twice
    # what the pool paid. A pruned node answers an error; a malformed result leaves the
    # receipt unbooked until the balances are answered.
    store = MemoryTxStore()
    venue = await connected_venue(_through(chain.deployment, hostile), store,
                                  approve_unlimited=True)  # fmt: skip
    await venue.submit(dex_order(f"shape-warm-{next(_seq)}", "0.01"))  # approvals
    seen = FillSink()
    venue.set_listener(seen)
    hostile.rewrites["eth_getTransactionReceipt"] = _receipts(
        _lie(chain.deployment, Side.SELL, Decimal(2), True)
    )

    def garbled(params: list[Any], result: Any) -> Any:
        call = params[0] if params and isinstance(params[0], dict) else {}
        historical = len(params) > 1 and str(params[1]).startswith("0x")
        return (
            answer if historical and str(call.get("data", "")).startswith("0x70a08231") else result
        )

    hostile.rewrites["eth_call"] = garbled
    order = dex_order(f"shape-{next(_seq)}", "0.01")
    with pytest.raises(AmbiguousVenueError) as exc:
        await venue.submit(order)
    assert exc.value.code == "RPC_ANSWER" and "balances around block" in str(exc.value)
    assert seen.fills == []
    hostile.rewrites.clear()
    resolved = await venue.fetch_order(order.client_order_id, "WETH/USD")
    assert resolved is not None and resolved.status is OrderStatus.FILLED
    (fill,) = seen.fills
    assert Decimal(1000) < fill.price < Decimal(3000)
    await venue.close()


class _Pruned(HostileServer):
    """Answers balanceOf at a past block with an error, as a node keeping no state of it
    (while `refusing`)."""

    refusing = True

    def _one(self, item: Any) -> dict[str, Any]:
        params = (item.get("params") or []) if isinstance(item, dict) else []
        call = params[0] if params and isinstance(params[0], dict) else {}
        historical = len(params) > 1 and str(params[1]).startswith("0x")
        if self.refusing and historical and str(call.get("data", "")).startswith("0x70a08231"):
            missing = {"code": -32000, "message": "missing trie node"}
            return {"jsonrpc": "2.0", "id": item.get("id"), "error": missing}
        return super()._one(item)


async def test_a_node_keeping_no_past_state_holds_a_careful_liars_swap_unbooked(
    chain: ChainThread,
) -> None:
    # Before: with the balance reads answered errors (no state of those blocks) the logs'
    # checks stood alone, and a careful liar (Transfer, Swap and Sync logs in agreement on
    # twice the proceeds) had the sell booked at twice what the pool paid. Now the swap is
    # held, in flight, until the balances are answered, then booked once at what the chain
    # moved.
    server = _Pruned(chain.chain)
    asyncio.run_coroutine_threadsafe(server.start(), chain.loop).result(10)
    try:
        store = MemoryTxStore()
        venue = await connected_venue(_through(chain.deployment, server), store,
                                      approve_unlimited=True)  # fmt: skip
        server.refusing = False
        await venue.submit(dex_order(f"pruned-warm-{next(_seq)}", "0.01"))  # approvals
        server.refusing = True
        seen = FillSink()
        venue.set_listener(seen)
        server.rewrites["eth_getTransactionReceipt"] = _receipts(
            _lie(chain.deployment, Side.SELL, Decimal(2), True)
        )
        order = dex_order(f"pruned-{next(_seq)}", "0.01")
        with pytest.raises(AmbiguousVenueError) as exc:
            await venue.submit(order)
        assert exc.value.code == "RPC_ANSWER" and "held" in str(exc.value), exc.value
        server.rewrites.clear()  # honest receipts, still no past state: still held
        with pytest.raises(AmbiguousVenueError):
            await venue.fetch_order(order.client_order_id, "WETH/USD")
        assert seen.fills == []
        server.refusing = False
        report = await venue.fetch_order(order.client_order_id, "WETH/USD")
        assert report is not None and report.status is OrderStatus.FILLED, report
        (swap,) = [r for r in store.rows.values() if r.client_order_id == order.client_order_id]
        (fill,) = seen.fills
        assert fill.trade_id == swap.tx_hash and fill.amount == Decimal("0.01")
        assert Decimal(1000) < fill.price < Decimal(3000)
        await venue.close()
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), chain.loop).result(10)
