"""Cross-venue, both legs or neither across a crash: a node SIGKILLed after the first leg filled
sells the lone leg back at the next start, within max_unwind_loss_usd, through the order path;
a start killed during that unwind neither unwinds twice nor loses the record."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest

from rigs import killed_child
from test_pm_arb_node import arb_config, vault_with_both
from tradeguard.config import Config
from tradeguard.model.enums import OrderStatus, Side
from tradeguard.model.events import Event, EventKind
from tradeguard.node import TradingNode
from tradeguard.node.interrupted import ADOPTING_KEY
from tradeguard.sandbox.pm_serve import kalshi_demo, kalshi_keys, polymarket_demo, polymarket_keys
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.venues.kalshi.client import KalshiClient

NO = "KXFED-26DEC-T4.00:NO/USD"
CAP = "1.5"
CHILD = Path(__file__).with_name("pm_arb_crash_child.py")


async def _child(tmp: Path, cfg: Config, *args: str) -> dict:
    return (await killed_child(CHILD, tmp, cfg, *args, timeout_s=90))[-1]


async def _start(cfg: Config) -> tuple[TradingNode, list[Event]]:
    node = TradingNode(cfg)
    node.orders.not_found_grace_ms = 0  # the restart comes after the venue's queueing grace
    events: list[Event] = []
    node.bus.subscribe(events.append)
    await node.start()
    return node, events


@pytest.fixture
def k_keys():
    return kalshi_keys(None)


@pytest.fixture
async def servers(tmp_path, monkeypatch, k_keys):
    pm_keys = polymarket_keys(None)
    kalshi, pm = kalshi_demo(k_keys), polymarket_demo(pm_keys)
    await kalshi.start()
    await pm.start()
    vault_with_both(tmp_path, monkeypatch, k_keys, pm_keys)
    try:
        yield kalshi, pm
    finally:
        await pm.stop()
        await kalshi.stop()


def _config(tmp: Path, servers, **exec_params: str) -> Config:
    kalshi, pm = servers
    return arb_config(tmp, kalshi, pm, exec_params, {"max_position_usd": "200"})


async def test_lone_leg_killed_between_legs_is_sold_back_within_the_cap_at_next_start(
    tmp_path, servers
):
    # 20 NO bought at the ask 0.56 (fee 0.35): the cap's lowest price, 0.52, is inside
    # risk.price_band_pct=10 around the mid 0.55; the IOC sells at the bid 0.54.
    cfg = _config(tmp_path, servers, max_unwind_loss_usd=CAP)
    first = await _child(tmp_path, cfg, "between", NO, "20")
    assert Decimal(first["filled"]) == 20, first

    node, events = await _start(cfg)
    try:
        [rec] = load_arb_executions(node.storage, strategy_id="pmarb")
        assert rec["outcome"] == "unwound", json.dumps(rec, default=str)
        [leg] = rec["legs"]["legs"]
        assert (leg["role"], leg["client_order_id"]) == ("first", first["first"])
        [unwind] = rec["legs"]["unwinds"]
        assert unwind["role"] == "unwind" and Decimal(unwind["filled"]) == 20
        loss = -Decimal(rec["actual_profit"])
        assert Decimal(0) < loss <= Decimal(CAP), loss
        assert node.portfolio.book("kalshi").total("KXFED-26DEC-T4.00:NO") == 0
        sell = node.orders.orders[unwind["client_order_id"]]
        assert sell.side is Side.SELL and sell.status is OrderStatus.FILLED
        assert sell.signal["arb"] == "unwind"  # journaled as any order of the strategy
        assert not [e for e in events if e.kind == EventKind.ARB_HELD]
        done = [e for e in events if e.kind == EventKind.ARB_EXECUTION]
        assert [(e.data["outcome"], e.severity) for e in done] == [("unwound", "warning")]
        assert node.storage.kv_get(ADOPTING_KEY) == {}
        print(f"\nunwound at start: bought 20 at {first['price']}, sold at "
              f"{unwind['avg_price']}, loss {loss} USD (cap {CAP})")  # fmt: skip
    finally:
        await node.stop()
        node.close()
    again, events = await _start(cfg)  # once: the record names both orders
    try:
        assert len(load_arb_executions(again.storage, strategy_id="pmarb")) == 1
        assert not [e for e in events if e.kind in (EventKind.ARB_HELD, EventKind.ARB_EXECUTION)]
        assert len(again.storage.load_orders(strategy_id="pmarb")) == 2
    finally:
        await again.stop()
        again.close()


async def test_a_lone_leg_with_a_sell_resting_by_hand_unwinds_only_the_contracts_it_leaves(
    tmp_path, servers, k_keys
):
    # Kalshi reports positions, not locks: 12 of the 20 NO offered by hand at 0.99 while the node
    # is down still show as held; reconciliation adopts the sell as `external`.
    cfg = _config(tmp_path, servers, max_unwind_loss_usd="0.6")  # 8 at >= 0.51: in the band
    first = await _child(tmp_path, cfg, "between", NO, "20")
    assert Decimal(first["filled"]) == 20, first
    client = KalshiClient(servers[0].rest_url, k_keys["key_id"], k_keys["private_key_pem"])
    try:
        await client.create_order({"ticker": NO.split(":")[0], "client_order_id": "by-hand-2",
                                   "side": "no", "action": "sell", "count_fp": "12.00",
                                   "no_price_dollars": "0.9900",
                                   "time_in_force": "good_till_canceled"})  # fmt: skip
    finally:
        await client.close()
    node, events = await _start(cfg)
    try:
        [rec] = load_arb_executions(node.storage, strategy_id="pmarb")
        assert rec["outcome"] == "unwound", json.dumps(rec, default=str)
        [unwind] = rec["legs"]["unwinds"]
        sell = node.orders.orders[unwind["client_order_id"]]
        assert sell.amount == 8 and sell.filled == 8, sell  # the 12 on offer are not sold too
        assert "12.00 KXFED-26DEC-T4.00:NO of the 20.00" in rec["legs"]["reason"], rec
        assert node.portfolio.book("kalshi").total("KXFED-26DEC-T4.00:NO") == 12
        [done] = [e for e in events if e.kind == EventKind.ARB_EXECUTION]
        assert "already gone, not held" in done.data["reason"], done.data
        assert not [e for e in events if e.kind == EventKind.ARB_HELD]
        print(f"\n12 of 20 offered by hand; start-up unwind sold {sell.filled}")
    finally:
        await node.stop()
        node.close()


async def test_a_lone_leg_partly_sold_by_hand_while_down_is_unwound_only_for_what_is_held(
    tmp_path, servers, k_keys
):
    cfg = _config(tmp_path, servers, max_unwind_loss_usd=CAP)
    first = await _child(tmp_path, cfg, "between", NO, "20")
    assert Decimal(first["filled"]) == 20, first
    client = KalshiClient(servers[0].rest_url, k_keys["key_id"], k_keys["private_key_pem"])
    try:  # the person sells 12 of the 20 NO by hand while the node is down
        await client.create_order({"ticker": NO.split(":")[0], "client_order_id": "by-hand-1",
                                   "side": "no", "action": "sell", "count_fp": "12.00",
                                   "no_price_dollars": "0.0100",
                                   "time_in_force": "immediate_or_cancel"})  # fmt: skip
    finally:
        await client.close()
    node, events = await _start(cfg)
    try:
        # The sale by hand came after the ledger opened (Kalshi's created_time carries the
        # milliseconds its whole-second ts drops): start-up reconciliation books it, the ledger
        # audit passes, and the unwind sells the 8 still held, never 20.
        assert node.ledger_report is not None and node.ledger_report.ok, node.ledger_report
        [rec] = load_arb_executions(node.storage, strategy_id="pmarb")
        assert rec["outcome"] == "unwound", json.dumps(rec, default=str)
        [unwind] = rec["legs"]["unwinds"]
        assert Decimal(unwind["contracts"]) == 8 and Decimal(unwind["filled"]) == 8, unwind
        assert rec["legs"]["held"] == {}, rec
        assert "12.00 KXFED-26DEC-T4.00:NO of the 20.00" in rec["legs"]["reason"], rec
        assert "already gone, not held" in rec["legs"]["reason"]
        assert len(node.storage.load_orders(strategy_id="pmarb")) == 2
        assert node.portfolio.book("kalshi").total("KXFED-26DEC-T4.00:NO") == 0
        assert not [e for e in events if e.kind == EventKind.ARB_HELD]
        [done] = [e for e in events if e.kind == EventKind.ARB_EXECUTION]
        assert "already gone, not held" in done.data["reason"], done.data
        print(f"\n12 of 20 sold by hand; start-up unwind sold {unwind['filled']}")
    finally:
        await node.stop()
        node.close()


async def test_unwind_beyond_the_cap_stays_held_and_is_never_sent_lower(tmp_path, servers):
    cfg = _config(tmp_path, servers, max_unwind_loss_usd="0.01")
    first = await _child(tmp_path, cfg, "between", NO, "20")
    for start in range(2):
        node, events = await _start(cfg)
        try:
            recs = load_arb_executions(node.storage, strategy_id="pmarb")
            assert [r["outcome"] for r in recs] == ["held"], recs
            sells = [
                o for o in node.storage.load_orders(strategy_id="pmarb") if o.side is Side.SELL
            ]
            assert len(sells) == 1 and sells[0].filled == 0, sells  # one IOC, at the bound
            assert sells[0].price is not None and sells[0].price > Decimal("0.54")  # the bid
            assert node.portfolio.book("kalshi").total("KXFED-26DEC-T4.00:NO") == 20
            held = [e for e in events if e.kind == EventKind.ARB_HELD]
            if start == 0:
                assert [e.severity for e in held] == ["critical"]
                assert {k: Decimal(v) for k, v in held[0].data["held"].items()} == {NO: 20}
                print(f"\nheld at start: {held[0].data['message']} limit {sells[0].price}")
            else:
                assert held == []  # reported once; nothing sent again
        finally:
            await node.stop()
            node.close()
    assert first["first"]


async def test_a_start_killed_while_unwinding_neither_unwinds_twice_nor_loses_the_record(
    tmp_path, servers
):
    cfg = _config(tmp_path, servers, max_unwind_loss_usd=CAP)
    first = await _child(tmp_path, cfg, "between", NO, "20")
    cut = await _child(tmp_path, cfg, "unwinding")  # the sell is journaled, then the kill
    node, events = await _start(cfg)
    try:
        sell = node.orders.orders[cut["journaled"]]
        assert sell.side is Side.SELL and sell.status is OrderStatus.REJECTED  # never left
        orders = node.storage.load_orders(strategy_id="pmarb")
        assert len(orders) == 2  # the lone leg and the one cut sell: nothing sent again
        [rec] = load_arb_executions(node.storage, strategy_id="pmarb")
        assert rec["outcome"] == "held"
        named = [leg["client_order_id"] for leg in rec["legs"]["legs"]]
        assert named == [first["first"]]
        [held] = [e for e in events if e.kind == EventKind.ARB_HELD]
        assert (
            held.severity == "critical" and "stopped again while unwinding" in held.data["reason"]
        )
        assert node.portfolio.book("kalshi").total("KXFED-26DEC-T4.00:NO") == 20
        assert node.storage.kv_get(ADOPTING_KEY) == {}
        print(f"\nkilled while unwinding: {held.data['reason']}")
    finally:
        await node.stop()
        node.close()
    again, events = await _start(cfg)
    try:
        assert len(again.storage.load_orders(strategy_id="pmarb")) == 2
        assert [e for e in events if e.kind == EventKind.ARB_HELD] == []
    finally:
        await again.stop()
        again.close()


async def test_on_interrupted_hold_keeps_the_lone_leg_and_reports_it_once(tmp_path, servers):
    cfg = _config(tmp_path, servers, on_interrupted="hold")
    first = await _child(tmp_path, cfg, "between", NO, "20")
    node, events = await _start(cfg)
    try:
        [held] = [e for e in events if e.kind == EventKind.ARB_HELD]
        assert held.data["client_order_ids"] == [first["first"]]
        assert "on_interrupted is `hold`" in held.data["reason"]
        assert len(node.storage.load_orders(strategy_id="pmarb")) == 1  # nothing sent
    finally:
        await node.stop()
        node.close()


def test_a_bad_on_interrupted_is_refused_naming_the_key_and_the_choices() -> None:
    from tradeguard.strategies.cross_venue.strategy import parse_params as pair_params
    from tradeguard.strategies.triangular.strategy import parse_params as cycle_params

    bad = {"exec": {"on_interrupted": "maybe"}}
    msg = r"params.exec.on_interrupted = 'maybe': Input should be 'unwind' or 'hold'"
    with pytest.raises(ValueError, match=msg):
        cycle_params(bad)
    map_path = str(Path(__file__).resolve().parents[1] / "examples" / "pm_map.toml")
    with pytest.raises(ValueError, match=msg):
        pair_params("pmarb", {"map": map_path, "kalshi_venue": "kalshi", **bad})


async def test_a_halted_node_denies_the_start_up_unwind_and_records_the_leg_held(tmp_path, servers):
    cfg = _config(tmp_path, servers, max_unwind_loss_usd=CAP)
    first = await _child(tmp_path, cfg, "between", NO, "20")
    node = TradingNode(cfg)
    try:
        node.kill_switch.trigger("halted after the crash", "test")  # persisted: survives
    finally:
        node.close()
    node, events = await _start(cfg)
    try:
        [rec] = load_arb_executions(node.storage, strategy_id="pmarb")
        assert rec["outcome"] == "held"
        [unwind] = rec["legs"]["unwinds"]
        assert unwind["status"] == "denied" and unwind["client_order_id"] == "", unwind
        assert len(node.storage.load_orders(strategy_id="pmarb")) == 1  # nothing journaled
        [held] = [e for e in events if e.kind == EventKind.ARB_HELD]
        assert held.severity == "critical"
        assert node.portfolio.book("kalshi").total("KXFED-26DEC-T4.00:NO") == 20
        print(f"\nhalted: {unwind['reason']}")
    finally:
        await node.stop()
        node.close()
    assert first["first"]


async def test_a_lone_leg_unwound_at_start_is_not_sold_again_after_fifty_later_records(
    tmp_path, servers
):
    # The start-up record is stamped when the start runs, after the lone leg was created. Once
    # 50 later records (refused attempts) push it out of the newest read, a start must still
    # see that it names the leg; else it sells 20 NO again, here the 20 a person holds.
    from tradeguard.model.enums import OrderType, TimeInForce
    from tradeguard.model.order import OrderIntent
    from tradeguard.strategies.cross_venue.scanner import LegPlan, PairOpportunity

    cfg = _config(tmp_path, servers, max_unwind_loss_usd=CAP)
    await _child(tmp_path, cfg, "between", NO, "20")
    node, _ = await _start(cfg)
    try:
        [rec] = load_arb_executions(node.storage, strategy_id="pmarb")
        assert rec["outcome"] == "unwound"
        executor = node.strategies[0].executor  # type: ignore[attr-defined]
        executor.refusal = lambda _pair, _now: "on cooldown"
        plan = LegPlan("kalshi", NO, Decimal(1), Decimal("0.5"), Decimal("0.5"), Decimal(0), 1)
        opp = PairOpportunity(
            "fed-dec-above-4", "fed-2026-12", 0, Decimal(1), (plan, plan), Decimal("0.01"), 0, 1
        )
        for _ in range(50):
            await asyncio.sleep(0.002)  # each record a later ms
            assert (await executor.execute(opp)).code == "PAIR_REFUSED"
        quote = await node.venues["kalshi"].fetch_quote(NO)  # type: ignore[attr-defined]
        await node.on_quote(quote)
        bought = await node.submit(
            OrderIntent("manual", "kalshi", NO, Side.BUY, Decimal(20), OrderType.LIMIT,
                        quote.ask, TimeInForce.FOK)
        )  # fmt: skip
        assert bought.ok, bought
    finally:
        await node.stop()
        node.close()
    again, events = await _start(cfg)
    try:
        orders = again.storage.load_orders(strategy_id="pmarb")
        assert len(orders) == 2, [(o.side, o.amount, o.status) for o in orders]  # nothing sent
        assert [e for e in events if e.kind in (EventKind.ARB_HELD, EventKind.ARB_EXECUTION)] == []
        assert again.portfolio.book("kalshi").total("KXFED-26DEC-T4.00:NO") == 20
    finally:
        await again.stop()
        again.close()


async def test_tradeguard_kill_on_a_stopped_node_sends_no_start_up_unwind(tmp_path, servers):
    # `tradeguard kill` on a node that is not running starts one to cancel and halt: HALTED must
    # come before that start, which would otherwise sell the lone leg first.
    from argparse import Namespace

    from tradeguard.cli.control import _kill
    from tradeguard.model.enums import TradingState

    cfg = _config(tmp_path, servers, max_unwind_loss_usd=CAP)
    first = await _child(tmp_path, cfg, "between", NO, "20")
    node = TradingNode(cfg)
    node.orders.not_found_grace_ms = 0
    try:
        report = await _kill(node, Namespace(reason="incident", flatten=False))
        assert report["reason"].endswith("incident"), report
        orders = node.storage.load_orders(strategy_id="pmarb")
        assert [o.client_order_id for o in orders] == [first["first"]]  # nothing sold
        assert node.risk.state is TradingState.HALTED
        assert node.portfolio.book("kalshi").total("KXFED-26DEC-T4.00:NO") == 20
    finally:
        node.close()


async def test_a_kill_sentinel_left_while_the_node_was_down_halts_before_the_start_up_unwind(
    tmp_path, servers
):
    # `tradeguard kill` against a running node writes the sentinel; a node killed before it
    # polled the file (or a person who wrote it meanwhile) asked for no more orders.
    from tradeguard.model.enums import TradingState

    cfg = _config(tmp_path, servers, max_unwind_loss_usd=CAP)
    first = await _child(tmp_path, cfg, "between", NO, "20")
    Path(cfg.node.kill_sentinel).write_text("halt: incident (by ops)\n", encoding="utf-8")
    node, events = await _start(cfg)
    try:
        assert node.risk.state is TradingState.HALTED
        orders = node.storage.load_orders(strategy_id="pmarb")
        assert [o.client_order_id for o in orders] == [first["first"]]  # nothing sold
        assert next(e.data["stage"] for e in events if e.kind == EventKind.KILL) == "triggered"
        assert node.portfolio.book("kalshi").total("KXFED-26DEC-T4.00:NO") == 20
    finally:
        await node.stop()
        node.close()


async def test_an_unwind_whose_cap_reaches_beyond_the_price_band_sells_at_the_bands_edge(
    tmp_path, servers
):
    # A cap of 5 USD lets the 20 NO bought at 0.56 go as low as 0.35, far below the band's edge
    # 0.50 (risk.price_band_pct=10 around the mid 0.55): sent there the risk engine refused the
    # unwind and the leg stayed held. At the edge it passes and sells at the bid 0.54.
    cfg = _config(tmp_path, servers, max_unwind_loss_usd="5")
    first = await _child(tmp_path, cfg, "between", NO, "20")
    assert Decimal(first["filled"]) == 20, first
    node, events = await _start(cfg)
    try:
        [rec] = load_arb_executions(node.storage, strategy_id="pmarb")
        assert rec["outcome"] == "unwound", json.dumps(rec, default=str)
        [unwind] = rec["legs"]["unwinds"]
        assert Decimal(unwind["filled"]) == 20, unwind
        sell = node.orders.orders[unwind["client_order_id"]]
        assert sell.price == Decimal("0.50") and sell.status is OrderStatus.FILLED, sell
        assert Decimal("0.54") == sell.avg_price
        assert 0 < -Decimal(rec["actual_profit"]) <= 5
        assert node.portfolio.book("kalshi").total("KXFED-26DEC-T4.00:NO") == 0
        assert not [e for e in events if e.kind == EventKind.ARB_HELD]
    finally:
        await node.stop()
        node.close()


class _Killed(BaseException):
    """The process dies here: nothing after this point of the start runs."""


async def test_a_held_interrupted_leg_killed_after_its_record_before_its_event_is_told_once(
    tmp_path, servers
):
    cfg = _config(tmp_path, servers, on_interrupted="hold")
    first = await _child(tmp_path, cfg, "between", NO, "20")
    node = TradingNode(cfg)
    node.orders.not_found_grace_ms = 0
    publish = node.bus.publish

    def killed_at_the_alert(event: Event) -> None:
        if event.kind == EventKind.ARB_HELD:
            raise _Killed  # the held record is committed; its alert is not out yet
        publish(event)

    node.bus.publish = killed_at_the_alert  # type: ignore[method-assign]
    with pytest.raises(_Killed):
        await node.start()
    node.close()
    told: list[Event] = []
    for _ in range(2):  # the restart tells it, a second start does not repeat it
        again, events = await _start(cfg)
        try:
            told += [e for e in events if e.kind == EventKind.ARB_HELD]
            [rec] = load_arb_executions(again.storage, strategy_id="pmarb")
            assert rec["outcome"] == "held"
        finally:
            await again.stop()
            again.close()
    print(f"\narb.held told after the kill: {len(told)}")
    assert [e.data["client_order_ids"] for e in told] == [[first["first"]]]
