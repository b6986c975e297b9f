"""Child process: alerts wired to the database at argv[1] as a node wires them, a webhook at
127.0.0.1:argv[2] that is down; a position opens and its "held unprotected" alert is raised in
the same commit, "ready" is printed and the process waits to be SIGKILLed before delivery."""

from __future__ import annotations

import asyncio
import sys

from tradeguard.alerts.channels import WebhookChannel
from tradeguard.alerts.config import AlertsConfig
from tradeguard.alerts.manager import AlertManager
from tradeguard.alerts.rules import Alert
from tradeguard.node.builder import wire_alerts
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

UNPROTECTED = Alert("arb_held", "Position held unprotected", "1 BTC, no stop", "critical", "held")


async def main() -> None:
    db = Database(sys.argv[1])
    db.migrate()
    storage = Storage(db)
    config = AlertsConfig(enabled=True, max_retries=50)
    hook = WebhookChannel(f"http://127.0.0.1:{sys.argv[2]}/hook", "generic", 1.0)
    manager = AlertManager(config, [hook])
    wire_alerts(manager, storage)
    await manager.start()
    with storage.transaction():
        storage.kv_set("test.position", {"symbol": "BTC/USDT", "qty": "1", "stop": None})
        manager.enqueue(UNPROTECTED)
    print("ready", flush=True)
    await asyncio.sleep(300)


if __name__ == "__main__":
    asyncio.run(main())
