"""A pair whose Kalshi leg would buy the outcome opposite to contracts held free on that market
is refused before either leg is sent (PAIR_NETS): Kalshi would net the new leg away at once,
leaving the other leg unhedged while the book claimed a complete pair."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from pm_arb_support import StubGateway
from test_pm_arb_executor import K_YES, PM_NO, _setup
from test_pm_arb_held_shrink import NO, _held_by_a_run, rig  # noqa: F401
from test_pm_arb_interrupted import _start
from tradeguard.config import Config
from tradeguard.model.events import Event, EventKind
from tradeguard.node import TradingNode
from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
from tradeguard.sandbox.pm_serve import paired_markets
from tradeguard.storage.arb_repository import load_arb_executions

D = Decimal
YES = "KXFED-26DEC-T4.00:YES"


def _nets(k: StubGateway) -> StubGateway:
    k.nets_outcome_pairs = True
    return k


async def test_a_netting_venue_holding_the_other_outcome_free_refuses_the_pair() -> None:
    executor, k, pm, opp = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))])
    _nets(k).cash["KXFED:NO"] = D(7)  # a lone NO leg held from an earlier attempt
    rec = await executor.execute(opp)
    assert rec.outcome == "rejected" and rec.code == "PAIR_NETS"
    assert rec.reason.startswith(
        f"pair rejected (PAIR_NETS): k holds 7 KXFED:NO free; buying {K_YES} there nets it"
    ), rec.reason
    assert k.sent == [] and pm.sent == [] and rec.legs == []
    assert executor.book.open == [] and executor.book.trades_today == 0
    [row] = pm.rows
    assert row["outcome"] == "rejected" and row["legs"]["code"] == "PAIR_NETS"
    [event] = [e for e in pm.events if e.kind == EventKind.ARB_EXECUTION]
    assert event.data["outcome"] == "rejected" and "PAIR_NETS" in event.data["reason"]


async def test_a_refusal_repeated_while_the_same_contracts_stay_is_recorded_once() -> None:
    executor, k, pm, opp = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))])
    _nets(k).cash["KXFED:NO"] = D(7)
    for _ in range(4):  # one attempt per cooldown, the held NO unchanged
        rec = await executor.execute(opp)
        assert rec.outcome == "rejected" and rec.code == "PAIR_NETS"
    assert len(pm.rows) == 1 and len(executor.attempts) == 1
    assert len([e for e in pm.events if e.kind == EventKind.ARB_EXECUTION]) == 1
    [entry] = executor.nets_refused.to_json().values()
    assert (entry["record_id"], entry["repeats"]) == (1, 3)
    assert pm.states[-1]["nets_refused"]["fed"]["record_id"] == 1  # committed with the record
    # another held state (more NO held) is a new record; the repeats start again
    k.cash["KXFED:NO"] = D(9)
    await executor.execute(opp)
    await executor.execute(opp)
    assert [r["legs"]["code"] for r in pm.rows] == ["PAIR_NETS", "PAIR_NETS"]
    assert executor.nets_refused.by_pair["fed"].repeats == 1
    assert "holds 9 KXFED:NO" in executor.nets_refused.by_pair["fed"].reason
    # a restart takes the entry back from the state: the same held state records nothing
    again, k2, pm2, opp2 = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))])
    _nets(k2).cash["KXFED:NO"] = D(9)
    again.nets_refused.restore(pm.states[-1]["nets_refused"])
    assert (await again.execute(opp2)).code == "PAIR_NETS" and pm2.rows == []
    # the contracts gone: the pair trades, and a later hold of the same amount records again
    k.cash["KXFED:NO"] = D(0)
    assert (await executor.execute(opp)).outcome == "completed"
    assert executor.nets_refused.by_pair == {}


async def test_what_the_venue_does_not_net_leaves_the_pair_free_to_go() -> None:
    # Kalshi holding the same outcome, or nothing of the other; Polymarket (no netting)
    # holding the opposite of its own leg: none of it is netted against the new legs
    for k_held, pm_held, nets in (
        ({"KXFED:YES": D(7)}, {}, True),
        ({"KXFED:NO": D(0)}, {}, True),
        ({}, {"fed-above-4:YES": D(7)}, True),
        ({"KXFED:NO": D(7)}, {}, False),
    ):
        executor, k, pm, opp = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))])
        k.nets_outcome_pairs = nets
        k.cash.update(k_held)
        pm.cash.update(pm_held)
        rec = await executor.execute(opp)
        assert rec.outcome == "completed", (k_held, pm_held, nets, rec.reason)
        assert {o.symbol for o in (*k.sent, *pm.sent)} == {K_YES, PM_NO}


async def _attempt_on_cheap_kalshi_yes(cfg: Config, kalshi) -> tuple[TradingNode, list[Event]]:
    """Start a node, make Kalshi YES cheap (the pair buys Kalshi YES and Polymarket NO) and
    run until the strategy has made one attempt; the node is left started."""
    node, events = await _start(cfg)
    for venue in node.venues.values():
        venue.quote_poll_s = 0.05  # type: ignore[attr-defined]
    scenario = ArbScenario(
        kalshi.book, paired_markets("kalshi", kalshi)[:1], ArbScenarioConfig(size=D(20))
    )
    run = asyncio.create_task(node.run_live(duration_s=300))
    scenario.appear(scenario.markets[0])
    strat = node.strategies[0]
    try:
        for _ in range(4800):  # up to 240 s on a loaded machine
            if strat.attempts or run.done():
                break
            await asyncio.sleep(0.05)
    finally:
        node.request_stop()
        await run
        scenario.vanish(scenario.markets[0])
    assert strat.attempts, "no attempt within 240 s"
    return node, events


async def _venue_holds(node: TradingNode) -> dict[str, Decimal]:
    balances = await node.venues["kalshi"].fetch_balances()
    return {b.asset: b.total for b in balances if b.asset in (YES, NO)}


async def test_a_held_kalshi_leg_refuses_a_pair_buying_its_opposite_on_that_market(
    tmp_path,
    rig,  # noqa: F811
):
    kalshi, pm, _ = rig
    node, _ = await _held_by_a_run(tmp_path, kalshi, pm)
    [lone] = node.strategies[0].book.open
    n = lone.contracts
    cfg = node.config
    await node.stop()
    node.close()

    node, events = await _attempt_on_cheap_kalshi_yes(cfg, kalshi)
    strat = node.strategies[0]
    try:
        [rec] = strat.attempts
        assert rec.outcome == "rejected" and rec.code == "PAIR_NETS", rec.reason
        assert rec.pair_id == "fed-dec-above-4" and rec.direction == 1
        assert f"kalshi holds {n} {NO} free; buying {YES}/USD there" in rec.reason
        assert rec.legs == []
        # nothing was sent: the venue still holds the lone leg, the book says so and only so
        assert await _venue_holds(node) == {NO: n}
        assert node.portfolio.book("polymarket").total("fed-above-4pct-dec:NO") == 0
        [still] = strat.book.open
        assert still.lone and still.contracts == n and still.legs == (f"{NO}/USD",)
        rows = load_arb_executions(node.storage, strategy_id="pmarb")
        assert [(r["outcome"], r["legs"]["code"]) for r in rows] == [
            ("held", ""),
            ("rejected", "PAIR_NETS"),
        ]
        [event] = [e for e in events if e.kind == EventKind.ARB_EXECUTION]
        assert event.data["outcome"] == "rejected" and "PAIR_NETS" in event.data["reason"]
        assert node.arb_cycles["pmarb"].outcomes["rejected"] == 1
        [refused] = strat.nets_refused()  # what GET /api/v1/pm/arb and `pm arb run` show
        assert (refused["pair_id"], refused["record_id"]) == ("fed-dec-above-4", rows[-1]["id"])
        assert refused["reason"] == rec.reason and refused["repeats"] >= 0
    finally:
        await node.stop()
        node.close()

    print(f"\nheld {n} {NO}: the pair buying {YES} refused (PAIR_NETS), nothing sent")


async def test_refusal_repeats_survive_a_sigkill_before_the_next_checkpoint(tmp_path, monkeypatch):
    """Each repeat of a recorded PAIR_NETS refusal is committed as it is counted: a node killed
    right after the third repeat (no checkpoint since) starts with all three."""
    from pm_support import arb_servers
    from rigs import killed_child
    from test_pm_arb_book_crash import CHILD
    from test_pm_arb_node import arb_config

    async with arb_servers(tmp_path, monkeypatch) as (kalshi, pm):
        raw = arb_config(tmp_path, kalshi, pm, {}, {"max_position_usd": "200"}).model_dump()
        raw["node"]["checkpoint_interval_s"] = 3600  # only the start's checkpoint
        cfg = Config.model_validate(raw)
        arb = ArbScenario(pm.book, paired_markets("polymarket", pm)[:1],
                          ArbScenarioConfig(size=D(20)))  # fmt: skip
        arb.appear(arb.markets[0])
        [died] = await killed_child(CHILD, tmp_path, cfg, "nets_repeated", timeout_s=150)
        assert died.get("step") == "nets_repeated" and died["repeats"] == 3, died
        node, _ = await _start(cfg)
        try:
            [refused] = node.strategies[0].nets_refused()
            assert (refused["pair_id"], refused["record_id"]) == (died["pair"], died["record_id"])
            assert refused["repeats"] == 3, refused
            rows = load_arb_executions(node.storage, strategy_id="pmarb")
            assert [r["legs"]["code"] for r in rows] == ["PAIR_NETS"]  # recorded once
        finally:
            await node.stop()
            node.close()


def test_a_note_raises_only_the_count_of_the_same_record() -> None:
    from tradeguard.strategies.cross_venue.netting_guard import NetsRefusals

    def entry(record_id: int, repeats: int, reason: str = "r") -> dict:
        return {"reason": reason, "record_id": record_id, "ts": 1, "repeats": repeats,
                "last_ts": 9}  # fmt: skip

    refused = NetsRefusals()
    state = {"a": entry(4, 1), "b": entry(5, 2), "c": entry(6, 0)}
    note = {"a": entry(4, 7), "b": entry(3, 9), "c": entry(6, 5, "other"), "gone": entry(2, 4),
            "bad": {"reason": "r"}}  # fmt: skip
    refused.restore(state, note)
    got = {p: (r.record_id, r.repeats) for p, r in refused.by_pair.items()}
    assert got == {"a": (4, 7), "b": (5, 2), "c": (6, 0)}  # a cleared pair stays cleared
    refused.restore({"a": entry(4, 8)}, note)  # the state counted more than the note: kept
    assert refused.by_pair["a"].repeats == 8
