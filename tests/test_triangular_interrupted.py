"""Triangular, a cycle cut by a crash: a node SIGKILLed after its first leg filled trades what
it bought back to the start asset at the next start, within max_unwind_loss_pct, through the
order path; a start killed during that unwind neither unwinds twice nor loses the record."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rigs import killed_child
from tradeguard.config import Config
from tradeguard.model.enums import OrderStatus, Side
from tradeguard.model.events import Event, EventKind
from tradeguard.node import TradingNode
from tradeguard.node.interrupted import ADOPTING_KEY
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.venues.ccxt_clients import ccxt_client_factory
from triangular_node_support import (
    ALICE_KEY,
    ALICE_SECRET,
    ARB_PARAMS,
    VENUE,
    drifting_sandbox,
    node_config,
    sandbox_config,
)

CHILD = Path(__file__).with_name("tri_crash_child.py")


def _cfg(tmp: Path, ex: Any, **exec_params: Any) -> Config:
    params = {**ARB_PARAMS, "exec": {**ARB_PARAMS["exec"], **exec_params}}
    return node_config(sandbox_config(tmp, ex, params=params))


async def _child(tmp: Path, cfg: Config, *args: str) -> dict[str, Any]:
    return (await killed_child(CHILD, tmp, cfg, *args, timeout_s=90))[-1]


@contextlib.asynccontextmanager
async def _started(cfg: Config) -> AsyncIterator[tuple[TradingNode, list[Event]]]:
    """The node of `cfg` started again after the crash, with the events it publishes."""
    node = TradingNode(cfg)
    node.orders.not_found_grace_ms = 0  # the restart comes after the venue's queueing grace
    events: list[Event] = []
    node.bus.subscribe(events.append)
    await node.start()
    try:
        yield node, events
    finally:
        await node.stop()
        node.close()


def _held(events: list[Event]) -> list[Event]:
    return [e for e in events if e.kind == EventKind.ARB_HELD]


async def test_first_leg_killed_before_leg_two_is_traded_back_within_the_bound_at_next_start(
    tmp_path: Path, vault_env: None
) -> None:
    async with drifting_sandbox(arb_drift_every_ms=0) as ex:
        cfg = _cfg(tmp_path, ex, max_unwind_loss_pct="3")
        first = await _child(tmp_path, cfg, "between")
        assert Decimal(first["filled"]) > 0, first
        async with _started(cfg) as (node, events):
            [rec] = load_arb_executions(node.storage, strategy_id="tri")
            assert rec["outcome"] == "unwound", json.dumps(rec, default=str)
            [leg] = rec["legs"]["legs"]
            [back] = rec["legs"]["unwinds"]
            assert leg["client_order_id"] == first["first"]
            assert (back["symbol"], back["side"]) == (first["symbol"], "sell")
            sell = node.orders.orders[back["client_order_id"]]
            assert sell.status is OrderStatus.FILLED and sell.signal["arb"] == "unwind"
            spent = Decimal(first["spent"])
            assert Decimal(rec["legs"]["spent"]) == spent
            loss = -Decimal(rec["actual_profit"])
            # The bound holds the price within 3% of the cost; the sell's fee comes on top.
            assert Decimal(0) < loss <= spent * Decimal("0.03") + sell.fee, loss
            assert node.portfolio.book(VENUE).total(first["base"]) < Decimal(first["received"])
            assert not _held(events)
            assert node.storage.kv_get(ADOPTING_KEY) == {}
            print(f"\nunwound at start: {first['symbol']} bought for {spent} USDT, sold back "
                  f"for {rec['legs']['returned']} USDT at {back['avg_price']} (limit "
                  f"{back['limit_price']}), loss {loss} USDT")  # fmt: skip
        async with _started(cfg) as (again, events):  # once: the record names both orders
            assert len(load_arb_executions(again.storage, strategy_id="tri")) == 1
            assert len(again.storage.load_orders(strategy_id="tri")) == 2
            assert not _held(events)


async def test_unwind_that_cannot_fill_within_the_bound_stays_held_and_is_not_resent(
    tmp_path: Path, vault_env: None
) -> None:
    async with drifting_sandbox(arb_drift_every_ms=0) as ex:
        cfg = _cfg(tmp_path, ex, max_unwind_loss_pct="0.01")  # inside the spread: no bid fits
        first = await _child(tmp_path, cfg, "between")
        for start in range(2):
            async with _started(cfg) as (node, events):
                [rec] = load_arb_executions(node.storage, strategy_id="tri")
                assert rec["outcome"] == "held", json.dumps(rec, default=str)
                orders = node.storage.load_orders(strategy_id="tri")
                sells = [o for o in orders if o.side is Side.SELL]
                # One IOC at the bound: the tick-rounded bound is not sent a second time.
                assert len(sells) == 1 and sells[0].filled == 0, sells
                bound = Decimal(first["spent"]) / Decimal(first["received"]) * Decimal("0.9999")
                assert all(o.price is not None and o.price >= bound for o in sells), sells
                held = _held(events)
                if start == 0:
                    assert [e.severity for e in held] == ["critical"]
                    assert first["base"] in held[0].data["held"]
                    print(f"\nheld at start: {held[0].data['message']}; sells {len(sells)} at "
                          f"{[str(o.price) for o in sells]}, bid {first['bid']}")  # fmt: skip
                else:
                    assert held == [] and len(orders) == 1 + len(sells)  # nothing sent again


async def test_a_start_killed_while_unwinding_sends_nothing_more_and_records_the_legs(
    tmp_path: Path, vault_env: None
) -> None:
    async with drifting_sandbox(arb_drift_every_ms=0) as ex:
        cfg = _cfg(tmp_path, ex, max_unwind_loss_pct="3")
        first = await _child(tmp_path, cfg, "between")
        cut = await _child(tmp_path, cfg, "unwinding")
        async with _started(cfg) as (node, events):
            assert node.orders.orders[cut["journaled"]].status is OrderStatus.REJECTED
            assert len(node.storage.load_orders(strategy_id="tri")) == 2  # no second unwind
            [rec] = load_arb_executions(node.storage, strategy_id="tri")
            assert rec["outcome"] == "held"
            assert [leg["client_order_id"] for leg in rec["legs"]["legs"]] == [first["first"]]
            [held] = _held(events)
            assert "stopped again while unwinding" in held.data["reason"]
            assert node.portfolio.book(VENUE).total(first["base"]) >= Decimal(first["received"])
            assert node.storage.kv_get(ADOPTING_KEY) == {}
        async with _started(cfg) as (again, events):
            assert len(again.storage.load_orders(strategy_id="tri")) == 2
            assert _held(events) == []


async def test_on_interrupted_hold_sends_nothing_and_reports_the_leg_once(
    tmp_path: Path, vault_env: None
) -> None:
    async with drifting_sandbox(arb_drift_every_ms=0) as ex:
        cfg = _cfg(tmp_path, ex, on_interrupted="hold")
        first = await _child(tmp_path, cfg, "between")
        for start in range(2):
            async with _started(cfg) as (node, events):
                held = _held(events)
                assert len(node.storage.load_orders(strategy_id="tri")) == 1  # nothing sent
                assert load_arb_executions(node.storage, strategy_id="tri") == []
                if start == 0:
                    [event] = held
                    assert event.data["client_order_ids"] == [first["first"]]
                    assert "on_interrupted is `hold`" in event.data["reason"]
                else:
                    assert held == []


async def test_legs_that_are_no_chain_from_a_first_leg_are_recorded_held_untouched(
    tmp_path: Path, vault_env: None
) -> None:
    async with drifting_sandbox(arb_drift_every_ms=0) as ex:
        cfg = _cfg(tmp_path, ex)
        first = await _child(tmp_path, cfg, "between")
        node = TradingNode(cfg)
        try:  # the journal holds a second leg whose first leg no longer shows
            [order] = node.storage.load_orders(strategy_id="tri")
            order.signal = {"arb": "leg", "index": 1}
            node.storage.upsert_order(order)
        finally:
            node.close()
        async with _started(cfg) as (node, events):
            [rec] = load_arb_executions(node.storage, strategy_id="tri")
            assert rec["outcome"] == "held" and rec["legs"]["unwinds"] == []
            assert "is not forward leg 1 of one cycle" in rec["legs"]["reason"]
            assert [leg["client_order_id"] for leg in rec["legs"]["legs"]] == [first["first"]]
            assert len(node.storage.load_orders(strategy_id="tri")) == 1  # nothing sent
            held = _held(events)
            assert [e.severity for e in held] == ["critical"]


async def test_two_legs_killed_before_leg_three_trade_the_btc_reached_back_to_usdt(
    tmp_path: Path, vault_env: None
) -> None:
    async with drifting_sandbox(arb_drift_every_ms=0) as ex:
        cfg = _cfg(tmp_path, ex, max_unwind_loss_pct="3")
        legs = await _child(tmp_path, cfg, "between2")
        assert Decimal(legs["btc"]) > 0, json.dumps(legs)
        async with _started(cfg) as (node, events):
            [rec] = load_arb_executions(node.storage, strategy_id="tri")
            assert rec["outcome"] == "unwound", json.dumps(rec, default=str)
            named = [leg["client_order_id"] for leg in rec["legs"]["legs"]]
            assert named == [legs["first"], legs["second"]]
            [back] = rec["legs"]["unwinds"]
            assert (back["symbol"], back["side"], back["from"]) == ("BTC/USDT", "sell", "BTC")
            spent = Decimal(legs["spent"])
            loss = spent - Decimal(rec["legs"]["returned"])
            assert Decimal(0) < loss <= spent * Decimal("0.05"), loss  # two spreads, fees
            assert not _held(events)
            print(f"\ntwo legs unwound at start: {spent} USDT -> {legs['btc']} BTC -> "
                  f"{rec['legs']['returned']} USDT")  # fmt: skip


async def test_an_unwind_whose_bound_reaches_beyond_the_price_band_is_sent_at_the_bands_edge(
    tmp_path: Path, vault_env: None
) -> None:
    # max_unwind_loss_pct=15 lets the sell go 15% below the cost, beyond risk.price_band_pct=5
    # around the mid: sent at that bound the risk engine refused it and the leg stayed held.
    async with drifting_sandbox(arb_drift_every_ms=0) as ex:
        cfg = _cfg(tmp_path, ex, max_unwind_loss_pct="15")
        first = await _child(tmp_path, cfg, "between")
        assert Decimal(first["filled"]) > 0, first
        async with _started(cfg) as (node, events):
            [rec] = load_arb_executions(node.storage, strategy_id="tri")
            assert rec["outcome"] == "unwound", json.dumps(rec, default=str)
            denied = [u for u in rec["legs"]["unwinds"] if u["status"] == "denied"]
            assert denied == [], denied
            sells = [o for o in node.storage.load_orders(strategy_id="tri") if o.side is Side.SELL]
            assert sells and sells[-1].status is OrderStatus.FILLED, sells
            mid = node.market.mid(first["symbol"])
            assert mid is not None and all(o.price >= mid * Decimal("0.95") for o in sells)
            assert not _held(events)


@pytest.mark.parametrize("by_hand", ["market", "resting"])
async def test_a_leg_partly_sold_by_hand_while_down_is_unwound_only_for_what_is_held(
    tmp_path: Path, vault_env: None, by_hand: str
) -> None:
    """`market`: sold by hand; `resting`: a sell placed by hand far above the book locks it."""
    async with drifting_sandbox(arb_drift_every_ms=0) as ex:
        cfg = _cfg(tmp_path, ex, max_unwind_loss_pct="3")
        first = await _child(tmp_path, cfg, "between")
        received = Decimal(first["received"])
        client = ccxt_client_factory(
            "binance", {"apiKey": ALICE_KEY, "secret": ALICE_SECRET},
            rest_url=ex.rest_url, ws_url=ex.ws_url,
        )()  # fmt: skip
        try:  # the person sells about 60% of the bought coin by hand while the node is down
            await client.load_markets()
            qty = Decimal(client.amount_to_precision(first["symbol"], received * 6 / 10))
            high = float(Decimal(first["bid"]) * 2) if by_hand == "resting" else None
            await client.create_order(first["symbol"], by_hand.replace("resting", "limit"),
                                      "sell", float(qty), high)  # fmt: skip
            left = Decimal(str((await client.fetch_balance())["free"][first["base"]]))
        finally:
            await client.close()
        assert 0 < left < received, (left, received)
        async with _started(cfg) as (node, events):
            [rec] = load_arb_executions(node.storage, strategy_id="tri")
            unwinds = rec["legs"]["unwinds"]
            sent = [node.orders.orders[u["client_order_id"]] for u in unwinds]
            # Never more than the venue held: the coin sold by hand is not sold a second time.
            assert sent and all(o.amount <= left for o in sent), (sent, left)
            assert sum((o.filled for o in sent), Decimal(0)) > 0, json.dumps(rec, default=str)
            assert f"{received - left} {first['base']} of the {received}" in rec["legs"]["reason"]
            assert "already gone, not held" in rec["legs"]["reason"]
            assert first["base"] not in rec["legs"]["held"], rec["legs"]["held"]
            [done] = [e for e in events if e.kind == EventKind.ARB_EXECUTION]
            assert "no longer free on" in done.data["reason"], done.data
            assert node.portfolio.book(VENUE).total(first["base"]) >= 0
            sold = [str(o.filled) for o in sent]
            print(f"\nbought {received} {first['base']}, {qty} sold by hand ({by_hand}), {left} "
                  f"free; unwound {sold}: {rec['legs']['reason']}")  # fmt: skip


async def test_a_leg_whose_balance_the_start_could_not_read_is_held_not_recorded_as_gone(
    tmp_path: Path, vault_env: None
) -> None:
    """The start-up reconciliation cannot read the account (every /api/v3/account call times
    out): the book holds the balances stored before the crash, which may predate the leg's
    fill. The unwind cap read them as what the venue holds now and recorded the bought coin as
    already gone, not held, while it was all on the venue."""
    async with drifting_sandbox(arb_drift_every_ms=0) as ex:
        cfg = _cfg(tmp_path, ex, max_unwind_loss_pct="3")
        first = await _child(tmp_path, cfg, "between")
        received, base = Decimal(first["received"]), first["base"]
        cfg.reconcile.call_timeout_s, cfg.reconcile.call_attempts = 0.5, 1
        ex.faults.latency_ms_by_endpoint = {"/api/v3/account": 3000}
        async with _started(cfg) as (node, _):
            assert not node.reconcile_report.ok, node.reconcile_report.to_json()
            free, locked = ex.balances(ALICE_KEY)[base]
            assert free + locked >= received  # nothing of it was sold
            [rec] = load_arb_executions(node.storage, strategy_id="tri")
            assert "already gone" not in rec["legs"]["reason"], rec["legs"]["reason"]
            held = {k: Decimal(v) for k, v in rec["legs"]["held"].items()}
            assert held.get(base) == received, (held, received)


async def test_a_node_killed_after_the_last_leg_records_the_cycle_and_sends_nothing(
    tmp_path: Path, vault_env: None
) -> None:
    async with drifting_sandbox(arb_drift_every_ms=0) as ex:
        cfg = _cfg(tmp_path, ex, max_unwind_loss_pct="3")
        legs = await _child(tmp_path, cfg, "after3")
        assert Decimal(legs["usdt"]) > 0, json.dumps(legs)
        async with _started(cfg) as (node, events):
            [rec] = load_arb_executions(node.storage, strategy_id="tri")
            named = [leg["client_order_id"] for leg in rec["legs"]["legs"]]
            assert named == [legs["first"], legs["second"], legs["third"]]
            assert rec["legs"]["unwinds"] == [], json.dumps(rec, default=str)
            assert len(node.storage.load_orders(strategy_id="tri")) == 3  # nothing more sent
            assert Decimal(rec["legs"]["returned"]) == Decimal(legs["usdt"])
            assert not _held(events)


async def test_a_start_killed_while_reporting_held_legs_reports_them_at_the_next_start(
    tmp_path: Path, vault_env: None
) -> None:
    # The legs were marked reported before the arb.held event went out: a SIGKILL in between
    # lost the only report of a stranded asset for good.
    async with drifting_sandbox(arb_drift_every_ms=0) as ex:
        cfg = _cfg(tmp_path, ex, on_interrupted="hold")
        first = await _child(tmp_path, cfg, "between")
        died = await _child(tmp_path, cfg, "heldkill")
        assert died == {"publishing": [first["first"]]}
        async with _started(cfg) as (node, events):
            [event] = _held(events)
            assert event.data["client_order_ids"] == [first["first"]]
            assert len(node.storage.load_orders(strategy_id="tri")) == 1  # nothing sent
