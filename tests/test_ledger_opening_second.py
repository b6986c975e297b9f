"""A trade of no journal order stamped with the whole second a venue's ledger opened in.

The local Polymarket CLOB dates trades to the second (`match_time`), the ledger's opening is in
ms: a hand trade stamped 12:00:00 against an opening at 12:00:00.500 may have come before the
opening (its balances hold it: never booked) or after it (booked, or the ledger is short of
it and the start-up audit halts). The opening's own reconciliation lists the trades before it
and keeps them; a trade of that second it did not list came after. Both sides of the boundary
are pinned here by rewriting the stored opening into the hand trade's second."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from test_pm_arb_held_merge import _buy_no_by_hand, rig  # noqa: F401
from test_pm_arb_interrupted import _start
from test_pm_arb_node import arb_config
from tradeguard.config import Config
from tradeguard.execution.ledger_audit import START_TS_KEY, stored_start_ts
from tradeguard.execution.ledger_opening import (
    before_opening,
    latest_ts,
    opening_trades,
    record_opening_trades,
)
from tradeguard.model.enums import LiquiditySide, Side, TradingState
from tradeguard.model.fill import Fill
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

D = Decimal
YES, NO = "fed-above-4pct-dec:YES", "fed-above-4pct-dec:NO"
S = 1_796_600_000  # a whole second, epoch


def _trade(ts: int, trade_id: str = "t1") -> Fill:
    return Fill("polymarket", f"{NO}/PUSD", "", "0xhand", trade_id, Side.BUY, D("0.55"), D(10),
                D(0), "PUSD", LiquiditySide.TAKER, ts)  # fmt: skip


def test_a_trade_dated_to_the_openings_second_is_before_it_only_if_the_opening_listed_it():
    opened = S * 1000 + 500
    assert not before_opening(_trade(S * 1000), opened, set())  # may be 12:00:00.700: after
    assert before_opening(_trade(S * 1000), opened, {"t1|buy"})  # listed by the opening
    assert not before_opening(_trade(S * 1000), opened, {"t1|sell"})  # the other side's trade


def test_trades_of_other_seconds_and_in_ms_are_placed_by_their_time():
    opened = S * 1000 + 500
    assert before_opening(_trade((S - 1) * 1000), opened, set())  # at most 11:59:59.999
    assert not before_opening(_trade((S + 1) * 1000), opened, {"t2|buy"})
    assert before_opening(_trade(S * 1000 + 499), opened, set())  # ms: exact
    assert not before_opening(_trade(S * 1000 + 500), opened, set())
    assert latest_ts(_trade(S * 1000)) == S * 1000 + 999
    assert latest_ts(_trade(S * 1000 + 1)) == S * 1000 + 1


def test_the_openings_trades_are_kept_per_venue_and_added_to(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'tg.db'}")
    db.migrate()
    try:
        storage = Storage(db)
        assert opening_trades(storage) == {}
        record_opening_trades(storage, "polymarket", ["t1|buy"])
        record_opening_trades(storage, "polymarket", ["t2|sell", "t1|buy"])
        record_opening_trades(storage, "kalshi", ["k1|buy"])
        assert opening_trades(storage) == {"polymarket": {"t1|buy", "t2|sell"},
                                           "kalshi": {"k1|buy"}}  # fmt: skip
    finally:
        db.dispose()


def _hand_trades(pm: Any, keys: dict[str, str]) -> list[dict[str, Any]]:
    """The account's trades on the CLOB (as `/data/trades` lists them), oldest first."""
    return list(pm.trades[pm.accounts[keys["address"].lower()].account_id])


def _hand_second(pm: Any, keys: dict[str, str]) -> int:
    """The whole second the CLOB dated the account's last trade to."""
    return max(int(r["match_time"]) for r in _hand_trades(pm, keys))


def _open_ledger_at(cfg: Config, ms: int) -> None:
    """Rewrite the stored opening of the polymarket ledger to `ms`."""
    db = Database(cfg.node.database_url)
    try:
        storage = Storage(db)
        storage.kv_set(START_TS_KEY, {**stored_start_ts(storage), "polymarket": ms})
    finally:
        db.dispose()


def _config(tmp_path: Any, kalshi: Any, pm: Any) -> Config:
    """The cross-venue node, its strategy's symbol the market's YES: every reconciliation reads
    the market's trades (YES and NO), as once the strategy has traded it."""
    cfg = arb_config(tmp_path, kalshi, pm, {}, {"max_position_usd": "200"})
    cfg.strategies[0] = cfg.strategies[0].model_copy(update={"symbol": f"{YES}/PUSD"})
    return cfg


def _no_fills(node: Any) -> list[Fill]:
    return node.storage.load_fills(venue="polymarket", symbol=(f"{NO}/PUSD",))


def _audit_passes(node: Any) -> None:
    report = node.reconcile_report
    assert report.ok and not report.ledger_differences, report.to_json()
    assert node.ledger_report is not None and node.ledger_report.ok, node.ledger_report
    assert node.risk.state is not TradingState.HALTED, node.risk.state_reason


async def test_a_hand_trade_after_the_opening_in_the_openings_second_is_booked_at_start(
    tmp_path,
    rig,  # noqa: F811
):
    kalshi, pm, keys = rig
    cfg = _config(tmp_path, kalshi, pm)
    node, _ = await _start(cfg)  # the ledger opens: nothing traded yet
    await node.stop()
    node.close()
    await _buy_no_by_hand(pm, keys, D(10))  # while the node is down
    second = _hand_second(pm, keys)
    _open_ledger_at(cfg, second * 1000 + 999)  # stamped before the opening, made after it
    node, _ = await _start(cfg)
    try:
        _audit_passes(node)
        fills = _no_fills(node)
        assert {(f.side, f.ts) for f in fills} == {(Side.BUY, second * 1000)}, fills
        assert sum(f.amount for f in fills) == 10, fills
        assert node.portfolio.book("polymarket").total(NO) == 10
    finally:
        await node.stop()
        node.close()


async def test_a_hand_trade_the_opening_listed_in_its_own_second_is_not_booked_again(
    tmp_path,
    rig,  # noqa: F811
):
    kalshi, pm, keys = rig
    cfg = _config(tmp_path, kalshi, pm)
    await _buy_no_by_hand(pm, keys, D(10))  # before the node's first start
    listed = {f"{r['id']}|buy" for r in _hand_trades(pm, keys)}
    for start in range(2):
        node, _ = await _start(cfg)
        try:
            _audit_passes(node)
            assert opening_trades(node.storage)["polymarket"] == listed
            assert _no_fills(node) == []  # the opening balances hold it
            assert node.portfolio.book("polymarket").total(NO) == 10
        finally:
            await node.stop()
            node.close()
        if start == 0:  # the opening half way through the hand trade's second
            _open_ledger_at(cfg, _hand_second(pm, keys) * 1000 + 500)
