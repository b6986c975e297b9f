"""`tradeguard pm fills clear` on Kalshi: a resting sell the venue filled while its fill rows
say 1.5 USD a contract is escalated and its symbol blocked; once the operator has checked the
venue, the command (refused while a node runs on the database) ends it in the journal at the
venue's status with who and why, and the next start neither escalates nor blocks it. Real
processes: the local Kalshi server, a node, the command line in a subprocess."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from kalshi_node_support import TICKER, YES, kalshi_node, resting_sell
from test_pm_fill_unreadable import _lie
from test_pm_fills_clear_cli import _clear, _config
from tradeguard.config import load_config
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.model.outcome import Outcome
from tradeguard.node import TradingNode

D = Decimal


def _kalshi_config(tmp: Path, rest_url: str) -> Path:
    path = _config(tmp, rest_url)
    text = path.read_text().replace('name = "polymarket"\nkind = "polymarket"',
                                    'name = "kalshi"\nkind = "kalshi"')  # fmt: skip
    assert 'kind = "kalshi"' in text
    path.write_text(text)
    return path


async def test_an_escalated_kalshi_order_is_cleared_by_the_command_once_no_node_runs(
    tmp_path: Path, monkeypatch, capsys
):
    server, _cfg, keys = await kalshi_node(tmp_path, monkeypatch)
    try:
        config = _kalshi_config(tmp_path, server.rest_url)
        node = TradingNode(load_config(str(config)))
        await node.start()
        try:
            sell, price = await resting_sell(node)
            cid = sell.client_order_id
            await node.venues["kalshi"].balance_reader.idle()  # type: ignore[attr-defined]
            server.held_fills = []  # its fill is never streamed: only the REST row, which lies
            server.house_takes(TICKER, Outcome.YES, price, D(10))  # the venue: executed
            acct = server.account_of(keys["key_id"])
            _lie(server, acct.account_id, sell.venue_order_id)
            for _ in range(50):
                if cid in node.orders.unreadable:
                    break
                await reconcile_and_gate(node)
                await asyncio.sleep(0.1)
            assert sorted(node.orders.unreadable) == [cid]
            running = await asyncio.to_thread(_clear, capsys, config, cid, "--reason", "seen")
        finally:
            await node.stop()
            node.close()
        assert running.returncode == 1, running
        assert "lock" in running.stderr and "Traceback" not in running.stderr, running.stderr

        done = await asyncio.to_thread(
            _clear, capsys, config, cid, "--reason", "10 YES sold on Kalshi's fills page",
            "--by", "ops-ana",
        )  # fmt: skip
        assert done.returncode == 0, done
        assert cid in done.stdout and "kalshi" in done.stdout, done.stdout
        assert "10.00 filled, 0 booked" in done.stdout, done.stdout  # Kalshi's own figures
        again = await asyncio.to_thread(_clear, capsys, config, cid, "--reason", "twice")
        assert again.returncode == 2 and "nothing to clear" in again.stderr, again

        node = TradingNode(load_config(str(config)))
        await node.start()  # no escalation, no block: the order is ended in the journal
        try:
            assert node.orders.unreadable == {}
            order = node.storage.get_order(cid)
            assert order is not None and order.status is OrderStatus.FILLED, order
            assert "fills cleared by ops-ana: 10 YES sold" in order.reason
            [event] = [e for e in node.storage.load_events() if e.kind == "order.fills_cleared"]
            assert event.venue == "kalshi" and event.data["client_order_id"] == cid
            assert "yes_price_dollars" in event.data["unreadable"], event.data
            assert (D(event.data["venue_filled"]), event.data["booked"]) == (10, "0")
            book = node.portfolio.book("kalshi")  # the venue's balances: the truth
            assert book.total(f"{TICKER}:YES") == 0 and book.total("USD") == acct.cash
            ask = (await node.venues["kalshi"].fetch_quote(YES)).ask  # type: ignore[attr-defined]
            await node.on_quote(await node.venues["kalshi"].fetch_quote(YES))  # type: ignore[attr-defined]
            more = await node.submit(
                OrderIntent("s1", "kalshi", YES, Side.BUY, D(1), OrderType.LIMIT, ask)
            )
            assert more.code != "ORDER_STATE_UNKNOWN", more
        finally:
            await node.stop()
            node.close()
    finally:
        await server.stop()
