"""The kill switch's flatten of a position no strategy holds (outcome contracts a trade the node
did not make opened, booked under the empty strategy id): its close is booked against that
position, so a second `kill --flatten` finds the account flat and buys nothing back."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.config import Config
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.market import Quote
from tradeguard.model.order import Order
from tradeguard.node import TradingNode

D = Decimal
SYMBOL = "FED:YES/USD"


def _settings(tmp: Path) -> dict[str, Any]:
    return {
        "mode": "paper",
        "node": {"database_url": f"sqlite:///{tmp / 'tg.db'}",
                 "kill_sentinel": str(tmp / "tg.kill"), "valuation_asset": "USD"},
        "venues": [{
            "name": "kpaper", "kind": "paper", "exchange": "kalshi", "balances": {"USD": "1000"},
            "instruments": [{"symbol": SYMBOL, "price_tick": "0.01", "amount_step": "1",
                             "min_amount": "1", "min_notional": "0"}],
        }],
        "data": [], "strategies": [],
        "risk": {"min_order_notional_usd": "1", "price_band_pct": "10",
                 "market_slippage_cap_pct": "5"},
    }  # fmt: skip


def _config(tmp: Path) -> Config:
    return Config.model_validate(_settings(tmp))


def _by_strategy(node: TradingNode) -> dict[str, Decimal]:
    return {
        p.strategy_id: p.quantity
        for p in node.portfolio.positions.values()
        if (p.venue, p.symbol) == ("kpaper", SYMBOL) and p.quantity != 0
    }


async def quote(node: TradingNode) -> None:
    now = node.clock.now_ms()
    await node.on_quote(Quote(SYMBOL, now, D("0.44"), D(500), D("0.46"), D(500)))


async def hand_buy(node: TradingNode) -> None:
    """A trade the node did not make: 5 contracts bought on the venue, no journal order."""
    now = node.clock.now_ms()
    hand = Order("by-hand-1", "", "kpaper", SYMBOL, Side.BUY, OrderType.LIMIT, D(5),
                 D("0.46"), created_ts=now, updated_ts=now)  # fmt: skip
    await node.venues["kpaper"].submit(hand)
    assert _by_strategy(node) == {"": D(5)}


async def test_a_second_kill_flatten_does_not_buy_back_a_position_of_no_strategy(tmp_path):
    node = TradingNode(_config(tmp_path))
    await node.start()
    try:
        await quote(node)
        await hand_buy(node)
        venue = node.venues["kpaper"]
        first = await node.kill(reason="incident", by="pytest", flatten=True)
        assert first["closed_positions"] == [f"kpaper:{SYMBOL}"], first
        assert not first["failed"], first
        assert node.portfolio.net_quantity("kpaper", SYMBOL) == 0
        assert _by_strategy(node) == {}  # was: {'': 5, 'kill': -5}
        await quote(node)
        second = await node.kill(reason="again", by="pytest", flatten=True)
        assert second["closed_positions"] == [] and not second["failed"], second  # was: bought 5
        assert node.portfolio.net_quantity("kpaper", SYMBOL) == 0
        assert venue.net_position(SYMBOL) == 0
        assert _by_strategy(node) == {}
        # one order in all, the first kill's sale, booked to the position it closed
        sent = [(o.strategy_id, o.side, o.filled) for o in node.orders.orders.values()]
        assert sent == [("", Side.SELL, D(5))], sent  # was: a buy of 5 sent by the second kill
    finally:
        await node.stop()
        node.close()
    again = TradingNode(_config(tmp_path))  # a restart reads the same book from the journal
    await again.start()
    try:
        assert _by_strategy(again) == {}
        assert again.portfolio.net_quantity("kpaper", SYMBOL) == 0
    finally:
        await again.stop()
        again.close()


async def test_a_flatten_cut_short_by_sigkill_is_finished_at_restart_with_nothing_reopened(
    tmp_path,
):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(_settings(tmp_path)))
    child = Path(__file__).with_name("kill_orphan_child.py")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(child), str(path), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode == -signal.SIGKILL, out
    sent = json.loads(out.decode().strip().splitlines()[-1])["sent"]
    node = TradingNode(_config(tmp_path))
    await node.start()  # reconciles and finishes the kill cut short
    try:
        await quote(node)
        assert _by_strategy(node) == {}  # was: {'': 5, 'kill': -5}
        assert node.portfolio.net_quantity("kpaper", SYMBOL) == 0
        again = await node.kill(reason="again", by="pytest", flatten=True)
        assert again["closed_positions"] == [] and not again["failed"], again
        orders = [(o.client_order_id, o.strategy_id, o.side, o.filled)
                  for o in node.storage.load_orders()]  # fmt: skip
        assert orders == [(sent, "", Side.SELL, D(5))], orders  # nothing bought back
        assert _by_strategy(node) == {}
    finally:
        await node.stop()
        node.close()
