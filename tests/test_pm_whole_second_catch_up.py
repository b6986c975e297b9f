"""Start-up catch-up of a hand trade the Polymarket CLOB dated to a whole second.

`/data/trades` dates a trade to the second (`match_time`): one made at 12:00:00.700, after a
reconciliation that started at 12:00:00.500 had listed the account's trades, is stamped
12:00:00.000. The next reconciliation reads from that start (`reconcile.fills_lookback_s` 0):
the trade must be among what it reads, or the ledger is short of it and the start halts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from test_ledger_opening_second import (
    _audit_passes,
    _config,
    _hand_second,
    _hand_trades,
    _no_fills,
)
from test_pm_arb_held_merge import _buy_no_by_hand, rig  # noqa: F401
from test_pm_arb_interrupted import _start
from test_pm_arb_node import arb_config
from tradeguard.config import Config
from tradeguard.execution.ledger_opening import opening_trades
from tradeguard.execution.reconcile import CHECKPOINT_KEY
from tradeguard.model.enums import Side
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from tradeguard.venues.polymarket.venue import PolymarketVenue

D = Decimal
NO = "fed-above-4pct-dec:NO"


def _checkpoint_at(cfg: Config, ms: int) -> None:
    """Rewrite the polymarket checkpoint (the last good reconciliation's start) to `ms`."""
    db = Database(cfg.node.database_url)
    try:
        storage = Storage(db)
        raw = storage.kv_get(CHECKPOINT_KEY)
        storage.kv_set(CHECKPOINT_KEY, {**(raw or {}), "polymarket": ms})
    finally:
        db.dispose()


async def test_a_hand_trade_stamped_with_the_checkpoints_second_is_caught_up_at_start(
    tmp_path: Any,
    rig: Any,  # noqa: F811
) -> None:
    kalshi, pm, keys = rig
    cfg = _config(tmp_path, kalshi, pm)
    cfg.reconcile = cfg.reconcile.model_copy(update={"fills_lookback_s": 0.0})
    node, _ = await _start(cfg)  # the ledger opens: nothing traded yet
    await node.stop()
    node.close()
    await _buy_no_by_hand(pm, keys, D(10))  # while the node is down
    second = _hand_second(pm, keys)
    _checkpoint_at(cfg, second * 1000 + 500)  # the last reconciliation began before the trade
    node, _ = await _start(cfg)
    try:
        _audit_passes(node)
        fills = _no_fills(node)
        assert {(f.side, f.ts) for f in fills} == {(Side.BUY, second * 1000)}, fills
        assert node.portfolio.book("polymarket").total(NO) == 10
    finally:
        await node.stop()
        node.close()


async def test_a_hand_trade_made_while_the_opening_reads_its_balances_is_not_booked_again(
    tmp_path: Any,
    rig: Any,  # noqa: F811
    monkeypatch: Any,
) -> None:
    """The opening lists the account's trades, then reads its balances: a hand buy made
    between the two (the `user` channel missing it, reconnecting) is in the opening balances
    but not in the listing. Stamped with the opening's second or a later one, it must not be
    booked on top of them later."""
    kalshi, pm, keys = rig
    cfg = _config(tmp_path, kalshi, pm)
    read = PolymarketVenue.fetch_balances
    bought: list[bool] = []

    async def read_after_a_hand_buy(venue: PolymarketVenue) -> Any:
        if not bought:  # the first read only: after the listing, before the figures
            bought.append(True)
            await _buy_no_by_hand(pm, keys, D(10))
        return await read(venue)

    frame = PolymarketVenue._on_user_frame

    def trades_missed(venue: PolymarketVenue, msg: Any) -> None:
        listener, venue._listener = venue._listener, None  # the channel missed the trade
        try:
            frame(venue, msg)
        finally:
            venue._listener = listener

    monkeypatch.setattr(PolymarketVenue, "fetch_balances", read_after_a_hand_buy)
    monkeypatch.setattr(PolymarketVenue, "_on_user_frame", trades_missed)
    node, _ = await _start(cfg)
    try:
        assert bought
        _audit_passes(node)
    finally:
        await node.stop()
        node.close()
    for _ in range(2):  # every later start: the opening balances hold the hand buy
        node, _ = await _start(cfg)
        try:
            _audit_passes(node)
            assert _no_fills(node) == []
            held = {f"{r['id']}|buy" for r in _hand_trades(pm, keys)}
            assert opening_trades(node.storage)["polymarket"] == held  # kept as the opening's
            assert node.portfolio.book("polymarket").total(NO) == 10
        finally:
            await node.stop()
            node.close()


async def test_a_hand_buy_on_a_market_no_strategy_symbol_names_is_booked_at_start(
    tmp_path: Any,
    rig: Any,  # noqa: F811
) -> None:
    """The cross-venue strategy's own `symbol` (BTC/USDT) is not one it trades, and no journal
    order names the market: its trades are read all the same, from the account's listing."""
    kalshi, pm, keys = rig
    cfg = arb_config(tmp_path, kalshi, pm, {}, {"max_position_usd": "200"})
    assert cfg.strategies[0].symbol == "BTC/USDT"
    node, _ = await _start(cfg)  # the ledger opens: nothing traded yet
    await node.stop()
    node.close()
    await _buy_no_by_hand(pm, keys, D(10))  # while the node is down
    node, _ = await _start(cfg)
    try:
        _audit_passes(node)
        fills = _no_fills(node)
        assert [(f.side, f.amount) for f in fills] == [(Side.BUY, 10)], fills
        assert node.portfolio.book("polymarket").total(NO) == 10
    finally:
        await node.stop()
        node.close()
