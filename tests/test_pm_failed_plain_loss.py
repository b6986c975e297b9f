"""A plain strategy's closing sale whose trade later FAILED on chain: the loss its round trip
fed the risk engine (losing streak, the streak's pause, the after-loss cooldown) never
happened, and is taken back with the position, as an arbitrage record's is."""

from __future__ import annotations

from decimal import Decimal

from pm_merge_support import buy, demo_clob, pm_config, running
from test_pm_node_crash import POLY_YES
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.enums import OrderStatus, OrderType, Side, TradingState
from tradeguard.model.order import OrderIntent


async def test_a_failed_closing_sale_takes_its_loss_back(tmp_path, monkeypatch) -> None:
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        risk = cfg.risk.model_copy(update={"max_consecutive_losses": 1,
                                           "cooldown_after_loss_s": 600})  # fmt: skip
        cfg = cfg.model_copy(update={"risk": risk})
        async with running(cfg) as node:
            await buy(node, POLY_YES)
            quote = await node.venues["polymarket"].fetch_quote(POLY_YES)
            await node.on_quote(quote)
            placed = await node.submit(OrderIntent(
                "s1", "polymarket", POLY_YES, Side.SELL, Decimal(10), OrderType.LIMIT, quote.bid
            ))  # fmt: skip
            assert placed.order is not None and placed.order.status is OrderStatus.FILLED
            (trip,) = node.portfolio.closed_trades
            assert trip.pnl < 0  # bought at the ask, sold at the bid
            assert node.risk.consecutive_losses == 1
            assert node.risk.state is TradingState.REDUCING  # the streak's pause
            assert ("s1", POLY_YES) in node.risk.cooldowns
            sale = next(
                f for f in node.storage.load_fills(venue="polymarket") if f.side is Side.SELL
            )
            server.set_trade_status(sale.trade_id.rsplit("-", 1)[0], "FAILED")
            report = await reconcile_and_gate(node)
            assert [f["trade_id"] for f in report.fills_failed] == [sale.trade_id]
            assert node.risk.consecutive_losses == 0
            assert node.risk.state is TradingState.ACTIVE  # the pause lifted
            assert ("s1", POLY_YES) not in node.risk.cooldowns
            assert node.risk.losses.losses == []
            again = await reconcile_and_gate(node)
            assert again.fills_failed == [] and node.risk.consecutive_losses == 0
        async with running(cfg) as node:  # durably: a restart reads the same
            assert node.risk.consecutive_losses == 0
            assert node.risk.state is TradingState.ACTIVE
            assert ("s1", POLY_YES) not in node.risk.cooldowns
