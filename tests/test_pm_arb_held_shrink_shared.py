"""Two cross-venue strategies holding lone legs of the same contracts on one venue: what the
venue holds is shared between their claims when they shrink, not counted whole for each."""

from __future__ import annotations

from decimal import Decimal

from test_pm_arb_held_shrink import NO, rig  # noqa: F401  (the fixture)
from test_pm_arb_interrupted import _start
from test_pm_arb_node import arb_config
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.strategies.cross_venue.limits import OpenPair
from tradeguard.venues.kalshi.client import KalshiClient


async def _buy_by_hand(kalshi, k_keys, n: Decimal) -> None:
    client = KalshiClient(kalshi.rest_url, k_keys["key_id"], k_keys["private_key_pem"])
    try:
        await client.create_order({"ticker": NO.split(":")[0], "client_order_id": "by-hand-buy",
                                   "side": "no", "action": "buy", "count_fp": f"{n:.2f}",
                                   "no_price_dollars": "0.9900",
                                   "time_in_force": "immediate_or_cancel"})  # fmt: skip
    finally:
        await client.close()


async def test_two_strategies_claiming_the_same_contracts_share_what_the_venue_holds(
    tmp_path,
    rig,  # noqa: F811
):
    kalshi, pm, k_keys = rig
    cfg = arb_config(tmp_path, kalshi, pm, {}, {"max_position_usd": "200"})
    cfg.strategies.append(cfg.strategies[0].model_copy(update={"id": "pmarb2"}))
    await _buy_by_hand(kalshi, k_keys, Decimal(10))  # the venue holds 10 NO
    node, _events = await _start(cfg)
    try:
        assert node.portfolio.book("kalshi").total(NO) == 10
        for strat in node.strategies:  # each books a lone leg of 10 (20 claimed, 10 held)
            lone = OpenPair("fed-dec-above-4", "ev", -1, Decimal(10), Decimal(6), 0,
                            ("kalshi",), (f"{NO}/USD",))  # fmt: skip
            strat.book.open.append(lone)
        report = await reconcile_and_gate(node, "periodic")
        assert report.ok, report.reason
        claimed = sum(p.contracts for s in node.strategies for p in s.book.open)
        assert claimed == 10, [s.book.open for s in node.strategies]
        assert len(report.held_shrunk) == 1, report.held_shrunk
    finally:
        await node.stop()
        node.close()
