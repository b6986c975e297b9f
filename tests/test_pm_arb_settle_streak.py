"""A held pair settled at a loss (its two markets resolved against both legs) is a losing trade
for the risk engine: it counts in `max_consecutive_losses` and cools both markets down for
`cooldown_after_loss_s`, once. Real processes on both local servers: a node buys the pair, the
markets resolve while it is down, the next node settles it and is SIGKILLed before any later
checkpoint; the start after that settles the pair again from its checkpointed book, and the
engine still counts one loss, as it does at a third start; the strategy's figures (`status`)
count the pair's trade lost at what it paid, once."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from rigs import killed_child
from test_pm_arb_book_crash import servers
from test_pm_arb_interrupted import _start
from test_pm_arb_node import arb_config
from test_pm_arb_resolved_restart import _run
from tradeguard.model.events import EventKind
from tradeguard.model.outcome import Outcome, Resolution, parse_outcome_symbol
from tradeguard.node.checkpoint import checkpoint
from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
from tradeguard.sandbox.pm_serve import paired_markets
from tradeguard.strategies.cross_venue.strategy import CrossVenueStrategy

D = Decimal
__all__ = ["servers"]  # the fixture: both local servers, both demo accounts in the vault
CHILD = Path(__file__).with_name("pm_arb_settle_child.py")


def _against(symbol: str) -> Resolution:
    """The resolution under which the outcome `symbol` holds pays nothing."""
    _, outcome, _ = parse_outcome_symbol(symbol)
    return Resolution.NO if outcome is Outcome.YES else Resolution.YES


async def test_a_settled_loss_counts_once_in_the_streak_and_cools_both_markets(tmp_path, servers):
    kalshi, pm = servers
    cfg = arb_config(tmp_path, kalshi, pm, {}, {})
    cfg.strategies[0].params["settle_check_s"] = 3600  # settled by hand below, nowhere else
    cfg.node.reconcile_interval_s = 1
    cfg.risk.max_consecutive_losses = 5
    cfg.risk.cooldown_after_loss_s = 3600
    market = paired_markets("polymarket", pm)[0]
    scenario = ArbScenario(pm.book, [market], ArbScenarioConfig(size=D(20)))
    scenario.appear(market)

    def traded(node, _events):
        strat = node.strategies[0]
        held = isinstance(strat, CrossVenueStrategy) and bool(strat.book.open)
        return held and node.reconcile_report.trigger == "periodic"

    first, _ = await _run(cfg, traded)
    [pair] = first.strategies[0].book.open
    assert first.risk.consecutive_losses == 0
    by_venue = dict(zip(pair.venues, pair.legs, strict=True))
    pm.resolve(market, _against(by_venue["polymarket"]))  # both legs lose: the pair pays 0
    kalshi.resolve(paired_markets("kalshi", kalshi)[0], _against(by_venue["kalshi"]))

    [died] = await killed_child(CHILD, tmp_path, cfg, timeout_s=150)
    assert [D(p) for p in died["settled"]] == [-pair.capital], died
    assert died["streak"] == 1, died

    node, events = await _start(cfg)
    try:
        strat = node.strategies[0]
        assert isinstance(strat, CrossVenueStrategy)
        assert [p.legs for p in strat.book.open] == [pair.legs]  # the kill kept it held
        [again] = strat.check_settlements()  # settled again from the checkpointed book
        assert D(again.data["pnl"]) == -pair.capital and strat.book.open == []
        # the killed node published it (its alert sent): not a second time
        assert not [e for e in events if e.kind == EventKind.ARB_SETTLED], events
        assert node.risk.consecutive_losses == 1  # the same loss: counted once
        cooled = {sym for (sid, sym) in node.risk.cooldowns if sid == strat.id}
        assert cooled == set(pair.legs), node.risk.cooldowns
        # the record counted the pair at 1 per contract pair, a win; it paid 0: a loss, once
        t = node.figures().trades[strat.id]
        assert (t.trades, t.wins, t.pnl) == (1, 0, -pair.capital), t
        checkpoint(node, node.clock.now_ms())  # as a run's next checkpoint: the book kept
    finally:
        await node.stop()
        node.close()

    node, events = await _start(cfg)
    try:
        assert node.strategies[0].book.open == []  # type: ignore[attr-defined]
        assert node.strategies[0].check_settlements() == []  # type: ignore[attr-defined]
        assert node.risk.consecutive_losses == 1
        assert not [e for e in events if e.kind == EventKind.ARB_SETTLED]
        run = node.storage.load_run_state(node.strategies[0].id)  # what `status` shows
        assert run is not None
        assert (run.total_trades, run.winning_trades, run.losing_trades) == (1, 0, 1), run
        assert run.total_pnl == -pair.capital, run
        t = node.figures().trades[node.strategies[0].id]
        assert (t.trades, t.wins, t.pnl) == (1, 0, -pair.capital), t
    finally:
        await node.stop()
        node.close()
