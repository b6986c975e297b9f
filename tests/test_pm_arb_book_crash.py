"""A cross-venue node SIGKILLed at any step of a pair attempt comes back with the pair (or its
lone leg) in the strategy's book exactly once: the record commits the book with it, and legs no
record names are booked from the journal's orders, which name their pair."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from rigs import killed_child
from test_pm_arb_interrupted import _start
from test_pm_arb_node import arb_config, vault_with_both
from tradeguard.model.events import EventKind
from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
from tradeguard.sandbox.pm_serve import (
    kalshi_demo,
    kalshi_keys,
    paired_markets,
    polymarket_demo,
    polymarket_keys,
)
from tradeguard.storage.arb_repository import load_arb_executions

CHILD = Path(__file__).with_name("pm_arb_attempt_child.py")
BOOK_MOVES = "TG_TEST_BOOK_MOVES_AFTER_SIZING"  # read by the child
PAIR = "fed-dec-above-4"
PM_YES, K_NO = "fed-above-4pct-dec:YES", "KXFED-26DEC-T4.00:NO"


@pytest.fixture
async def servers(tmp_path, monkeypatch):
    k_keys, pm_keys = kalshi_keys(None), polymarket_keys(None)
    kalshi, pm = kalshi_demo(k_keys), polymarket_demo(pm_keys)
    await kalshi.start()
    await pm.start()
    vault_with_both(tmp_path, monkeypatch, k_keys, pm_keys)
    try:
        yield kalshi, pm
    finally:
        await pm.stop()
        await kalshi.stop()


async def _killed_at(tmp: Path, servers, step: str, scenario: ArbScenarioConfig, **exec_):
    kalshi, pm = servers
    cfg = arb_config(tmp, kalshi, pm, exec_, {"max_position_usd": "200"})
    arb = ArbScenario(pm.book, paired_markets("polymarket", pm)[:1], scenario)
    arb.appear(arb.markets[0])
    [died] = await killed_child(CHILD, tmp, cfg, step, timeout_s=150)
    assert died.get("step") == step, died
    return cfg, died


def _book(node) -> list[tuple[str, Decimal, tuple[str, ...]]]:
    strat = node.strategies[0]
    return [(p.pair_id, p.contracts, p.legs) for p in strat.book.open]


async def _twice(cfg, check) -> None:
    """Start, check, stop; start again: the same book, no record or order added."""
    seen = []
    for _ in range(2):
        node, events = await _start(cfg)
        try:
            check(node)
            seen.append((_book(node), len(load_arb_executions(node.storage)),
                         len(node.storage.load_orders())))  # fmt: skip
            if len(seen) == 2:
                kinds = {e.kind for e in events}
                assert not kinds & {EventKind.ARB_EXECUTION, EventKind.ARB_HELD}, kinds
        finally:
            await node.stop()
            node.close()
    assert seen[0] == seen[1], seen


@pytest.mark.parametrize("step", ["recorded", "second_filled"])
async def test_a_pair_killed_once_both_legs_filled_is_in_the_book_once(tmp_path, servers, step):
    cfg, died = await _killed_at(tmp_path, servers, step, ArbScenarioConfig(size=Decimal(20)))

    def check(node) -> None:
        assert _book(node) == [(PAIR, Decimal(20), (PM_YES + "/PUSD", K_NO + "/USD"))]
        [rec] = load_arb_executions(node.storage, strategy_id="pmarb")
        assert rec["outcome"] == "completed", rec
        assert rec["cycle"]["pair_id"] == PAIR
        if step == "recorded":
            assert rec["id"] == died["record_id"]  # not adopted a second time
        pair = node.strategies[0].book.open[0]
        assert pair.record_id == rec["id"] and pair.capital == Decimal(rec["legs"]["capital"])
        assert node.portfolio.book("polymarket").total(PM_YES) == 20
        assert node.portfolio.book("kalshi").total(K_NO) == 20

    await _twice(cfg, check)
    print(f"\nkilled at {step}: the pair is booked once after two starts")


async def test_a_lone_first_leg_killed_before_the_second_is_booked_under_its_pair(
    tmp_path, servers, monkeypatch
):
    # The cap (0.01 USD) keeps the start-up unwind from selling: the leg is held, and the book
    # holds it under the pair its order names, for the limits, the retry and the settlement.
    # (Sized as if the book had moved after sizing: at that cap no size would be sent.)
    monkeypatch.setenv(BOOK_MOVES, "1")
    cfg, died = await _killed_at(
        tmp_path, servers, "first_filled", ArbScenarioConfig(size=Decimal(20)),
        max_unwind_loss_usd="0.01",
    )  # fmt: skip

    def check(node) -> None:
        [(pair_id, contracts, legs)] = _book(node)
        assert (pair_id, contracts) == (PAIR, Decimal(died["filled"])), _book(node)
        assert legs == (PM_YES + "/PUSD",)
        [rec] = load_arb_executions(node.storage, strategy_id="pmarb")
        assert rec["outcome"] == "held" and rec["cycle"]["pair_id"] == PAIR, rec
        assert [leg["client_order_id"] for leg in rec["legs"]["legs"]] == [died["cid"]]

    await _twice(cfg, check)


async def test_a_first_leg_killed_before_it_left_books_nothing(tmp_path, servers):
    cfg, died = await _killed_at(
        tmp_path, servers, "first_journaled", ArbScenarioConfig(size=Decimal(20))
    )

    def check(node) -> None:
        assert _book(node) == []
        assert load_arb_executions(node.storage, strategy_id="pmarb") == []
        [order] = node.storage.load_orders(strategy_id="pmarb")
        assert order.client_order_id == died["first"] and order.filled == 0

    await _twice(cfg, check)


async def test_lone_legs_held_at_start_without_a_sale_are_booked_under_their_pair_once(
    tmp_path, servers
):
    # on_interrupted = "hold": nothing is sent, the node reports the leg and the strategy books
    # it; then a start killed while unwinding (default "unwind"): the next start sends nothing
    # more and books what the leg still holds.
    cfg, died = await _killed_at(
        tmp_path, servers, "first_filled", ArbScenarioConfig(size=Decimal(20)),
        on_interrupted="hold",
    )  # fmt: skip

    def check(node) -> None:
        assert _book(node) == [(PAIR, Decimal(died["filled"]), (PM_YES + "/PUSD",))]
        [rec] = load_arb_executions(node.storage, strategy_id="pmarb")
        assert rec["outcome"] == "held" and rec["cycle"]["pair_id"] == PAIR, rec
        assert [o.client_order_id for o in node.storage.load_orders()] == [died["cid"]]

    node, events = await _start(cfg)
    try:
        [held] = [e for e in events if e.kind == EventKind.ARB_HELD]
        assert held.data["client_order_ids"] == [died["cid"]]
    finally:
        await node.stop()
        node.close()
    await _twice(cfg, check)


async def test_a_start_killed_while_unwinding_books_the_lone_leg_under_its_pair_once(
    tmp_path, servers
):
    cfg, died = await _killed_at(
        tmp_path, servers, "first_filled", ArbScenarioConfig(size=Decimal(20))
    )
    [cut] = await killed_child(CHILD, tmp_path, cfg, "unwinding", timeout_s=150)
    assert cut["step"] == "unwinding", cut

    def check(node) -> None:
        assert _book(node) == [(PAIR, Decimal(died["filled"]), (PM_YES + "/PUSD",))]
        [rec] = load_arb_executions(node.storage, strategy_id="pmarb")
        assert rec["outcome"] == "held" and rec["cycle"]["pair_id"] == PAIR, rec
        assert "stopped again while unwinding" in rec["legs"]["reason"]
        assert len(node.storage.load_orders()) == 2  # the leg and the cut sell: nothing more

    node, events = await _start(cfg)
    try:
        check(node)
        assert len([e for e in events if e.kind == EventKind.ARB_HELD]) == 1
    finally:
        await node.stop()
        node.close()
    await _twice(cfg, check)


@pytest.mark.parametrize("on_interrupted", ["unwind", "hold"])
async def test_a_trimmed_pair_killed_after_its_first_leg_keeps_its_trim_when_adopted(
    tmp_path, servers, on_interrupted
):
    # arb-fail at max_unwind_loss_usd=5: the size was cut so the lone leg's unwind fits the
    # cap; the record the next start writes for the interrupted attempt says so, as a run's would
    cfg, died = await _killed_at(
        tmp_path, servers, "first_filled", ArbScenarioConfig.named("arb-fail"),
        max_unwind_loss_usd="5", on_interrupted=on_interrupted,
    )  # fmt: skip
    node, _ = await _start(cfg)
    try:
        [rec] = load_arb_executions(node.storage, strategy_id="pmarb")
        trim = rec["legs"].get("trimmed")
        assert trim is not None, rec["legs"]
        assert Decimal(trim["to"]) == Decimal(died["filled"]), (trim, died)
        assert trim["max_unwind_loss_usd"] == "5", trim
        assert Decimal(trim["from"]) > Decimal(trim["to"]), trim
    finally:
        await node.stop()
        node.close()
