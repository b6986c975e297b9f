"""A resolved market turns the node's outcome positions into cash, once, matching the venue."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from test_pm_node_crash import POLY_YES, node_config, vault_with
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.execution.settlement import settle_resolved
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.model.outcome import Resolution
from tradeguard.node import TradingNode
from tradeguard.sandbox.pm_serve import kalshi_demo, kalshi_keys, polymarket_demo, polymarket_keys

D = Decimal
KALSHI_TICKER = "KXFED-26DEC-T4.00"
CASES = {
    # dialect: (resolution, fee paid on 10 @ 0.46, payout per contract)
    "kalshi": (Resolution.YES, D("0.18"), D(1)),  # ceil(0.07 * 10 * 0.46 * 0.54) = 0.18
    "polymarket": (Resolution.VOID, D("0.049680"), D("0.5")),  # 10 * 0.02 * 0.46 * 0.54
}


@pytest.mark.parametrize("dialect", ["kalshi", "polymarket"])
async def test_resolution_closes_positions_at_the_payout_and_the_ledger_matches_the_venue(
    tmp_path: Path, monkeypatch, dialect: str
):
    resolution, fee, paid = CASES[dialect]
    if dialect == "kalshi":
        keys, symbol, quote = kalshi_keys(None), f"{KALSHI_TICKER}:YES/USD", "USD"
        server = kalshi_demo(keys)
    else:
        keys, symbol, quote = polymarket_keys(None), POLY_YES, "PUSD"
        server = polymarket_demo(keys)
    await server.start()
    url = server.rest_url if dialect == "kalshi" else server.url
    vault_with(tmp_path, monkeypatch, "demo", dialect,
               {k: v for k, v in keys.items() if k != "address"})  # fmt: skip
    node = TradingNode(node_config(tmp_path, {
        "name": dialect, "kind": dialect, "credentials": "demo", "rest_url": url,
    }))  # fmt: skip
    try:
        await node.start()
        venue = node.venues[dialect]
        await node.on_quote(await venue.fetch_quote(symbol))
        intent = OrderIntent("s1", dialect, symbol, Side.BUY, D(10), OrderType.LIMIT, D("0.46"))
        result = await node.submit(intent)
        assert result.order is not None and result.order.status is OrderStatus.FILLED
        if dialect == "kalshi":
            server.resolve(KALSHI_TICKER, resolution)
        else:
            server.resolve(next(iter(server.markets)), resolution)

        fills = await settle_resolved(node)

        assert [(f.side, f.price, f.amount, f.fee) for f in fills] == [(Side.SELL, paid, 10, 0)]
        pos = node.portfolio.position(dialect, symbol, "s1")
        assert pos.quantity == 0
        assert pos.realized_pnl == (paid - D("0.46")) * 10 - fee
        book = node.portfolio.book(dialect)
        venue_cash = {b.asset: b.total for b in await venue.fetch_balances()}
        assert book.total(quote) == venue_cash[quote] == D(10000) - D("4.6") - fee + paid * 10
        assert await settle_resolved(node) == []  # seen again, booked once
        report = await reconcile_and_gate(node, "periodic")
        assert report.balance_adjustments == []
        settled = node.orders.orders[fills[0].client_order_id]
        assert settled.status is OrderStatus.FILLED
        assert settled.signal == {"settlement": resolution.value}
    finally:
        await node.stop()
        await server.stop()


async def test_a_start_whose_settlement_is_refused_ends_in_one_line_and_the_next_settles_once(
    tmp_path: Path, monkeypatch
) -> None:
    """A resolution found at start whose booking the database refuses (a locked file) ends the
    start with one line saying nothing was kept and no order sent, not the database's bare
    error; the next start books the payout once."""
    from db_faults import FailingWrites
    from tradeguard.model.errors import DataNotSaved

    keys, symbol = kalshi_keys(None), f"{KALSHI_TICKER}:YES/USD"
    server = kalshi_demo(keys)
    await server.start()
    vault_with(tmp_path, monkeypatch, "demo", "kalshi",
               {k: v for k, v in keys.items() if k != "address"})  # fmt: skip
    cfg = node_config(tmp_path, {
        "name": "kalshi", "kind": "kalshi", "credentials": "demo", "rest_url": server.rest_url,
    })  # fmt: skip
    try:
        node = TradingNode(cfg)
        await node.start()
        try:
            await node.on_quote(await node.venues["kalshi"].fetch_quote(symbol))
            intent = OrderIntent("s1", "kalshi", symbol, Side.BUY, D(10), OrderType.LIMIT,
                                 D("0.46"))  # fmt: skip
            assert (await node.submit(intent)).order.status is OrderStatus.FILLED  # type: ignore[union-attr]
        finally:
            await node.stop()
            node.close()
        server.resolve(KALSHI_TICKER, Resolution.YES)

        node = TradingNode(cfg)
        faults = FailingWrites(node.storage, "fills")
        try:
            with pytest.raises(DataNotSaved) as raised:  # before: OperationalError
                await node.start()
        finally:
            await node.stop()
            node.close()
        said = str(raised.value)
        assert faults.failed == 1 and "\n" not in said and "database is locked" in said, said
        assert "settlement" in said and "no order was sent" in said, said

        node = TradingNode(cfg)
        await node.start()
        try:
            settled = [f for f in node.storage.load_fills() if f.side is Side.SELL]
            assert [(f.price, f.amount) for f in settled] == [(D(1), D(10))]  # once
            assert node.portfolio.position("kalshi", symbol, "s1").quantity == 0
        finally:
            await node.stop()
            node.close()
    finally:
        await server.stop()
