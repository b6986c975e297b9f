"""`tradeguard pm fills clear`: a Polymarket order the venue reports filled, whose fill rows are
priced where no contract trades (1.5), is escalated (`order.fills_unreadable`) and its symbol
blocked, again at every start. Once the operator has checked the venue by hand, the command
ends it in the journal at the venue's status, refusing while a node runs on the database, and
records who and why; the next start neither escalates nor blocks it. Real parts: the local
CLOB, a node, the command line (main(), on a thread of the test's process)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from cli_support import Done, run_cli
from test_pm_node_crash import POLY_YES, vault_with
from tradeguard.config import load_config
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.sandbox.pm_serve import polymarket_demo, polymarket_keys
from tradeguard.sandbox.polymarket import server as pm_server
from tradeguard.sandbox.polymarket import trade_listing

D = Decimal


def _config(tmp: Path, url: str) -> Path:
    path = tmp / "pm.toml"
    path.write_text(f"""mode = "sandbox"
data = []
strategies = []
[node]
database_url = "sqlite:///{tmp / "tg.db"}"
kill_sentinel = "{tmp / "tg.kill"}"
valuation_asset = "USD"
[[venues]]
name = "polymarket"
kind = "polymarket"
credentials = "demo"
rest_url = "{url}"
[risk]
min_order_notional_usd = "1"
price_band_pct = "10"
""")
    return path


def _clear(capsys: Any, config: Path, cid: str, *more: str) -> Done:
    return run_cli(capsys, "pm", "fills", "clear", cid, "--config", str(config), *more)


async def _escalated(node: TradingNode) -> str:
    """Buy 10 YES at the ask: the venue fills them, every fill row it sends is unreadable."""
    venue = node.venues["polymarket"]
    await node.on_quote(await venue.fetch_quote(POLY_YES))
    result = await node.submit(
        OrderIntent("s1", "polymarket", POLY_YES, Side.BUY, D(10), OrderType.LIMIT, D("0.46"))
    )
    assert result.order is not None, result
    cid = result.order.client_order_id
    for _ in range(50):
        if cid in node.orders.unreadable:
            break
        await reconcile_and_gate(node)
        await asyncio.sleep(0.1)
    assert sorted(node.orders.unreadable) == [cid]
    return cid


def _unreadable_row(*a: Any) -> dict[str, Any]:
    """A trade row whose price no binary market can have (above 1), on either side."""
    row = trade_listing.trade_row(*a)
    makers = [{**m, "price": "1.5"} for m in row["maker_orders"]]
    return {**row, "price": "1.5", "maker_orders": makers, "honest": row["price"]}


async def test_an_escalated_order_is_cleared_by_the_command_once_no_node_runs(
    tmp_path: Path, monkeypatch, capsys
):
    keys = polymarket_keys(None)
    server = polymarket_demo(keys)
    monkeypatch.setattr(pm_server, "trade_row", _unreadable_row)
    await server.start()
    try:
        fields = {k: v for k, v in keys.items() if k != "address"}
        vault_with(tmp_path, monkeypatch, "demo", "polymarket", fields)
        config = _config(tmp_path, server.url)
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.chdir(tmp_path)
        node = TradingNode(load_config(str(config)))
        await node.start()
        try:
            cid = await _escalated(node)
            running = await asyncio.to_thread(_clear, capsys, config, cid, "--reason", "seen")
        finally:
            await node.stop()
            node.close()
        assert running.returncode == 1, running
        assert "lock" in running.stderr and "Traceback" not in running.stderr, running.stderr

        unknown = await asyncio.to_thread(_clear, capsys, config, "nope-1", "--reason", "x")
        assert unknown.returncode == 2 and "ORDER_ID nope-1" in unknown.stderr, unknown
        assert len(unknown.stderr.strip().splitlines()) == 1, unknown.stderr
        no_reason = await asyncio.to_thread(_clear, capsys, config, cid, "--reason", "  ")
        assert no_reason.returncode == 2 and "--reason" in no_reason.stderr, no_reason
        hostile = await asyncio.to_thread(_clear, capsys, config, "\x1b[2J", "--reason", "x")
        assert hostile.returncode == 2 and "\x1b" not in hostile.stderr, hostile
        assert "ORDER_ID" in hostile.stderr, hostile.stderr

        rows = [r for acct_rows in server.trades.values() for r in acct_rows]
        for row in rows:  # the venue's rows read right again: the node books them, no clear
            row["price"] = row["honest"]
        readable = await asyncio.to_thread(_clear, capsys, config, cid, "--reason", "x")
        assert readable.returncode == 1 and "can be read now" in readable.stderr, readable
        for row in rows:
            row["price"] = "1.5"
        dead = tmp_path / "dead.toml"  # the same database, a venue that does not answer
        dead.write_text(config.read_text().replace(server.url, "http://127.0.0.1:9"))
        unreachable = await asyncio.to_thread(_clear, capsys, dead, cid, "--reason", "x")
        assert unreachable.returncode == 1, unreachable
        said = unreachable.stderr.strip()
        assert f"could not read order {cid} on the venue" in said, said
        assert "reconcile.call_timeout_s" in said and "Traceback" not in said, said

        done = await asyncio.to_thread(
            _clear, capsys, config, cid, "--reason", "10 YES at 0.46 on the CLOB's page",
            "--by", "ops-ana",
        )  # fmt: skip
        assert done.returncode == 0, done
        assert cid in done.stdout and "polymarket" in done.stdout, done.stdout
        assert "10 filled, 0 booked" in done.stdout, done.stdout
        again = await asyncio.to_thread(_clear, capsys, config, cid, "--reason", "twice")
        assert again.returncode == 2 and "nothing to clear" in again.stderr, again

        node = TradingNode(load_config(str(config)))
        await node.start()  # no escalation, no block: the order is ended in the journal
        try:
            assert node.orders.unreadable == {}
            order = node.storage.get_order(cid)
            assert order is not None and order.status is OrderStatus.FILLED
            assert "fills cleared by ops-ana: 10 YES at 0.46" in order.reason
            [event] = [e for e in node.storage.load_events() if e.kind == "order.fills_cleared"]
            assert event.venue == "polymarket" and event.data["client_order_id"] == cid
            assert event.data["by"] == "ops-ana" and "price" in event.data["unreadable"]
            assert (event.data["venue_filled"], event.data["booked"]) == ("10", "0")
            book = node.portfolio.book("polymarket")
            assert book.total(POLY_YES.split("/")[0]) == 10  # the venue's balances: the truth
            more = await node.submit(
                OrderIntent("s1", "polymarket", POLY_YES, Side.BUY, D(10), OrderType.LIMIT,
                            D("0.46"))
            )  # fmt: skip
            assert more.code != "ORDER_STATE_UNKNOWN", more
        finally:
            await node.stop()
            node.close()
    finally:
        await server.stop()
