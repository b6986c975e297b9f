"""An order's signal is the caller's, but some of its keys mean something to the node: a
`settlement` fill clears a cycle's holdings, a `netting` sale settles a held leg, a `replaces`
order is indexed as the re-send of another, `arb` gives a fill a cycle role. Those keys
(`model.signal_keys.NODE_SIGNAL_KEYS`) are refused at every entry from outside (the orders API,
a bot's signal, a strategy's intent), the node's own orders keep them, and the checks that act
on them also ask for what no caller can set (the node's own order ids)."""

from __future__ import annotations

import re
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from test_api_support import bare_paper_config, bearer, build_app, client, replayed_node
from tradeguard.execution.gateway import OrderPathGateway
from tradeguard.execution.outcome_netting import netting_id
from tradeguard.execution.settlement import settlement_id
from tradeguard.model import OrderIntent, Side
from tradeguard.model.enums import LiquiditySide, OrderType
from tradeguard.model.fill import Fill
from tradeguard.model.order import Order
from tradeguard.model.outcome import Outcome
from tradeguard.model.signal_keys import (
    NODE_SIGNAL_KEYS,
    reserved_signal_error,
    strategy_signal_error,
)
from tradeguard.node import build_node
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from tradeguard.strategies.cross_venue.held_merge import is_netting

BUY = {"venue": "paper", "symbol": "BTC/USDT", "side": "buy", "amount": "0.001"}
# every key the node's code reads off an order's signal to decide what to do with it
INTERPRETED = {"arb", "bot_trade", "exit", "exit_plan", "native", "netting", "replaces",
               "settlement"}  # fmt: skip
YES = "m:YES/PUSD"


def test_the_reserved_set_is_every_key_the_node_acts_on() -> None:
    assert set(NODE_SIGNAL_KEYS) == INTERPRETED
    assert all(NODE_SIGNAL_KEYS[k] for k in NODE_SIGNAL_KEYS)  # each says who sets it


def test_the_refusal_names_the_field_its_value_and_the_reserved_set() -> None:
    msg = reserved_signal_error({"rsi": "28", "settlement": "yes"})
    assert msg is not None
    assert "signal.settlement" in msg and "'yes'" in msg
    assert "arb, bot_trade, exit, exit_plan, native, netting, replaces, settlement" in msg
    assert reserved_signal_error({"rsi": "28", "settlements": 1}) is None


@pytest.mark.parametrize("key", sorted(INTERPRETED))
async def test_the_orders_api_refuses_a_reserved_key_naming_it(
    tmp_path: Path, data_dir: Path, key: str
) -> None:
    node = await replayed_node(tmp_path, data_dir, rows=60)
    app, tokens = build_app(node)
    try:
        async with client(app) as http:
            for route in ("/api/v1/orders", "/api/v1/risk/validate"):
                r = await http.post(route, json={**BUY, "signal": {key: "yes"}},
                                    headers=bearer(tokens.trader))  # fmt: skip
                assert r.status_code == 422, (route, r.text)
                assert f"signal.{key}" in r.text and "'yes'" in r.text
                assert "reserved for the node" in r.text
        assert node.storage.load_orders() == []
    finally:
        node.close()


async def test_an_api_order_cannot_pose_as_the_re_send_of_another(
    tmp_path: Path, data_dir: Path
) -> None:
    node = await replayed_node(tmp_path, data_dir, rows=60)
    app, tokens = build_app(node)
    try:
        async with client(app) as http:
            first = await http.post("/api/v1/orders", json=BUY, headers=bearer(tokens.trader))
            cid = first.json()["client_order_id"]
            forged = {**BUY, "signal": {"replaces": cid}}
            r = await http.post("/api/v1/orders", json=forged, headers=bearer(tokens.trader))
        assert r.status_code == 422, r.text
        assert list(node.orders.orders.re_sends(cid)) == []
    finally:
        node.close()


def _gateway(settled: list[tuple[str, str, str]]) -> OrderPathGateway:
    risk = SimpleNamespace(cycle_holdings=SimpleNamespace(
        settled=lambda sid, venue, asset: settled.append((sid, venue, asset))))  # fmt: skip
    om = SimpleNamespace(
        orders={}, fill_listeners=[], balance_only=set(), submit=None,
        bus=SimpleNamespace(subscribe=lambda *a: None),
    )  # fmt: skip
    return OrderPathGateway(om, risk, "polymarket", "pmarb")  # type: ignore[arg-type]


def _order(cid: str, signal: dict[str, Any]) -> Order:
    return Order(cid, "pmarb", "polymarket", YES, Side.SELL, OrderType.MARKET, D(10),
                 D("0.4"), signal=signal)  # fmt: skip


def _fill(cid: str) -> Fill:
    return Fill("polymarket", YES, cid, cid, f"t-{cid}", Side.SELL, D("0.4"), D(10), D(0),
                "PUSD", LiquiditySide.TAKER, 1_000)  # fmt: skip


def test_a_fill_of_an_order_the_node_did_not_settle_leaves_cycle_holdings_alone() -> None:
    settled: list[tuple[str, str, str]] = []
    gateway = _gateway(settled)
    forged = _order("tg00000abcde-7", {"settlement": "yes"})  # a sent order's id
    gateway._on_fill(_fill(forged.client_order_id), forged)
    assert settled == []
    own = _order(settlement_id("polymarket", "m", Outcome.YES, "pmarb"), {"settlement": "yes"})
    gateway._on_fill(_fill(own.client_order_id), own)
    assert settled == [("pmarb", "polymarket", "m:YES")]


def test_only_the_node_s_own_netting_orders_count_as_netting_sales() -> None:
    forged = _order("tg00000abcde-8", {"netting": "t-1"})
    assert is_netting(_fill(forged.client_order_id), forged) is False
    own = _order(netting_id("polymarket", "t-1", Outcome.YES, "pmarb"), {"netting": "t-1"})
    assert is_netting(_fill(own.client_order_id), own) is True


@pytest.mark.parametrize("key", sorted(INTERPRETED))
async def test_a_strategy_s_intent_carrying_a_reserved_key_is_refused(
    tmp_path: Path, data_dir: Path, key: str
) -> None:
    node = build_node(bare_paper_config(tmp_path, data_dir, rows=60))
    try:
        intent = OrderIntent("mine", "paper", "BTC/USDT", Side.BUY, D("0.001"),
                             signal={"why": "cross", key: "x"})  # fmt: skip
        with pytest.raises(ValueError, match=rf"signal\.{key} = 'x' is reserved for the node"):
            node._ctx.emit(intent)
        assert node._ctx.queue == []
        node._ctx.emit(OrderIntent("mine", "paper", "BTC/USDT", Side.BUY, D("0.001"),
                                   signal={"why": "cross"}))  # fmt: skip
        assert len(node._ctx.queue) == 1
    finally:
        node.close()


async def test_an_execution_gateway_refuses_node_keys_but_carries_a_cycle_role(
    tmp_path: Path, data_dir: Path
) -> None:
    node = await replayed_node(tmp_path, data_dir, rows=60)  # quotes: a leg is sent
    try:
        gateway = node._ctx.execution_gateway("mine", "paper")
        forged = OrderIntent("mine", "paper", "BTC/USDT", Side.BUY, D("0.001"),
                             signal={"arb": "leg", "settlement": "yes"})  # fmt: skip
        out = await gateway.submit(forged)
        assert (out.status, out.order) == ("denied", None)
        assert "SIGNAL_RESERVED" in out.code and "signal.settlement = 'yes'" in out.reason
        leg = OrderIntent("mine", "paper", "BTC/USDT", Side.BUY, D("0.001"),
                          signal={"arb": "leg", "index": 0})  # fmt: skip
        sent = await gateway.submit(leg)
        assert sent.code != "SIGNAL_RESERVED" and sent.order is not None
        assert sent.order.signal["arb"] == "leg"
    finally:
        node.close()


def test_stored_orders_with_node_keys_still_load(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'tg.db'}")
    db.migrate()
    storage = Storage(db)
    signals = [{"settlement": "yes"}, {"netting": "t-1"}, {"replaces": "tg1-1", "rsi": "2"},
               {"arb": "leg", "index": 1}]  # fmt: skip
    for n, signal in enumerate(signals):
        storage.upsert_order(_order(f"tg00000abcde-{n}", signal))
    loaded = {o.client_order_id: o.signal for o in storage.load_orders()}
    assert [loaded[f"tg00000abcde-{n}"] for n in range(len(signals))] == signals
    db.dispose()


@pytest.mark.parametrize("source", ["api:trader(1)", "scanner", ""])
async def test_a_strategy_s_intent_cannot_set_the_api_s_source(
    tmp_path: Path, data_dir: Path, source: str
) -> None:
    # `source` is the orders API's record of the token that placed an order; a close placed
    # by hand is known by it (the exit buy-back counts it as one), so a strategy's intent
    # that sets it would pass itself off as a hand close.
    node = await replayed_node(tmp_path, data_dir, rows=60)
    try:
        intent = OrderIntent("mine", "paper", "BTC/USDT", Side.BUY, D("0.001"),
                             signal={"why": "cross", "source": source})  # fmt: skip
        with pytest.raises(ValueError, match=re.escape(f"signal.source = {source!r} is written")):
            node._ctx.emit(intent)
        assert node._ctx.queue == []
        gateway = node._ctx.execution_gateway("mine", "paper")
        out = await gateway.submit(intent)
        assert (out.status, out.order, out.code) == ("denied", None, "SIGNAL_RESERVED")
        assert f"signal.source = {source!r}" in out.reason
        assert node.storage.load_orders() == []
    finally:
        node.close()


def test_a_strategy_signal_is_refused_for_any_reserved_key_and_allowed_without() -> None:
    assert strategy_signal_error({}) is None
    assert strategy_signal_error({"why": "cross", "rsi": "28"}) is None
    for key in [*NODE_SIGNAL_KEYS, "source"]:
        msg = strategy_signal_error({"why": "cross", key: "x"})
        assert msg is not None and msg.startswith(f"signal.{key} = 'x'")
    # a key a caller allows passes; the others it carries still do not
    assert strategy_signal_error({"arb": "c1"}, frozenset({"arb"})) is None
    msg = strategy_signal_error({"arb": "c1", "exit": "x"}, frozenset({"arb"}))
    assert msg is not None and msg.startswith("signal.exit = 'x'")
