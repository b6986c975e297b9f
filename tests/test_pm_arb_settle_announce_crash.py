"""A held pair's `arb.settled` event is kept with the settlement's commit: a node SIGKILLed after
the settlement committed and before the event reached the bus announces it at the next start,
once (the mismatch alert is not lost), and a later start does not announce it again."""

from __future__ import annotations

from decimal import Decimal

from rigs import killed_child
from test_pm_arb_interrupted import _start
from test_pm_arb_node import arb_config
from test_pm_arb_resolved_restart import _run
from test_pm_arb_settle_streak import CHILD, _against, servers
from tradeguard.model.events import EventKind
from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
from tradeguard.sandbox.pm_serve import paired_markets

D = Decimal
__all__ = ["servers"]  # the fixture: both local servers, both demo accounts in the vault


async def test_a_settlement_event_lost_to_a_kill_is_announced_at_the_next_start_once(
    tmp_path, servers
) -> None:
    kalshi, pm = servers
    cfg = arb_config(tmp_path, kalshi, pm, {}, {})
    cfg.strategies[0].params["settle_check_s"] = 3600  # settled by hand below, nowhere else
    cfg.node.reconcile_interval_s = 1
    market = paired_markets("polymarket", pm)[0]
    scenario = ArbScenario(pm.book, [market], ArbScenarioConfig(size=D(20)))
    scenario.appear(market)

    def traded(node, _events):
        held = bool(getattr(node.strategies[0], "book", None) and node.strategies[0].book.open)
        return held and node.reconcile_report.trigger == "periodic"

    first, _ = await _run(cfg, traded)
    [pair] = first.strategies[0].book.open
    by_venue = dict(zip(pair.venues, pair.legs, strict=True))
    pm.resolve(market, _against(by_venue["polymarket"]))  # both legs lose: a mismatch
    kalshi.resolve(paired_markets("kalshi", kalshi)[0], _against(by_venue["kalshi"]))

    [died] = await killed_child(CHILD, tmp_path, cfg, "announcing", timeout_s=150)
    assert D(died["announcing"]) == -pair.capital, died

    announced = []
    for _ in range(2):
        node, events = await _start(cfg)
        try:
            announced.append([e for e in events if e.kind == EventKind.ARB_SETTLED])
            node.strategies[0].check_settlements()  # type: ignore[attr-defined]
            announced[-1] = [e for e in events if e.kind == EventKind.ARB_SETTLED]
            node.flush_audit()
            stored = node.storage.load_events(kind_prefix=EventKind.ARB_SETTLED)
        finally:
            await node.stop()
            node.close()
    [told], again = announced
    assert again == [], again
    assert D(told.data["pnl"]) == -pair.capital and told.severity == "critical", told
    assert len(stored) == 1  # in the audit log once
