"""A first start on Polymarket: a trade by hand streamed on the `user` channel while the
opening's balance read is on its way. The read may or may not hold it, so the opening waits
(`balances_deferred`) and the trade stays booked; the next reconciliation (periodic, or the
next start) opens the ledger at the figures net of what the ledger booked already
(`apply_balances`), so the trade is held once and the ledger audit passes then and at every
start after it.

The local CLOB and the official py-clob-client (the "hand") on the node's own account."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from test_ledger_opening_second import NO, _audit_passes, _config, _no_fills
from test_pm_arb_held_merge import _buy_no_by_hand, rig  # noqa: F401
from test_pm_arb_interrupted import _start
from tradeguard.execution.ledger_audit import stored_start_balances
from tradeguard.node.duties import reconcile_periodic
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.polymarket.venue import PolymarketVenue

D = Decimal


async def test_a_hand_trade_streamed_during_the_first_opening_read_is_held_once(
    tmp_path: Any,
    rig: Any,  # noqa: F811
    monkeypatch: Any,
) -> None:
    kalshi, pm, keys = rig
    cfg = _config(tmp_path, kalshi, pm)
    ws = pm.url.replace("http", "ws") + "/ws/user"
    venues = [v.model_copy(update={"ws_url": ws}) if v.name == "polymarket" else v
              for v in cfg.venues]  # fmt: skip
    cfg = cfg.model_copy(update={"venues": venues})
    read = PolymarketVenue.fetch_balances
    hands: list[int] = []

    async def fetch_balances(self: PolymarketVenue) -> list[Any]:
        if not hands:  # the first start's read: bought by hand, streamed meanwhile
            hands.append(1)
            await _buy_no_by_hand(pm, keys, D(10))
            storage = self._listener.storage  # type: ignore[union-attr]
            await eventually(lambda: bool(storage.load_fills(venue="polymarket")))
        return await read(self)

    monkeypatch.setattr(PolymarketVenue, "fetch_balances", fetch_balances)
    node, _ = await _start(cfg)
    try:
        report = node.reconcile_report
        assert report.ok, report.to_json()
        assert [d["venue"] for d in report.balances_deferred] == ["polymarket"]
        assert "polymarket" not in stored_start_balances(node.storage)  # not opened yet
        assert sum(f.amount for f in _no_fills(node)) == 10  # booked, streamed
        periodic = await reconcile_periodic(node)  # the ledger opens in this run
        assert periodic.ok and not periodic.balances_deferred, periodic.to_json()
        assert node.audit_ledger().ok
        assert sum(f.amount for f in _no_fills(node)) == 10
    finally:
        await node.stop()
        node.close()
    for _ in range(2):  # two starts after the opening
        node, _ = await _start(cfg)
        try:
            _audit_passes(node)
            assert not node.reconcile_report.balances_deferred
            assert sum(f.amount for f in _no_fills(node)) == 10  # once
            assert node.storage.load_balance_adjustments("polymarket") == []
            assert node.portfolio.book("polymarket").total(NO) == 10
            assert stored_start_balances(node.storage)["polymarket"].get(NO, D(0)) == 0
        finally:
            await node.stop()
            node.close()
