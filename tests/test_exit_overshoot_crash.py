"""A node SIGKILLed once both of a strategy's exits filled (the fills committed) and before the
excess was closed or its report recorded: the next start closes it at market (or reports it)
once, and the start after that does nothing more. Real ccxt client, Binance-compatible sandbox,
the same database."""

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
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.events import Event
from tradeguard.node import TradingNode
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
CHILD = Path(__file__).with_name("exit_overshoot_crash_child.py")
KEY = ("binance", "BTC/USDT", "manual")
D = Decimal


def move(ex: SandboxExchange, side: str, price: str, asks: str = "5") -> None:
    """Set the house book around `price` and trade through it (stops trigger on trades);
    `asks`: what the house offers."""
    p = D(price)
    bid, ask = (p - 10, p) if side == "BUY" else (p, p + 10)
    ex.set_book("BTCUSDT", bids=[(str(bid), "5")], asks=[(str(ask), asks)])
    ex.trade_through("BTCUSDT", side, price, "0.001")


def status(ex: SandboxExchange, cid: str) -> str:
    return next((o.status for o in ex.engine.orders.values() if o.client_order_id == cid), "")


def ours(ex: SandboxExchange) -> list[Any]:
    return [o for o in ex.engine.orders.values() if o.client_order_id.startswith("tg")]


async def _killed_after_both_filled(
    tmp: Path, ex: SandboxExchange, cfg: Config, part: bool = False
) -> dict:
    """Run the child until it SIGKILLs itself: as both exits filled, or (`part`) at the first
    fill of the buy-back, which a book offering 0.0005 fills only in part."""
    cfg_file = tmp / "config.json"
    cfg_file.write_text(cfg.model_dump_json())
    err_path = tmp / "child.err"
    args = [str(CHILD), str(cfg_file), *(["part"] if part else [])]
    with err_path.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *args, stdout=asyncio.subprocess.PIPE, stderr=err
        )
    assert proc.stdout is not None
    docs: dict[str, Any] = {}
    try:
        async with asyncio.timeout(90):
            while line := await proc.stdout.readline():
                doc = json.loads(line) if line.startswith(b"{") else {}
                docs.update(doc)
                if "sl" in doc:  # both rest: the take-profit fills, then the stop fires
                    move(ex, "BUY", "51500")
                    async with asyncio.timeout(30):
                        while status(ex, doc["tp"]) != "FILLED":
                            await asyncio.sleep(0.05)
                    move(ex, "SELL", "48500", "0.0005" if part else "5")
            await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    tail = err_path.read_text(errors="replace")[-4000:]
    assert proc.returncode == -signal.SIGKILL, (docs, tail)
    if not part:
        assert docs.get("killed") == [docs["tp"], docs["sl"]], (docs, tail)
    return docs


async def _start(cfg: Config, events: list[Event]) -> TradingNode:
    node = TradingNode(cfg)
    node.bus.subscribe(events.append, "exit.overshoot")
    await node.start()
    return node


def held(node: TradingNode) -> Decimal:
    pos = node.portfolio.positions.get(KEY)
    return D(0) if pos is None else pos.quantity


@pytest.mark.parametrize("mode", ["close", "report"])
async def test_a_node_killed_before_closing_an_overshoot_closes_or_reports_it_once_at_start(
    tmp_path, mode: str
):
    ex = seeded_exchange()
    async with ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url)
        cfg.node.exit_overshoot = mode  # type: ignore[assignment]
        docs = await _killed_after_both_filled(tmp_path, ex, cfg)
        excess = D(docs["excess"])
        assert (status(ex, docs["tp"]), status(ex, docs["sl"])) == ("FILLED", "FILLED")
        sent = len(ours(ex))
        events: list[Event] = []
        node = await _start(cfg, events)
        async with trading_live(node):
            await eventually(lambda: len(events) == 1, 30)
            [report] = events  # both fills were committed before the kill: the stop's went past
            assert report.severity == "critical" and report.data["orders"] == [docs["sl"]]
            assert D(report.data["excess"]) == excess
            assert report.data["closing"] is (mode == "close")
            if mode == "close":
                await eventually(lambda: held(node) == 0, 30)
                back = [o for o in node.storage.load_orders(strategy_id="manual")
                        if o.signal.get("exit") == "overshoot"]  # fmt: skip
                assert [(o.side, o.type, o.amount, o.status) for o in back] == [
                    (Side.BUY, OrderType.MARKET, excess, OrderStatus.FILLED)
                ]
                assert len(ours(ex)) == sent + 1
            else:
                await asyncio.sleep(2)
                assert held(node) == -excess and len(ours(ex)) == sent
        after = len(ours(ex))
        again: list[Event] = []
        node = await _start(cfg, again)  # a second start: nothing more to close or report
        async with trading_live(node):
            await asyncio.sleep(2)
            assert again == [] and len(ours(ex)) == after
            assert held(node) == (0 if mode == "close" else -excess)


async def test_a_node_killed_between_part_fills_of_the_buyback_buys_the_rest_once(tmp_path):
    # Both exits filled, the buy-back took the 0.0005 the book offered (the rest expired; its
    # fee taken in BTC) and the node was SIGKILLed before trying again. The start sent what was
    # still past flat unrounded (0.0014905): refused (LOT_SIZE) with a critical alert, then
    # rounded at the retry.
    ex = seeded_exchange()
    async with ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url)
        docs = await _killed_after_both_filled(tmp_path, ex, cfg, part=True)
        assert D(docs["filled"]) == D("0.0005")
        events: list[Event] = []
        node = await _start(cfg, events)
        async with trading_live(node):
            assert held(node) < 0  # the rest, still past flat
            step = D("0.00001")
            await eventually(lambda: -step < held(node) <= 0, 60)
            refused = [e.data["reason"] for e in events
                       if e.kind == "exit.overshoot_close_refused"]  # fmt: skip
            assert refused == []
            back = [o.amount for o in node.storage.load_orders(strategy_id="manual")
                    if o.signal.get("exit") == "overshoot"]  # fmt: skip
            assert all(a % step == 0 for a in back), back
