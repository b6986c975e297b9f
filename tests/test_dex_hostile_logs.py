"""A JSON-RPC endpoint that lies about what a swap moved: a successful receipt whose Transfer
logs are gone, or name amounts the signed swap cannot have moved. The fill must be what the
chain did: such a receipt is not booked (the order stays in flight), and the honest answer
later books the swap once, with the amounts the chain moved."""

from __future__ import annotations

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
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore

_TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
_seq = iter(range(1, 10_000))


@pytest.fixture(scope="module")
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


@pytest.fixture
def hostile(chain: ChainThread) -> Iterator[HostileServer]:
    yield from serving_hostile(chain)


def _logs(edit: Callable[[list[Any]], list[Any]]) -> Callable[[list[Any], Any], Any]:
    def rewrite(params: list[Any], result: Any) -> Any:
        if not isinstance(result, dict) or result.get("status") != "0x1":
            return result
        return {**result, "logs": edit(list(result.get("logs") or []))}

    return rewrite


def _no_logs(logs: list[Any]) -> list[Any]:
    return []


def _scaled(token: str, times: int) -> Callable[[list[Any]], list[Any]]:
    """Every Transfer of `token` claimed `times` larger than the chain moved."""

    def edit(logs: list[Any]) -> list[Any]:
        out = []
        for log in logs:
            if str(log.get("address")).lower() == token.lower() and log["topics"][0] == _TRANSFER:
                value = int(log["data"], 16) * times
                log = {**log, "data": "0x" + value.to_bytes(64, "big").hex()}
            out.append(log)
        return out

    return edit


def _cases(d: Deployment) -> list[tuple[str, Side, Callable[[list[Any]], list[Any]]]]:
    weth, usd = d.tokens["WETH"], d.tokens["USD"]
    return [
        ("no logs, sell", Side.SELL, _no_logs),
        ("no logs, buy", Side.BUY, _no_logs),
        ("sell: the base sent x1000", Side.SELL, _scaled(weth, 1000)),
        ("buy: the base received x1000", Side.BUY, _scaled(weth, 1000)),
        ("buy: the quote paid x1000", Side.BUY, _scaled(usd, 1000)),
        ("sell: the quote received cut to a thousandth", Side.SELL, _shrunk(usd)),
    ]


def _shrunk(token: str) -> Callable[[list[Any]], list[Any]]:
    def edit(logs: list[Any]) -> list[Any]:
        out = []
        for log in logs:
            if str(log.get("address")).lower() == token.lower() and log["topics"][0] == _TRANSFER:
                value = int(log["data"], 16) // 1000
                log = {**log, "data": "0x" + value.to_bytes(32, "big").hex()}
            out.append(log)
        return out

    return edit


@pytest.mark.parametrize("case", range(6))
async def test_a_receipt_whose_transfers_the_signed_swap_cannot_have_made_is_not_booked(
    chain: ChainThread, hostile: HostileServer, case: int
) -> None:
    # Before: a successful receipt without its Transfer logs filled the order with 0 WETH at
    # price 0 (the swap the chain made was never booked, the record closed as mined), and
    # inflated Transfer amounts were booked as they came.
    name, side, edit = _cases(chain.deployment)[case]
    store = MemoryTxStore()
    venue = await connected_venue(_through(chain.deployment, hostile), store,
                                  approve_unlimited=True)  # fmt: skip
    await venue.submit(dex_order(f"logs-warm-{next(_seq)}", "0.01", side=side))  # approvals
    seen = FillSink()
    venue.set_listener(seen)
    hostile.rewrites["eth_getTransactionReceipt"] = _logs(edit)
    order = dex_order(f"logs-{next(_seq)}", "0.01", side=side)
    with pytest.raises(AmbiguousVenueError, match="Transfer") as exc:
        await venue.submit(order)
    assert exc.value.code == "RPC_ANSWER", name
    assert seen.fills == [], name
    (swap,) = [r for r in store.rows.values() if r.client_order_id == order.client_order_id]
    assert swap.status == "sent", name  # open: the honest answer books it
    hostile.rewrites.clear()
    resolved = await venue.fetch_order(order.client_order_id, "WETH/USD")
    assert resolved is not None and resolved.status is OrderStatus.FILLED, name
    (fill,) = seen.fills
    assert (fill.trade_id, fill.amount) == (swap.tx_hash, Decimal("0.01")), name
    assert Decimal(1000) < fill.price < Decimal(3000), name
    await venue.close()
