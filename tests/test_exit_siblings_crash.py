"""A node SIGKILLed while it shrinks a resting stop after a partial fill of its target (the
smaller stop journaled, the larger one not yet cancelled, or cancelled and the smaller one not
yet placed) ends the next start with one stop resting, the smaller one, sent once: real ccxt
client, Binance-compatible sandbox, the same database."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from native_exits_support import native_config
from node_support import trading_live
from tradeguard.config import Config
from tradeguard.model.enums import OrderStatus, OrderType
from tradeguard.node import TradingNode
from tradeguard.node.exit_siblings import PENDING_KEY
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
CHILD = Path(__file__).with_name("exit_siblings_crash_child.py")
KEY = ("binance", "BTC/USDT", "manual")
D = Decimal


async def _killed_mid_shrink(tmp: Path, ex: SandboxExchange, cfg: Config, moment: str) -> dict:
    """Run the child until its target and stop rest, fill 0.001 of the target, and wait for
    the child's SIGKILL; return what it printed. Standard error goes to a file: a pipe nobody
    reads until the end fills up and blocks the child's logging, and with it the child."""
    cfg_file = tmp / "config.json"
    cfg_file.write_text(cfg.model_dump_json())
    err_path = tmp / "child.err"
    with err_path.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(CHILD), str(cfg_file), moment,
            stdout=asyncio.subprocess.PIPE, stderr=err,
        )  # fmt: skip
    assert proc.stdout is not None
    docs: dict[str, Any] = {}
    try:
        async with asyncio.timeout(90):
            while line := await proc.stdout.readline():
                doc = json.loads(line) if line.startswith(b"{") else {}
                docs.update(doc)
                if "stop" in doc:  # both rest: a bid of 0.001 at 50,500 takes part of the target
                    ex.set_book("BTCUSDT", bids=[("50500", "0.001"), ("49999", "1")],
                                asks=[("50501", "1")])  # fmt: skip
                    ex.set_book("BTCUSDT", bids=[("49999", "1")], asks=[("50001", "1")])
                if "second" in doc:  # and a bid of 0.0005 another part of it
                    ex.set_book("BTCUSDT", bids=[("50500", "0.0005"), ("49999", "1")],
                                asks=[("50501", "1")])  # fmt: skip
                    ex.set_book("BTCUSDT", bids=[("49999", "1")], asks=[("50001", "1")])
            await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    tail = err_path.read_text(errors="replace")[-4000:]
    assert proc.returncode == -signal.SIGKILL, (docs, tail)
    assert docs.get("killed") == docs.get("replacement", docs["stop"]), (docs, tail)
    return docs


def _status(node: TradingNode, client_order_id: str) -> OrderStatus | None:
    order = node.storage.get_order(client_order_id)
    return None if order is None else order.status


def engine_orders(ex: SandboxExchange) -> list[Any]:
    """The orders the node's account sent (not the house book's)."""
    ours = {o.account_id for o in ex.engine.orders.values() if o.client_order_id.startswith("tg")}
    return [o for o in ex.engine.orders.values() if o.account_id in ours]


@pytest.mark.parametrize("moment", ["before_cancel", "cancel_sent", "cancel_seen"])
async def test_a_node_killed_while_it_shrinks_a_stop_ends_with_one_smaller_stop(
    tmp_path, moment: str
):
    ex = seeded_exchange()
    async with ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url)
        docs = await _killed_mid_shrink(tmp_path, ex, cfg, moment)
        target, stop = docs["target"], docs["stop"]
        [journaled] = docs["journal"].items()  # the smaller stop, journaled before the cancel
        assert journaled[0] == stop
        by_id = {o.client_order_id: o for o in engine_orders(ex)}
        # killed before the cancel left the larger stop resting; after it, cancelled
        expect = "NEW" if moment == "before_cancel" else "CANCELED"
        assert by_id[stop].status == expect and by_id[stop].executed_qty == 0
        assert by_id[target].status == "PARTIALLY_FILLED"
        assert by_id[target].executed_qty == D("0.001")
        sent_before = len(by_id)

        node = TradingNode(cfg)
        await node.start()
        async with trading_live(node):
            await eventually(lambda: node.market.mid("BTC/USDT") == D(50000), 30)

            def stops() -> list[Any]:
                return [o for o in engine_orders(ex) if o.type == "STOP_LOSS"
                        and o.status == "NEW"]  # fmt: skip

            await eventually(lambda: len(stops()) == 1, 30)
            await asyncio.sleep(2)  # anything sent twice would have been sent by now
            [venue_stop] = stops()
            pos = node.portfolio.positions[KEY]
            left = node.portfolio.sellable(pos)
            assert D("0.0009") < left < D("0.001")
            assert venue_stop.orig_qty == left == D(journaled[1])
            assert venue_stop.stop_price == D("49000") and venue_stop.side == "SELL"
            # its acceptance is stored once the venue's answer is read (up to the first quote
            # snapshot's wait for the stream to subscribe after a start)
            await eventually(lambda: _status(node, venue_stop.client_order_id)
                             is OrderStatus.ACCEPTED, 15)  # fmt: skip
            new = node.storage.get_order(venue_stop.client_order_id)
            assert new is not None and new.signal.get("replaces") == stop
            assert (new.type, new.reduce_only, new.status) == (
                OrderType.STOP_LOSS, True, OrderStatus.ACCEPTED,
            )  # fmt: skip
            assert node.storage.get_order(stop).status is OrderStatus.CANCELLED
            assert by_id[stop].status == "CANCELED" and by_id[stop].executed_qty == 0
            assert node.storage.kv_get(PENDING_KEY) is None
            # Nothing else was sent: the buy, the target, the cancelled stop and its successor.
            orders = engine_orders(ex)
            assert len(orders) == sent_before + 1, [(o.client_order_id, o.type) for o in orders]
            assert len({o.client_order_id for o in orders}) == len(orders)
            resting = sorted((o.type, o.orig_qty - o.executed_qty) for o in orders
                             if o.status in ("NEW", "PARTIALLY_FILLED"))  # fmt: skip
            assert resting == [("LIMIT", left), ("STOP_LOSS", left)]
            assert set(node.orders.open) == {target, venue_stop.client_order_id}


async def test_a_node_killed_while_it_cancels_a_smaller_stop_for_nothing_places_none_again(
    tmp_path,
):
    # The node cancelled a smaller stop (a replacement) as a nearer stop held all that was
    # left, and was killed before it heard back: the next start took that cancel for the
    # venue's refusal of the replacement, alerted, and placed the original stop again, two
    # stops for what one of them closes.
    ex = seeded_exchange()
    async with ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url)
        docs = await _killed_mid_shrink(tmp_path, ex, cfg, "emptied_cancel_sent")
        smaller, second = docs["replacement"], docs["second"]
        by_id = {o.client_order_id: o for o in engine_orders(ex)}
        assert by_id[smaller].status == "CANCELED" and by_id[docs["stop"]].status == "CANCELED"
        journal = {cid: D(amount) for cid, amount in docs["journal"].items()}
        assert journal == {smaller: 0}  # the cancel for nothing, journaled first

        node = TradingNode(cfg)
        events: list[Any] = []
        node.bus.subscribe(events.append, "exit.")
        await node.start()
        async with trading_live(node):
            await eventually(lambda: node.market.mid("BTC/USDT") == D(50000), 30)
            await eventually(lambda: node.storage.kv_get(PENDING_KEY) is None, 30)
            await asyncio.sleep(2.5)  # past the first retry of a refused replacement
            pos = node.portfolio.positions[KEY]
            left = node.portfolio.sellable(pos)
            stops = [(o.client_order_id, o.stop_price, o.orig_qty) for o in engine_orders(ex)
                     if o.type == "STOP_LOSS" and o.status == "NEW"]  # fmt: skip
            [(cid, price, qty)] = stops  # one stop: the nearer one, shrunk to what is left
            assert price == D("49500") and qty == left
            assert node.storage.get_order(cid).signal.get("replaces") == second
            assert node.storage.get_order(smaller).status is OrderStatus.CANCELLED
            assert not [e for e in events if e.kind == "exit.replace_refused"]


async def test_a_node_killed_while_the_api_cancels_a_smaller_stop_places_none_again(tmp_path):
    # A smaller stop (a replacement) cancelled through the API, the node killed before it heard
    # back: the cancel was known only in memory, so the next start took the cancel it found for
    # the venue's refusal of the replacement, alerted, and placed the stop again.
    ex = seeded_exchange()
    async with ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url)
        docs = await _killed_mid_shrink(tmp_path, ex, cfg, "api_cancel_sent")
        smaller = docs["replacement"]
        by_id = {o.client_order_id: o for o in engine_orders(ex)}
        assert by_id[smaller].status == "CANCELED" and by_id[docs["stop"]].status == "CANCELED"

        node = TradingNode(cfg)
        events: list[Any] = []
        node.bus.subscribe(events.append, "exit.")
        await node.start()
        async with trading_live(node):
            await eventually(lambda: node.market.mid("BTC/USDT") == D(50000), 30)
            await eventually(lambda: node.storage.kv_get(PENDING_KEY) is None, 30)
            await asyncio.sleep(2.5)  # past the first retry of a refused replacement
            stops = [o.client_order_id for o in engine_orders(ex)
                     if o.type == "STOP_LOSS" and o.status == "NEW"]  # fmt: skip
            assert stops == []
            assert node.storage.get_order(smaller).status is OrderStatus.CANCELLED
            assert not [e for e in events if e.kind == "exit.replace_refused"]
