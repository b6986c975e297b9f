"""API under load: `/api/v1/state` at 200 requests/s from a second process during a replay.

Prints one JSON object: the replay's throughput (candles/s) without and with the load, and the
request latency p50/p99 seen by the loading process. Targets: p99 <= 20 ms and at most 10% loss
of replay throughput.

Run: .venv/bin/python benchmarks/api_load.py [--candles N] [--rps 200] [--yield-every 64]

The node serves the API from its own event loop, as `tradeguard run` with `api.enabled` does:
`TradingNode.run` pauses after every slice of replay work (`tradeguard.pacing`), so a request
waits for the end of the current slice. `--yield-every N` adds an extra `await asyncio.sleep(0)`
every N candles from outside (how this benchmark measured the node before it paced itself); the
report then also holds `with_load_no_yield`, the node as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

BTC_CSV = "candles/BTC-PERP_1m_20211231-20220201.csv"


# the loading process ------------------------------------------------------------------------------
def load_state(url: str, token: str, rps: float, ready: Any, go: Any, stop: Any, out: Any) -> None:
    """Request /api/v1/state at `rps` until `stop`; send back the latencies (ms) seen."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    # http.client on one keep-alive connection: the load generator should cost little CPU itself.
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}

    def get() -> int:
        conn.request("GET", "/api/v1/state", headers=headers)
        r = conn.getresponse()
        r.read()
        return r.status

    latencies: list[float] = []
    errors = 0
    for _ in range(50):  # warm the connection and the server's caches
        get()
    ready.set()
    go.wait()
    interval = 1.0 / rps
    next_at = time.perf_counter()
    started = next_at
    while not stop.is_set():
        now = time.perf_counter()
        if now < next_at:
            time.sleep(next_at - now)
        sent = time.perf_counter()
        status = get()
        latencies.append((time.perf_counter() - sent) * 1000)
        errors += status != 200
        next_at += interval
    elapsed = time.perf_counter() - started
    conn.close()
    out.put({"latencies_ms": latencies, "errors": errors, "elapsed_s": elapsed})


# the node process ---------------------------------------------------------------------------------
def _config(db: Path, data: Path, candles: int | None) -> Any:
    from tradeguard.config import Config, default_config

    cfg = default_config()
    src = data
    if candles:
        lines = data.read_text().splitlines()[: candles + 1]
        src = db.parent / "slice.csv"
        src.write_text("\n".join(lines) + "\n")
    cfg["node"] = {"database_url": f"sqlite:///{db}", "kill_sentinel": str(db.parent / "k")}
    cfg["data"] = [{"path": str(src), "symbol": "BTC/USDT", "venue": "paper"}]
    return Config.model_validate(cfg)


def _add_yield(node: Any, every: int) -> None:
    """Make the replay loop await asyncio.sleep(0) every `every` candles (see the docstring)."""
    real_drain = node._drain

    class Ticking(list):  # type: ignore[type-arg]
        n = 0

        def __bool__(self) -> bool:
            if len(self):
                return True
            self.n += 1
            return self.n % every == 0

    node._ctx.queue = Ticking()

    async def drain() -> None:
        await asyncio.sleep(0)
        await real_drain()

    node._drain = drain


async def _replay(tmp: Path, data: Path, candles: int | None, load: bool, yield_every: int,
                  rps: float) -> dict[str, Any]:  # fmt: skip
    from tradeguard.api.app import create_app
    from tradeguard.api.auth import Role, TokenStore
    from tradeguard.api.server import ApiServer
    from tradeguard.node import TradingNode

    db = tmp / f"run-{time.monotonic_ns()}.db"
    node = TradingNode(_config(db, data, candles))
    await node.start()
    if yield_every:
        _add_yield(node, yield_every)
    out: dict[str, Any] = {}
    server = child = None
    ctx = mp.get_context("spawn")
    ready, go, stop, results = ctx.Event(), ctx.Event(), ctx.Event(), ctx.Queue()
    if load:
        store = TokenStore(node.db, node.storage)
        _, token = store.create("bench", Role.VIEWER)
        server = ApiServer(node, "127.0.0.1", 0, app=create_app(node, tokens=store))
        await server.start()
        child = ctx.Process(target=load_state,
                            args=(server.url, token, rps, ready, go, stop, results))  # fmt: skip
        child.start()
        while not ready.is_set():  # the child warms up against the idle node
            await asyncio.sleep(0.05)
        go.set()
    started = time.perf_counter()
    summary = await node.run()
    elapsed = time.perf_counter() - started
    if load and child is not None and server is not None:
        stop.set()
        while results.empty():  # keep serving until the child has its last answer
            await asyncio.sleep(0.01)
        got = results.get()
        child.join(10)
        await server.stop()
        lat = sorted(got["latencies_ms"])
        out["requests"] = len(lat)
        out["errors"] = got["errors"]
        out["achieved_rps"] = round(len(lat) / got["elapsed_s"], 1) if got["elapsed_s"] else 0
        if lat:
            out["p50_ms"] = round(statistics.median(lat), 2)
            out["p99_ms"] = round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2)
            out["max_ms"] = round(lat[-1], 2)
    await node.stop()
    node.close()
    out["candles"] = summary.events
    out["orders"] = summary.orders
    out["elapsed_s"] = round(elapsed, 3)
    out["candles_per_s"] = round(summary.events / elapsed, 1) if elapsed else 0.0
    return out


def main() -> None:
    """Run the replays and print the figures as JSON."""
    from tradeguard.marketdata.loaders import default_data_dir

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--candles", type=int, default=None, help="replay only the first N candles")
    p.add_argument("--rps", type=float, default=200.0)
    p.add_argument(
        "--yield-every", type=int, default=0, help="extra yields every N candles (0: none)"
    )
    p.add_argument("--skip-no-yield", action="store_true", help="skip the unmodified-node run")
    args = p.parse_args()
    data = default_data_dir() / BTC_CSV
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)

        def run(load: bool, every: int) -> dict[str, Any]:
            return asyncio.run(_replay(tmp, data, args.candles, load, every, args.rps))

        run(False, args.yield_every)  # warm caches (file, imports) once, unmeasured
        base = run(False, args.yield_every)
        loaded = run(True, args.yield_every)
        report: dict[str, Any] = {
            "rps_target": args.rps,
            "yield_every_candles": args.yield_every,
            "without_load": base,
            "with_load": loaded,
            "throughput_loss_pct": round(
                (1 - loaded["candles_per_s"] / base["candles_per_s"]) * 100, 2
            ),
            "targets": {"p99_ms": 20, "throughput_loss_pct": 10},
        }
        report["meets_targets"] = bool(
            loaded.get("p99_ms", 1e9) <= 20 and report["throughput_loss_pct"] <= 10
        )
        if args.yield_every and not args.skip_no_yield:
            report["with_load_no_yield"] = run(True, 0)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
