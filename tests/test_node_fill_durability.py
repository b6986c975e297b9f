"""A fill, the risk state it moves and its audit events reach the journal in the fill's commit."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

from node_support import node_for, paper_config, write_slice
from tradeguard.model import OrderIntent, OrderType, Side, TradingState
from tradeguard.model.market import Candle
from tradeguard.node import TradingNode
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

SYMBOL = "BTC/USDT"
RISK = {
    "max_orders_per_s": "50",
    "max_trades_per_day": 1000,
    "max_order_notional_usd": "100",
    "max_consecutive_losses": 1,  # the first losing trade trips the breaker
    "market_slippage_cap_pct": "5",  # a market order fills no further than 5 % from the mid
}


def _next_candle(node: TradingNode, price_factor: str) -> Candle:
    """Feed the paper venue the next minute's bar, `price_factor` times the last close."""
    last = node.market.candles[SYMBOL]
    px = (last.close * Decimal(price_factor)).quantize(Decimal("0.1"))
    nxt = replace(last, ts=last.ts + 60_000, open=px, high=px, low=px, close=px)
    node.clock.advance_to(nxt.close_ts)
    node.market.on_candle(nxt)
    node.venues["paper"].on_candle(nxt)
    return nxt


async def test_losing_fill_and_the_breaker_it_trips_are_journaled_with_their_events(
    tmp_path: Path, data_dir: Path
) -> None:
    data = write_slice(data_dir, tmp_path / "btc.csv", 200)
    db_url = f"sqlite:///{tmp_path / 'tg.db'}"
    node = node_for(paper_config(db_url, data, strategies=False, risk=RISK, tmp=tmp_path))
    reader = Database(db_url)  # a second connection: sees only what was committed
    try:
        await node.start()
        await node.run()
        amount = Decimal("0.001")
        buy = await node.submit(
            OrderIntent("manual", "paper", SYMBOL, Side.BUY, amount, OrderType.MARKET)
        )
        assert buy.ok, buy.reason
        _next_candle(node, "1")
        sell = await node.submit(
            OrderIntent(
                "manual", "paper", SYMBOL, Side.SELL, amount, OrderType.MARKET, reduce_only=True
            )
        )
        assert sell.ok, sell.reason
        _next_candle(node, "0.97")  # the sell fills 3 % lower: a losing trade

        assert node.risk.state is TradingState.REDUCING
        journal = Storage(reader)
        assert len(journal.load_fills()) == 2
        assert journal.closed_pnls()[0] < 0
        risk_state = journal.kv_get("risk.state")
        assert isinstance(risk_state, dict) and risk_state["state"] == "REDUCING"
        kinds = [e.kind for e in journal.load_events(limit=1000)]
        assert kinds.count("fill") == 2
        for kind in ("position.closed", "risk.breaker_tripped", "risk.state_changed"):
            assert kind in kinds, kind
    finally:
        reader.dispose()
        node.close()


async def test_each_order_s_transition_log_reads_in_the_order_it_happened(
    tmp_path: Path, data_dir: Path
) -> None:
    # An acknowledgement is journaled with the next commit; when that commit is the fill's, the
    # acknowledgement must still come first in the log.
    data = write_slice(data_dir, tmp_path / "btc.csv", 3000)
    node = node_for(paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, tmp=tmp_path))
    try:
        await node.run()
        orders = node.storage.load_orders()
        assert orders
        for order in orders:
            log = node.storage.load_transitions(order.client_order_id)
            steps = [(r["from_status"], r["to_status"]) for r in log]
            assert steps[0][0] == "new", (order.client_order_id, steps)
            for (_, reached), (left, _) in pairwise(steps):
                assert reached == left, (order.client_order_id, steps)
            assert steps[-1][1] == order.status.value
    finally:
        node.close()
