"""Reconciliation time with 1,000 open orders on the local sandbox (target: <= 2 s).

    .venv/bin/python benchmarks/reconcile.py [--orders 1000]

The sandbox holds `--orders` resting limit orders that the journal also holds (as after a
restart); a node with a real ccxt venue starts, and the start-up reconciliation and one more
periodic reconciliation are timed. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.config import load_config
from tradeguard.execution.reconcile import reconcile_all
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import Order
from tradeguard.node import TradingNode
from tradeguard.sandbox import SandboxConfig, SandboxExchange
from tradeguard.secrets.vault import ScryptParams, Vault

KEY, SECRET, PASSPHRASE = "bench-key", "bench-secret", "benchmark passphrase"


async def bench(n: int, work: Path) -> dict[str, Any]:
    sandbox = SandboxExchange(SandboxConfig())
    sandbox.add_market("BTCUSDT", "BTC", "USDT", "0.01", "0.00001", "0.00001", "5")
    account = sandbox.add_account(KEY, SECRET, {"USDT": Decimal("10000000"), "BTC": Decimal(10)})
    sandbox.set_book("BTCUSDT", bids=[("49990", "5")], asks=[("50010", "5")])
    await sandbox.start()
    try:
        vault = Vault(work / "vault.json", kdf=ScryptParams(n=2**14))
        vault.create(PASSPHRASE)
        vault.add("bench", "binance", {"api_key": KEY, "secret": SECRET})
        os.environ.update({"TG_VAULT_PATH": str(work / "vault.json")})
        os.environ["TG_MASTER_PASSPHRASE"] = PASSPHRASE
        cfg_path = work / "node.toml"
        cfg_path.write_text(
            f"""
mode = "sandbox"
[node]
database_url = "sqlite:///{work / "bench.db"}"
kill_sentinel = "{work / "tg.kill"}"
[[venues]]
name = "sandbox"
kind = "ccxt"
exchange = "binance"
credentials = "bench"
rest_url = "{sandbox.rest_url}"
ws_url = "{sandbox.ws_url}"
symbols = ["BTC/USDT"]
"""
        )
        config = load_config(cfg_path)
        seeding = TradingNode(config)
        now = sandbox.now_ms()
        with seeding.storage.transaction():
            for i in range(n):
                cid = f"bench-{i}"
                price = Decimal("49000") - Decimal(i % 500)
                placed = sandbox.engine.place(
                    account, "BTCUSDT", "BUY", "LIMIT", now, qty=Decimal("0.0002"), price=price,
                    time_in_force="GTC", client_order_id=cid,
                )  # fmt: skip
                assert placed.order is not None
                order = Order(
                    cid, "bench", "sandbox", "BTC/USDT", Side.BUY, OrderType.LIMIT,
                    Decimal("0.0002"), price, status=OrderStatus.ACCEPTED,
                    venue_order_id=str(placed.order.order_id), created_ts=now, updated_ts=now,
                )  # fmt: skip
                seeding.storage.upsert_order(order)
        seeding.close()

        node = TradingNode(config)
        t0 = time.perf_counter()
        await node.start()
        start_s = time.perf_counter() - t0
        startup = node.reconcile_report
        periodic = await reconcile_all(node, "periodic")
        await node.stop()
        node.close()
    finally:
        await sandbox.stop()
    return {
        "open_orders": n,
        "startup_reconcile_s": startup.duration_s,
        "periodic_reconcile_s": periodic.duration_s,
        "start_incl_connect_s": round(start_s, 3),
        "orders_checked": startup.orders_checked,
        "ok": startup.ok and periodic.ok,
        "reason": startup.reason or periodic.reason,
        "target_s": 2.0,
        "meets_target": max(startup.duration_s, periodic.duration_s) <= 2.0,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--orders", type=int, default=1000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="tg-reconcile-") as tmp:
        print(json.dumps(asyncio.run(bench(args.orders, Path(tmp))), indent=2))


if __name__ == "__main__":
    main()
