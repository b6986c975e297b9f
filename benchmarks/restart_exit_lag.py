"""How long after a crash restart a protective stop rests again: one JSON object.

    .venv/bin/python benchmarks/restart_exit_lag.py

A node on the local Binance-compatible sandbox (real ccxt client) holds a position with a
target and a stop; a partial fill of the target has it shrink the stop, and it is SIGKILLed
once the larger stop is cancelled and the smaller one not yet placed
(`tests/exit_siblings_crash_child.py`, moment `cancel_seen`). A fresh process then starts a
node on the same database; every figure is wall time in seconds from that process's spawn
(`built`: the node constructed, imports and the vault's key derivation included;
`reconciled`: start-up reconciliation done; `sent` / `accepted`: the smaller stop's
submission and the venue's acceptance), plus `reconciled_to_accepted_s`. Wall time on a busy
machine varies run to run; the gap from reconciliation to the stop is what the node controls.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))


async def _child(cfg_file: str) -> None:
    """The restarted node: print when each step was reached, then stop."""
    from tradeguard.config import Config
    from tradeguard.model.events import EventKind
    from tradeguard.node import TradingNode

    cfg = Config.model_validate(json.loads(Path(cfg_file).read_text()))
    node = TradingNode(cfg)
    print(json.dumps({"step": "built", "t": time.time()}), flush=True)
    steps = {EventKind.RECONCILED: "reconciled", EventKind.ORDER_SUBMITTED: "sent",
             EventKind.ORDER_ACCEPTED: "accepted"}  # fmt: skip
    node.bus.subscribe(
        lambda e: (
            print(json.dumps({"step": steps[e.kind], "t": time.time()}), flush=True)
            if e.kind in steps
            else None
        )
    )
    await node.start()
    await node.run_live(duration_s=3)


async def _measure(tmp: Path) -> dict[str, float]:
    from live_support import ALICE_KEY, ALICE_SECRET, PASSPHRASE
    from native_exits_support import native_config
    from test_exit_siblings_crash import _killed_mid_shrink
    from tradeguard.sandbox.testing import seeded_exchange
    from tradeguard.secrets.vault import ScryptParams, Vault

    vault = Vault(tmp / "vault.json", kdf=ScryptParams(n=2**14))
    vault.create(PASSPHRASE)
    vault.add("alice", "binance", {"api_key": ALICE_KEY, "secret": ALICE_SECRET})
    vault.lock()
    os.environ.update(TG_VAULT_PATH=str(tmp / "vault.json"), TG_MASTER_PASSPHRASE=PASSPHRASE)
    async with seeded_exchange() as ex:
        cfg = native_config(tmp, ex.rest_url, ex.ws_url)
        await _killed_mid_shrink(tmp, ex, cfg, "cancel_seen")
        spawn = time.time()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--child", str(tmp / "config.json"),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert proc.stdout is not None
        at: dict[str, float] = {}
        while line := await proc.stdout.readline():
            if line.startswith(b"{"):
                doc = json.loads(line)
                at.setdefault(doc["step"], round(doc["t"] - spawn, 3))
        await proc.wait()
    figures = {f"{step}_s": at[step] for step in ("built", "reconciled", "sent", "accepted")}
    figures["reconciled_to_accepted_s"] = round(at["accepted"] - at["reconciled"], 3)
    return figures


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        asyncio.run(_child(sys.argv[2]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(_measure(Path(tmp))), indent=1))


if __name__ == "__main__":
    main()
