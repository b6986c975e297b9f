"""A JSON-RPC endpoint that answers the swap's balance check with errors (a node keeping no
state of the block before, or a rate limit) while it cuts a sell's proceeds in the Transfer log:
a shortfall between the pair's Swap amountOut and what the wallet received is a transfer fee
only for a token declared to take one (`venues.dex.fee_on_transfer`), else the order waits. A
rate-limited balance read is asked again a bounded number of times; a swap whose balances are
never answered is held unbooked (in flight, with a warning), never booked on its logs alone.
The node's error it is held with is told without any RPC URL's credentials or API key."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from dex_support import ChainThread, connected_venue, dex_order, running_chain
from fill_sink import FillSink
from test_dex_hostile_proceeds import _lie, _receipts
from test_dex_hostile_rpc import HostileServer, _through
from tradeguard.alerts.rules import alert_for
from tradeguard.bus import EventBus
from tradeguard.clock import SimulatedClock
from tradeguard.model.enums import OrderStatus, Side
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.model.events import Event
from tradeguard.node.builder import _tie_dex_references
from tradeguard.node.health import _venues
from tradeguard.sandbox.chain.rpc import LocalChain
from tradeguard.secrets.redact import install_redaction
from tradeguard.venues.uniswap_v2 import waiting
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore

_seq = iter(range(1, 10_000))
_TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
_PRUNED = {"code": -32000, "message": "missing trie node"}
_RATE_LIMITED = {"code": -32005, "message": "daily request count exceeded, request rate limited"}


@pytest.fixture(scope="module")
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


class _Refusing(HostileServer):
    """Answers balanceOf at a past block with `error` (the first `times` of them; -1: all)."""

    def __init__(self, chain: LocalChain, error: dict[str, Any], times: int = -1) -> None:
        super().__init__(chain)
        self.error, self.times, self.asked = error, times, 0

    def _one(self, item: Any) -> dict[str, Any]:
        params = (item.get("params") or []) if isinstance(item, dict) else []
        call = params[0] if params and isinstance(params[0], dict) else {}
        historical = len(params) > 1 and str(params[1]).startswith("0x")
        if historical and str(call.get("data", "")).startswith("0x70a08231"):
            self.asked += 1
            if self.times < 0 or self.asked <= self.times:
                return {"jsonrpc": "2.0", "id": item.get("id"), "error": self.error}
        return super()._one(item)


def _serving(chain: ChainThread, server: HostileServer) -> Iterator[HostileServer]:
    asyncio.run_coroutine_threadsafe(server.start(), chain.loop).result(10)
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), chain.loop).result(10)


@pytest.fixture
def pruned(chain: ChainThread) -> Iterator[HostileServer]:
    yield from _serving(chain, _Refusing(chain.chain, _PRUNED))


@pytest.fixture
def rate_limited(chain: ChainThread) -> Iterator[HostileServer]:
    yield from _serving(chain, _Refusing(chain.chain, _RATE_LIMITED))


@pytest.fixture
def rate_limited_twice(chain: ChainThread) -> Iterator[HostileServer]:
    yield from _serving(chain, _Refusing(chain.chain, _RATE_LIMITED, times=0))


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(waiting, "BALANCE_RETRY_S", 0.01, raising=False)


async def test_a_sells_proceeds_cut_in_the_transfer_log_are_no_transfer_fee(
    chain: ChainThread, pruned: HostileServer
) -> None:
    # Before: with the balance reads answered errors, the Transfer log's USD cut by 10 % (the
    # Swap log's amountOut untouched) was taken as USD's fee on transfer: the sell was booked
    # at 90 % of what the pool paid, the missing tenth journaled as a "transfer fee".
    store = MemoryTxStore()
    venue = await connected_venue(_through(chain.deployment, pruned), store,
                                  approve_unlimited=True)  # fmt: skip
    pruned.times = 0  # answered for the approvals' swap; refused from then on
    await venue.submit(dex_order(f"cut-warm-{next(_seq)}", "0.01"))  # approvals
    pruned.times = -1
    seen = FillSink()
    venue.set_listener(seen)
    pruned.rewrites["eth_getTransactionReceipt"] = _receipts(
        _lie(chain.deployment, Side.SELL, Decimal("0.9"), careful=False)
    )
    order = dex_order(f"cut-{next(_seq)}", "0.01")
    with pytest.raises(AmbiguousVenueError) as exc:
        await venue.submit(order)
    text = str(exc.value)
    assert exc.value.code == "RPC_ANSWER" and "venues.dex.fee_on_transfer" in text, text
    assert "USD" in text
    assert seen.fills == []
    (swap,) = [r for r in store.rows.values() if r.client_order_id == order.client_order_id]
    assert swap.status == "sent" and "transfer_fee" not in swap.detail
    pruned.rewrites.clear()
    pruned.times = pruned.asked  # and the balances answered: the honest receipt is proved
    resolved = await venue.fetch_order(order.client_order_id, "WETH/USD")
    assert resolved is not None and resolved.status is OrderStatus.FILLED
    (fill,) = seen.fills
    moved = chain.rpc("eth_getTransactionReceipt", swap.tx_hash)["result"]["logs"]
    usd = chain.deployment.tokens["USD"].lower()
    (real,) = [int(g["data"], 16) for g in moved
               if g["address"].lower() == usd and g["topics"][0] == _TRANSFER]  # fmt: skip
    assert fill.price * fill.amount == Decimal(real).scaleb(-18)
    await venue.close()


async def test_a_swap_whose_balances_are_never_answered_is_held_not_booked_on_its_logs(
    chain: ChainThread, pruned: HostileServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: with the balance reads at the receipt's block and the one before always answered
    # errors, the swap was booked on its logs alone (only noted "not run"), so logs that lie in
    # agreement with each other went unchecked. Now the fill is held, in flight, with a
    # warning, until the balances prove the logs; then it is booked once.
    install_redaction()  # the warning's tx hash stays readable through it (a hash is no key)
    store = MemoryTxStore()
    venue = await connected_venue(_through(chain.deployment, pruned), store,
                                  approve_unlimited=True)  # fmt: skip
    seen = FillSink()
    venue.set_listener(seen)
    order = dex_order(f"alone-{next(_seq)}", "0.01")
    with (
        caplog.at_level(logging.WARNING, logger="tradeguard.venues.uniswap_v2.waiting"),
        pytest.raises(AmbiguousVenueError) as exc,
    ):
        await venue.submit(order)
    text = str(exc.value)
    assert exc.value.code == "RPC_ANSWER" and "held" in text, text
    assert "missing trie node" in text and "venues.dex.rpc_url" in text, text
    (swap,) = [r for r in store.rows.values() if r.client_order_id == order.client_order_id]
    assert swap.status == "sent" and "balance_check" not in swap.detail, swap
    assert seen.fills == []
    # a second lookup is still held, and warns once per swap, naming the swap's tx hash
    with pytest.raises(AmbiguousVenueError):
        await venue.fetch_order(order.client_order_id, "WETH/USD")
    warned = [r.getMessage() for r in caplog.records if r.name == waiting.__name__]
    assert len([m for m in warned if "held" in m and "missing trie node" in m]) == 1, warned
    assert any(f"tx {swap.tx_hash}" in m for m in warned), warned
    assert seen.fills == []
    pruned.times = pruned.asked  # the node answers the balances from now on
    report = await venue.fetch_order(order.client_order_id, "WETH/USD")
    assert report is not None and report.status is OrderStatus.FILLED, report
    assert await venue.fetch_order(order.client_order_id, "WETH/USD") == report
    assert len(seen.fills) == 1 and seen.fills[0].trade_id == swap.tx_hash
    await venue.close()


async def test_a_rate_limited_balance_read_is_asked_again_before_the_logs_stand_alone(
    chain: ChainThread, rate_limited_twice: HostileServer
) -> None:
    # Before: the first rate-limit answer skipped the balance check, so a careful liar
    # (Transfer, Swap and Sync logs agreeing on twice the proceeds) had the sell booked at the
    # lie. Asked again, the third read answers the balances and gives the lie away.
    server = rate_limited_twice
    store = MemoryTxStore()
    venue = await connected_venue(_through(chain.deployment, server), store,
                                  approve_unlimited=True)  # fmt: skip
    await venue.submit(dex_order(f"limited-warm-{next(_seq)}", "0.01"))  # approvals
    server.asked, server.times = 0, 2 * 4
    seen = FillSink()
    venue.set_listener(seen)
    server.rewrites["eth_getTransactionReceipt"] = _receipts(
        _lie(chain.deployment, Side.SELL, Decimal(2), careful=True)
    )
    order = dex_order(f"limited-{next(_seq)}", "0.01")
    with pytest.raises(AmbiguousVenueError) as exc:
        await venue.submit(order)
    assert exc.value.code == "RPC_ANSWER" and "USD balance went from" in str(exc.value)
    assert seen.fills == []
    assert server.asked == 3 * 4  # two rate-limited batches of four balanceOf, then one answered
    await venue.close()


async def test_a_balance_read_rate_limited_for_good_is_asked_a_bounded_number_of_times(
    chain: ChainThread, rate_limited: HostileServer
) -> None:
    store = MemoryTxStore()
    venue = await connected_venue(_through(chain.deployment, rate_limited), store,
                                  approve_unlimited=True)  # fmt: skip
    order = dex_order(f"limited-{next(_seq)}", "0.01")
    with pytest.raises(AmbiguousVenueError) as exc:
        await venue.submit(order)
    assert rate_limited.asked == waiting.BALANCE_TRIES * 4
    text = str(exc.value)
    assert "held" in text and f"{waiting.BALANCE_TRIES} tries" in text, text
    (swap,) = [r for r in store.rows.values() if r.client_order_id == order.client_order_id]
    assert store.rows[swap.tx_hash].status == "sent"
    await venue.close()


class _NoPastState(HostileServer):
    """Answers balanceOf at a block below `floor` with an error, as a node keeping no state
    of those blocks: a swap mined at `floor` cannot be proved (its block before is refused),
    while the balances at its block and later are answered."""

    floor = 0

    def _one(self, item: Any) -> dict[str, Any]:
        params = (item.get("params") or []) if isinstance(item, dict) else []
        call = params[0] if params and isinstance(params[0], dict) else {}
        at = str(params[1]) if len(params) > 1 else ""
        balance_of = str(call.get("data", "")).startswith("0x70a08231")
        if balance_of and at.startswith("0x") and int(at, 16) < self.floor:
            return {"jsonrpc": "2.0", "id": item.get("id"), "error": _PRUNED}
        return super()._one(item)


async def test_a_held_swap_leaves_the_venues_balances_and_open_orders_answered(
    chain: ChainThread,
) -> None:
    # Before: while one swap was held unbooked, the venue's balance read and its open orders
    # raised for the whole venue (the held swap's RPC_ANSWER), with only a log warning to say
    # why. Now both answer: the open orders list the held swap in flight with the reason, and
    # the venue names it in `held` (told once to `on_held`) until the balances are answered.
    server = _NoPastState(chain.chain)
    yield_ = _serving(chain, server)
    next(yield_)
    try:
        store = MemoryTxStore()
        venue = await connected_venue(_through(chain.deployment, server), store,
                                      approve_unlimited=True)  # fmt: skip
        await venue.submit(dex_order(f"held-warm-{next(_seq)}", "0.01"))  # approvals
        told: list[dict[str, Any]] = []
        venue.held.on_held = told.append
        seen = FillSink()
        venue.set_listener(seen)
        server.floor = 10**9  # every past block refused: the swap is held
        order = dex_order(f"held-{next(_seq)}", "0.01")
        with pytest.raises(AmbiguousVenueError) as exc:
            await venue.submit(order)
        assert exc.value.code == "RPC_ANSWER" and "held" in str(exc.value)
        (swap,) = [r for r in store.rows.values() if r.client_order_id == order.client_order_id]
        receipt = chain.rpc("eth_getTransactionReceipt", swap.tx_hash)["result"]
        server.floor = int(receipt["blockNumber"], 16)  # its block and later answered
        (held,) = venue.held.listed()
        assert (held["client_order_id"], held["tx_hash"]) == (order.client_order_id, swap.tx_hash)
        assert "balances around block" in held["reason"] and "held" in held["reason"]
        balances = await venue.fetch_balances()
        assert {b.asset for b in balances} >= {"WETH", "USD"}
        (listed,) = await venue.fetch_open_orders()
        assert listed.client_order_id == order.client_order_id
        assert listed.status is OrderStatus.ACCEPTED and listed.venue_order_id == swap.tx_hash
        assert "held" in listed.reason and "balances around block" in listed.reason
        assert (await venue.fetch_open_orders("WETH/USD"))[0].reason == listed.reason
        assert [t["tx_hash"] for t in told] == [swap.tx_hash]  # told once
        assert seen.fills == []
        server.floor = 0  # the node answers the balances: booked once, no longer held
        report = await venue.fetch_order(order.client_order_id, "WETH/USD")
        assert report is not None and report.status is OrderStatus.FILLED, report
        assert venue.held.listed() == [] and await venue.fetch_open_orders() == []
        assert len(seen.fills) == 1 and len(told) == 1
        await venue.close()
    finally:
        next(yield_, None)


USER, PASSWORD, KEY, API_KEY = "rpcuser", "hunter2pass", "v3KEYabcdef123456", "QWERTYkey987654"
_LEAKY = {
    "code": -32000,
    "message": f"missing trie node (upstream https://{USER}:{PASSWORD}@rpc.example.org/{KEY} "
    f"refused; apikey={API_KEY})",
}


@pytest.fixture
def leaky(chain: ChainThread) -> Iterator[HostileServer]:
    yield from _serving(chain, _Refusing(chain.chain, _LEAKY))


def _clean(text: str) -> bool:
    return not any(secret in text for secret in (USER, PASSWORD, KEY, API_KEY))


async def test_a_held_swap_s_rpc_error_is_told_without_its_credentials(
    chain: ChainThread,
    leaky: HostileServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Before: the node's error, a URL with its user, password and key in it, was put whole in
    # the held reason, its event, alert and warning, and the health view's `held`.
    install_redaction()
    venue = await connected_venue(_through(chain.deployment, leaky), MemoryTxStore(),
                                  approve_unlimited=True)  # fmt: skip
    node: Any = type("N", (), {})()
    node.venues, node.bus, node.clock = {"dex": venue}, EventBus(), SimulatedClock(0)
    node.risk = type("R", (), {"venue_breakers": {}})()
    told: list[Event] = []
    node.bus.subscribe(told.append)
    _tie_dex_references(node)
    try:
        with (
            caplog.at_level(logging.WARNING, logger=waiting.__name__),
            pytest.raises(AmbiguousVenueError) as exc,
        ):
            await venue.submit(dex_order("leaky-1", "0.01"))
        assert "missing trie node" in str(exc.value) and _clean(str(exc.value)), exc.value
        (held,) = venue.held.listed()
        assert "missing trie node" in held["reason"] and _clean(held["reason"]), held
        (event,) = told
        assert _clean(str(event.data)), event.data
        alert = alert_for(event)
        assert alert is not None and "rpc.example.org" in alert.text and _clean(alert.text)
        warned = [r.getMessage() for r in caplog.records if r.name == waiting.__name__]
        assert warned and all(_clean(m) for m in warned), warned
        shown = _venues(node, True, 0)["venues"]["dex"]["held"]
        assert _clean(str(shown)), shown
    finally:
        await venue.close()


async def test_a_held_swap_mined_with_its_own_receipt_is_never_dropped_for_a_lookup_by_hash(
    chain: ChainThread, pruned: HostileServer
) -> None:
    # Before: a swap mined (the RPC answers its own receipt, in a block) and held only for its
    # balances was rejected as dropped, nothing booked, as soon as the transaction lookup by
    # hash answered null (a backend behind a balancer, an index behind the head): the swap
    # had happened and its fill was lost. Its own receipt is the chain's word: it stays held.
    store = MemoryTxStore()
    venue = await connected_venue(_through(chain.deployment, pruned), store,
                                  approve_unlimited=True)  # fmt: skip
    pruned.times = 0  # answered for the approvals' swap; refused from then on
    await venue.submit(dex_order(f"own-warm-{next(_seq)}", "0.01"))
    pruned.times = -1
    seen = FillSink()
    venue.set_listener(seen)
    pruned.rewrites["eth_getTransactionByHash"] = lambda params, result: None
    order = dex_order(f"own-{next(_seq)}", "0.01")
    with pytest.raises(AmbiguousVenueError, match="held"):
        await venue.submit(order)
    (swap,) = store.for_order("dex", order.client_order_id)
    assert swap.status == "sent" and seen.fills == []
    assert [x["tx_hash"] for x in venue.held.listed()] == [swap.tx_hash]
    pruned.rewrites.clear()
    pruned.times = pruned.asked  # the node answers the balances from now on
    report = await venue.fetch_order(order.client_order_id, "WETH/USD")
    assert report is not None and report.status is OrderStatus.FILLED, report
    assert len(seen.fills) == 1 and seen.fills[0].trade_id == swap.tx_hash
    await venue.close()


def test_a_held_reason_from_any_answer_is_told_without_its_credentials() -> None:
    # The held reason is cut wherever the node's words come from (not only a NoState error):
    # the event, the health view and the listing never carry a URL's user, password, path or
    # an API key; the swap's hash stays readable.
    from tradeguard.venues.uniswap_v2.held import HeldSwaps

    held, told = HeldSwaps("dex", lambda: 0), []
    held.on_held = told.append
    tx = "0x" + "ab" * 32
    raw = f"lookup of tx {tx} not answered: {_LEAKY['message']}"
    held.hold("c-1", "WETH/USD", tx, raw)
    (listed,) = held.listed()
    for text in (listed["reason"], str(told)):
        assert _clean(text) and "rpc.example.org" in text and tx in text, text
