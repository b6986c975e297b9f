"""A bot's signals from many threads at once over real sockets (a bot's workers, a retrying
client, an operator's stop): one position per bot and per symbol holds, a stop racing entries
leaves nothing working, and replays trade once."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx

from bots_support import SYMBOL, add_bot, mid, quote, rig
from tradeguard.api.server import ApiServer
from tradeguard.model.enums import OrderStatus

THREADS = 8


def _posts(url: str, calls: list[tuple[str, dict[str, Any], dict[str, str]]]) -> list[Any]:
    """POST each (path, body, headers) from its own thread, all released together."""
    out: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def one(i: int) -> None:
        path, body, headers = calls[i]
        with httpx.Client(base_url=url, timeout=30) as http:
            start.wait()
            r = http.post(path, json=body, headers=headers)
            out[i] = (r.status_code, r.json())

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def _signal(bot: str, **extra: Any) -> dict[str, Any]:
    return {"bot_id": bot, "symbol": SYMBOL, "side": "buy", "score": "0.75", **extra}


async def _served(r: Any) -> ApiServer:
    server = ApiServer(r.node, "127.0.0.1", 0, app=r.app)
    await server.start()
    return server


def _working(r: Any, bot: str) -> list[Any]:
    return [o for o in r.node.orders.orders.values() if o.strategy_id == bot]


async def test_entries_from_many_threads_open_one_position(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    server = await _served(r)
    try:
        add_bot(r.node, "eps", require_confirmation=False)
        calls = [("/api/v1/trades/execute", _signal("eps", idempotency_key=f"k-{i}"), r.trader)
                 for i in range(THREADS)]  # fmt: skip
        out = await asyncio.to_thread(_posts, server.url, calls)
        statuses = sorted(body["status"] for _, body in out)
        assert statuses == ["denied"] * (THREADS - 1) + ["submitted"], out
        assert {b["code"] for _, b in out if b["status"] == "denied"} == {"BOT_ONE_POSITION"}
        assert len(_working(r, "eps")) == 1
        await quote(r.node, mid(r.node))
        held = r.node.portfolio.positions[("paper", SYMBOL, "eps")]
        assert held.quantity > 0
    finally:
        await server.stop()
        await r.http.aclose()
        r.node.close()


async def test_one_signal_replayed_from_many_threads_trades_once(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    server = await _served(r)
    try:
        add_bot(r.node, "zeta", require_confirmation=False, one_position_per_symbol=False)
        calls = [("/api/v1/trades/execute", _signal("zeta", idempotency_key="same"), r.trader)
                 for _ in range(THREADS)]  # fmt: skip
        out = await asyncio.to_thread(_posts, server.url, calls)
        trades = {body.get("trade_id") for code, body in out if code in (200, 201)}
        assert len(trades) == 1, out
        assert all(code in (200, 201, 409) for code, _ in out), out
        assert len(_working(r, "zeta")) == 1
    finally:
        await server.stop()
        await r.http.aclose()
        r.node.close()


async def test_a_stop_racing_approved_entries_from_threads_leaves_nothing_working(
    tmp_path, data_dir
):
    r = await rig(tmp_path, data_dir)
    server = await _served(r)
    try:
        add_bot(r.node, "eta", one_position_per_symbol=False, max_position_usd="1000")
        confs = []
        for _ in range(THREADS - 1):
            v = (await r.http.post("/api/v1/safety/validate-trade", json=_signal("eta"),
                                   headers=r.trader)).json()  # fmt: skip
            assert v["approved"], v
            confs.append(v["confirmation_id"])
        calls = [("/api/v1/trades/execute", _signal("eta", confirmation_id=c), r.trader)
                 for c in confs]  # fmt: skip
        calls.insert(
            THREADS // 2,
            ("/api/v1/safety/emergency-stop", {"bot_id": "eta", "reason": "drill"}, r.trader),
        )
        out = await asyncio.to_thread(_posts, server.url, calls)
        assert out[THREADS // 2][0] == 200, out
        open_eta = [o for o in r.node.orders.open.values() if o.strategy_id == "eta"]
        assert open_eta == [], out
        await quote(r.node, mid(r.node))
        held = r.node.portfolio.positions.get(("paper", SYMBOL, "eta"))
        submitted = [b for _, b in out if b.get("status") == "submitted"]
        # what was sent before the stop was cancelled by it: no entry fills after the stop
        assert held is None or held.quantity == 0, (out, held)
        # each entry the stop let through (the bot may hold several symbols' worth) was cancelled
        # unfilled by it; every other was refused, by the stop or by the bot's limits
        by_id = {o.client_order_id: o for o in _working(r, "eta")}
        for body in submitted:
            order = by_id[body["client_order_id"]]
            assert order.status is OrderStatus.CANCELLED and order.filled == 0, (body, order)
        codes = {b.get("code") for _, b in out if b.get("status") == "denied"}
        assert codes <= {"BOT_DISABLED", "BOT_MAX_POSITION", "BOT_MAX_TOTAL_POSITION"}, (codes, out)
        assert len(submitted) + sum(b.get("status") == "denied" for _, b in out) == THREADS - 1
    finally:
        await server.stop()
        await r.http.aclose()
        r.node.close()
