"""Live market data: the node's added latency from socket to strategy callback, and its ceiling.

A load generator in a child process (the sandbox for REST and stream subscriptions) pushes raw,
pre-encoded Binance frames of BTCUSDT, half `depthUpdate` (one level each, update ids in
sequence after the REST snapshot's `lastUpdateId`) and half `trade`, at N messages/s straight
into the subscribed websockets. Each frame carries its send time (`X`, CLOCK_MONOTONIC ns, one
clock for both processes on Linux). This process follows both streams as a node does: the real
ccxt.pro client, the live hub (book depth 10, trades), and a sink doing the node's per-message
work (market state, a paper venue with a resting order, a strategy callback).

Figures per rate:
- `added_ms` p50/p99: from the frame's arrival in this process (ccxt's socket read, before it
  parses) to the strategy callback. A book callback covers every delta that arrived before it
  (ccxt hands the hub the book as it stands; deltas in between are coalesced), each timed from
  its own arrival.
- `e2e_ms` p50/p99 and `end_lag_ms` (median over the last tenth): from the generator's send,
  so a node falling behind shows as a lag that grows.
- `max_send_queue`: the most frames waiting in the generator's socket writers.
`kept_up`: every trade delivered, no book resync, end lag under 20 ms and send queue under
20 ms of traffic. `max_sustained_msgs_per_s` is the highest rate that kept up.
Target: p99 added <= 2 ms at 5,000 messages/s.

Run: `.venv/bin/python benchmarks/live_data.py [--rates 1000,2500,5000,7500,10000]
[--seconds 5] [--profile 5000]` (`--profile` prints where this process spent a run's time).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import io
import json
import os
import pstats
import socket
import statistics
import sys
import time
from decimal import Decimal
from typing import Any

from tradeguard.marketdata.book import OrderBook
from tradeguard.marketdata.live.hub import LiveHub
from tradeguard.marketdata.live.subscriptions import Subscription
from tradeguard.model.market import Candle, Quote, TradeTick

SYMBOL, MARKET = "BTC/USDT", "BTCUSDT"


# -- the load generator (child process) ---------------------------------------------------------
def _frames(first_uid: int, first_trade: int, count: int, now_ms: int) -> list[tuple[str, str]]:
    """Pre-encoded message bodies, each missing only its send stamp: (kind, body-without-`}`)."""
    out = []
    for i in range(count):
        if i % 2 == 0:
            uid = first_uid + i // 2
            level = i // 2 % 20
            side, price = ("b", 49_999 - level) if level % 2 else ("a", 50_001 + level)
            qty = f"{(i % 7 + 1) / 10:.8f}"
            body = (
                f'{{"e":"depthUpdate","E":{now_ms},"s":"{MARKET}","U":{uid},"u":{uid},'
                f'"{side}":[["{price}.00000000","{qty}"]],"{"a" if side == "b" else "b"}":[]'
            )
            out.append(("depth", body))
        else:
            tid = first_trade + i // 2
            body = (
                f'{{"e":"trade","E":{now_ms},"s":"{MARKET}","t":{tid},"p":"50000.00000000",'
                f'"q":"0.00100000","T":{now_ms},"m":true,"M":true'
            )
            out.append(("trade", body))
    return out


def _targets(ex: Any) -> dict[str, list[tuple[Any, str, str]]]:
    """Per kind, each subscribed connection with the frame's head and tail for its mode."""
    low = MARKET.lower()
    out: dict[str, list[tuple[Any, str, str]]] = {"depth": [], "trade": []}
    for conn in ex.hub.conns:
        for sub in conn.streams:
            kind = "depth" if sub.startswith(f"{low}@depth") else (
                "trade" if sub == f"{low}@trade" else None
            )  # fmt: skip
            if kind is None:
                continue
            if conn.mode == "combined":
                out[kind].append((conn, f'{{"stream":"{sub}","data":', "}"))
            else:
                out[kind].append((conn, "", ""))
    return out


async def _push(ex: Any, rate: int, seconds: float, trade_id: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    count = int(rate * seconds)
    first_uid = ex.publisher.update_id[MARKET] + 1
    frames = _frames(first_uid, trade_id, count, ex.now_ms())
    targets = _targets(ex)
    conns = {id(c): c for pairs in targets.values() for c, _, _ in pairs}.values()
    t0, sent, max_queue = loop.time(), 0, 0
    while sent < count:
        due = min(count, int((loop.time() - t0) * rate) + 1)
        while sent < due:
            kind, body = frames[sent]
            stamp = f',"X":{time.monotonic_ns()}}}'
            for conn, head, tail in targets[kind]:
                conn.queue.put_nowait(head + body + stamp + tail)
            sent += 1
        max_queue = max(max_queue, max((c.queue.qsize() for c in conns), default=0))
        await asyncio.sleep(0.0005)
    send_s = loop.time() - t0
    while any(c.queue.qsize() for c in conns) and loop.time() - t0 < seconds + 10:
        await asyncio.sleep(0.001)
    ex.publisher.update_id[MARKET] = first_uid + (count + 1) // 2 - 1
    return {
        "sent": count, "send_s": round(send_s, 3), "drain_s": round(loop.time() - t0 - send_s, 3),
        "max_send_queue": max_queue, "trades": count // 2, "next_trade_id": trade_id + count,
    }  # fmt: skip


async def serve(port: int) -> None:
    """Child: a sandbox on `port`; each stdin line `RATE SECONDS` pushes that load."""
    from tradeguard.sandbox.config import SandboxConfig
    from tradeguard.sandbox.testing import seeded_exchange

    async with seeded_exchange(SandboxConfig(port=port, walk_every_ms=0)) as ex:
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        trade_id = 10_000_000
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            rate, seconds = line.split()
            result = await _push(ex, int(rate), float(seconds), trade_id)
            trade_id = result["next_trade_id"]
            print(json.dumps(result), flush=True)


# -- the node side (this process) ---------------------------------------------------------------
class NodeSink:
    """The node's per-message work (market state, paper fills, a strategy), timed per message."""

    def __init__(self) -> None:
        from tradeguard.clock import Clock
        from tradeguard.marketdata.state import MarketState
        from tradeguard.model.instrument import Instrument
        from tradeguard.venues.paper import PaperVenue

        inst = Instrument("paper", SYMBOL, "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"))
        self.market = MarketState()
        self.paper = PaperVenue("paper", {SYMBOL: inst}, {"USDT": Decimal(10**6)}, Clock())
        self.arrived: dict[tuple[str, int], tuple[int, int]] = {}  # key -> (arrival, send) ns
        self.depth: collections.deque[tuple[int, int, int]] = collections.deque()
        self.added: list[float] = []
        self.e2e: list[float] = []
        self.trades = self.books = 0
        self.mids: list[Decimal] = []

    def reset(self) -> None:
        self.added, self.e2e, self.trades, self.books = [], [], 0, 0
        self.mids.clear()

    def _took(self, arrival: int, sent: int, now: int) -> None:
        self.added.append((now - arrival) / 1e6)
        self.e2e.append((now - sent) / 1e6)

    def strategy(self, book: OrderBook) -> None:
        mid = book.mid()
        if mid is not None and len(self.mids) < 1000:
            self.mids.append(mid)

    async def on_book(self, book: OrderBook) -> None:
        self.market.on_book(book)
        self.paper.on_book(book)
        self.strategy(book)
        now = time.monotonic_ns()
        self.books += 1
        pending = self.depth
        while pending and pending[0][0] <= book.seq:
            _, arrival, sent = pending.popleft()
            self._took(arrival, sent, now)

    async def on_trade(self, trade: TradeTick) -> None:
        self.paper.on_trade(trade)
        now = time.monotonic_ns()
        self.trades += 1
        stamps = self.arrived.pop(("trade", int(trade.trade_id)), None)
        if stamps is not None:
            self._took(*stamps, now)

    async def on_live_candle(self, candle: Candle, warmup: bool) -> None:
        pass

    async def on_quote(self, quote: Quote) -> None:
        pass

    def on_stream_event(self, kind: str, data: dict[str, Any]) -> None:
        pass


def _stamp_arrivals(venue: Any, sink: NodeSink) -> None:
    """Note each frame's arrival (before ccxt parses it) and, once parsed, its key and send time."""
    from ccxt.async_support.base.ws.client import Client

    arrival = [0]
    raw = Client.handle_message

    def on_frame(self: Any, message: Any) -> Any:
        arrival[0] = time.monotonic_ns()
        return raw(self, message)

    Client.handle_message = on_frame  # type: ignore[method-assign]
    parsed = venue.client.handle_message

    def on_parsed(client: Any, message: Any) -> Any:
        data = message.get("data", message) if isinstance(message, dict) else None
        if isinstance(data, dict) and "X" in data:
            if data.get("e") == "depthUpdate":
                sink.depth.append((int(data["u"]), arrival[0], int(data["X"])))
            elif data.get("e") == "trade":
                sink.arrived[("trade", int(data["t"]))] = (arrival[0], int(data["X"]))
        return parsed(client, message)

    venue.client.handle_message = on_parsed


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 3)


async def _one_rate(
    child: Any, hub: LiveHub, sink: NodeSink, rate: int, seconds: float, profile: bool
) -> dict[str, Any]:
    sink.reset()
    resyncs = sum(s["resyncs"] for s in hub.status())
    prof = cProfile.Profile() if profile else None
    if prof is not None:
        prof.enable()
    child.stdin.write(f"{rate} {seconds}\n".encode())
    pushed = json.loads(await child.stdout.readline())
    deadline = time.monotonic() + 3
    while sink.trades < pushed["trades"] and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    if prof is not None:
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(18)
        print(f"--- profile at {rate} msgs/s (this process, by own time) ---", file=sys.stderr)
        print(out.getvalue(), file=sys.stderr)
    tail = sink.e2e[-max(1, len(sink.e2e) // 10) :]
    end_lag = round(statistics.median(tail), 3) if tail else None
    new_resyncs = sum(s["resyncs"] for s in hub.status()) - resyncs
    queue_ok = pushed["max_send_queue"] <= max(50, rate // 50)
    kept_up = (
        sink.trades >= pushed["trades"] and new_resyncs == 0
        and end_lag is not None and end_lag < 20 and queue_ok
    )  # fmt: skip
    return {
        "rate_msgs_per_s": rate, "sent": pushed["sent"], "send_s": pushed["send_s"],
        "max_send_queue": pushed["max_send_queue"], "trades_delivered": sink.trades,
        "trades_sent": pushed["trades"], "book_callbacks": sink.books,
        "depth_msgs_per_book_callback": round(pushed["sent"] / 2 / max(1, sink.books), 2),
        "added_p50_ms": _pct(sink.added, 0.5), "added_p99_ms": _pct(sink.added, 0.99),
        "e2e_p50_ms": _pct(sink.e2e, 0.5), "e2e_p99_ms": _pct(sink.e2e, 0.99),
        "end_lag_ms": end_lag, "resyncs": new_resyncs, "kept_up": kept_up,
    }  # fmt: skip


async def measure(rates: list[int], seconds: float, profile_rate: int | None) -> dict[str, Any]:
    from tradeguard.clock import Clock
    from tradeguard.venues.ccxt_venue import CcxtVenue, ccxt_client_factory

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", str(port),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**20,
    )  # fmt: skip
    assert child.stdin is not None and child.stdout is not None
    await child.stdout.readline()
    url = f"http://127.0.0.1:{port}"
    factory = ccxt_client_factory("binance", rest_url=url, ws_url=url.replace("http", "ws"))
    venue = CcxtVenue("sbx", factory, Clock(), stream_user_data=False)
    sink = NodeSink()
    _stamp_arrivals(venue, sink)
    hub = LiveHub({"sbx": venue.market_data()}, sink)
    hub.subscribe([
        Subscription("book", "sbx", SYMBOL, depth=10),
        Subscription("trades", "sbx", SYMBOL),
    ])  # fmt: skip
    while len(hub.status()) < 2 or not all(s["messages"] for s in hub.status()[:1]):
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # the trade stream subscribes too
    out: dict[str, Any] = {
        "seconds_per_rate": seconds, "cpus": os.cpu_count(),
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
        "runs": [], "max_sustained_msgs_per_s": 0,
    }  # fmt: skip
    try:
        for rate in rates:
            run = await _one_rate(child, hub, sink, rate, seconds, rate == profile_rate)
            run["load_avg_1m"] = round(os.getloadavg()[0], 2)
            out["runs"].append(run)
            if run["kept_up"]:
                out["max_sustained_msgs_per_s"] = max(out["max_sustained_msgs_per_s"], rate)
            await asyncio.sleep(0.5)
    finally:
        await hub.stop()
        await venue.close()
        child.stdin.close()
        await child.wait()
    at_target = next((r for r in out["runs"] if r["rate_msgs_per_s"] == 5000), None)
    if at_target is not None:
        out["target_p99_le_2ms_at_5000"] = bool(
            at_target["kept_up"] and (at_target["added_p99_ms"] or 99) <= 2
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rates", default="1000,2500,5000,7500,10000")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--profile", type=int, default=None, help="profile the run at this rate")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
        return
    rates = [int(r) for r in args.rates.split(",")]
    print(json.dumps(asyncio.run(measure(rates, args.seconds, args.profile)), indent=2))


if __name__ == "__main__":
    main()
