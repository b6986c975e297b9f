"""Kill-and-restart rehearsal: a node trading on the local sandbox, SIGKILLed at random moments.

```python
result = asyncio.run(run_chaos(ChaosSettings(workdir=Path("/tmp/chaos"), kills=20)))
assert result.clean, result.to_json()
```

The sandbox runs in this process with seeded random faults (5xx answers, lost order answers,
partial fills, duplicated and dropped websocket messages, latency); the node runs as a separate
`tradeguard run` process with the `rehearsal` strategy, which places and (through order timeouts)
cancels small orders several times a second. Each run is killed with SIGKILL, either during
start-up or a random delay after its start-up reconciliation, and a new process is started on the
same database. A last run with trading disabled cancels what is left and reconciles; then the
sandbox's own records are compared with the database: duplicate client order ids, executions
missing from `fills`, balances, and orders left in an unresolved state.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

API_KEY = "chaos-key"
API_SECRET = "chaos-secret"
PASSPHRASE = "chaos rehearsal passphrase"
VENUE = "sandbox"
SYMBOL = "BTC/USDT"
MID = Decimal("50000")


@dataclass
class ChaosSettings:
    """One experiment; every random draw (kill moments, faults) derives from `seed`."""

    workdir: Path
    kills: int = 20
    seed: int = 7
    # the node is killed this long after its start-up reconciliation completed
    min_run_s: float = 0.2
    max_run_s: float = 2.0
    # share of kills that land during start-up (before reconciliation completes)
    startup_kill_pct: float = 20.0
    # chance per run that the next order placement is executed but its answer dropped
    drop_answer_pct: float = 50.0
    faults: dict[str, Any] = field(
        default_factory=lambda: {
            "http_5xx_rate": 0.03,
            "partial_fills": 3,
            "duplicate_ws_messages": True,
            "disconnect_ws_every_n": 150,
            "latency_ms": 2,
        }
    )
    startup_timeout_s: float = 60.0
    final_run_s: float = 3.0
    order_timeout_s: float = 1.0
    interval_ms: int = 150


@dataclass
class ChaosResult:
    """What the experiment found; `clean` when every count that must be zero is zero."""

    kills: int = 0
    startup_kills: int = 0
    duplicates: int = 0
    missing_fills: int = 0
    balance_mismatches: int = 0
    unknown_orders: int = 0
    mean_recovery_s: float = 0.0
    max_recovery_s: float = 0.0
    mean_reconcile_s: float = 0.0
    failed_startup_reconciliations: int = 0
    refused_starts: int = 0
    orders: int = 0
    sandbox_orders: int = 0
    fills: int = 0
    sandbox_trades: int = 0
    final_reconcile_ok: bool = False
    final_reconcile_reason: str = ""
    elapsed_s: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return (
            self.duplicates == 0
            and self.missing_fills == 0
            and self.balance_mismatches == 0
            and self.unknown_orders == 0
            and self.final_reconcile_ok
        )

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["clean"] = self.clean
        return out


async def run_chaos(settings: ChaosSettings) -> ChaosResult:
    """Run the experiment and compare the sandbox's records with the database."""
    from tradeguard.sandbox import SandboxConfig, SandboxExchange

    started = time.perf_counter()
    rng = random.Random(settings.seed)
    work = settings.workdir
    work.mkdir(parents=True, exist_ok=True)
    db_path = work / "chaos.db"
    sandbox = SandboxExchange(SandboxConfig(seed=settings.seed))
    sandbox.faults.update({"seed": settings.seed})
    sandbox.add_market("BTCUSDT", "BTC", "USDT", "0.01", "0.00001", "0.00001", "5")
    sandbox.add_account(API_KEY, API_SECRET, {"USDT": Decimal("1000000"), "BTC": Decimal("10")})
    _set_house_book(sandbox, MID)
    await sandbox.start()
    mover = asyncio.create_task(_move_book(sandbox, random.Random(settings.seed + 1)))
    result = ChaosResult()
    recoveries: list[float] = []
    reconciles: list[float] = []
    try:
        env = _node_env(work)
        trading = _write_config(work / "node.toml", sandbox, db_path, settings, trading=True)
        final = _write_config(work / "final.toml", sandbox, db_path, settings, trading=False)
        log = (work / "node.log").open("ab")
        storage = None
        run = 0
        while result.kills < settings.kills:
            run += 1
            sandbox.faults.update(settings.faults)
            if rng.random() * 100 < settings.drop_answer_pct:
                sandbox.faults.update({"drop_response_after_execute": 1})
            spawn_ms = int(time.time() * 1000)
            proc = await _spawn(trading, env, log, run)
            early = rng.random() * 100 < settings.startup_kill_pct
            if early:
                await asyncio.sleep(rng.uniform(0.1, 1.5))
                result.startup_kills += 1
            else:
                if storage is None:
                    storage = await _open_storage(db_path, proc, settings.startup_timeout_s)
                report = await _startup_report(storage, spawn_ms, proc, settings)
                if report is None:
                    # The node refused to start (a venue call failed before reconciliation) and
                    # said why on its way out: start it again, as an operator would.
                    result.refused_starts += 1
                    if result.refused_starts > settings.kills:
                        raise RuntimeError("the node refused to start too often (see node.log)")
                    continue
                recoveries.append((report["finished_ms"] - spawn_ms) / 1000)
                reconciles.append(float(report.get("duration_s", 0.0)))
                if not report["ok"]:
                    result.failed_startup_reconciliations += 1
                await asyncio.sleep(rng.uniform(settings.min_run_s, settings.max_run_s))
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
            await proc.wait()
            result.kills += 1
        sandbox.faults.reset()
        # The last run trades nothing: its order timeouts cancel what is left, and it reconciles
        # at start-up and once more before it stops.
        exits = []
        for extra, duration in ((1, settings.final_run_s), (2, 0.1)):
            proc = await _spawn(final, env, log, run + extra, duration_s=duration)
            exits.append(await asyncio.wait_for(proc.wait(), settings.startup_timeout_s + duration))
        log.close()
        if storage is None:
            storage = await _open_storage(db_path, None, settings.startup_timeout_s)
        _compare(sandbox, storage, result)
        result.details["final_run_exit_codes"] = exits
    finally:
        mover.cancel()
        await asyncio.gather(mover, return_exceptions=True)
        await sandbox.stop()
    if recoveries:
        result.mean_recovery_s = round(sum(recoveries) / len(recoveries), 3)
        result.max_recovery_s = round(max(recoveries), 3)
        result.mean_reconcile_s = round(sum(reconciles) / len(reconciles), 4)
    result.elapsed_s = round(time.perf_counter() - started, 2)
    return result


# the node process ------------------------------------------------------------------------------
def _node_env(work: Path) -> dict[str, str]:
    from tradeguard.secrets.vault import ScryptParams, Vault

    vault_path = work / "vault.json"
    if not vault_path.exists():
        vault = Vault(vault_path, kdf=ScryptParams(n=2**14))
        vault.create(PASSPHRASE)
        vault.add("chaos", "binance", {"api_key": API_KEY, "secret": API_SECRET})
        vault.lock()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TG_")}
    env.update({"TG_VAULT_PATH": str(vault_path), "TG_MASTER_PASSPHRASE": PASSPHRASE})
    return env


def _write_config(
    path: Path, sandbox: Any, db_path: Path, s: ChaosSettings, *, trading: bool
) -> Path:
    from tradeguard.risk.config import CEILING_OVERRIDE_PHRASE

    params = {
        "order_usd": "12",
        "interval_ms": s.interval_ms,
        "max_open": 4,
        "cross_pct": 40,
        "rest_bps": 50,
        "cross_side": "buy",
        "seed": s.seed,
    }
    text = f"""
mode = "sandbox"

[node]
database_url = "sqlite:///{db_path}"
kill_sentinel = "{path.parent / "tg.kill"}"
log_level = "WARNING"
checkpoint_interval_s = 0.5
reconcile_interval_s = {2.0 if trading else max(0.5, s.final_run_s / 2)}
kill_poll_interval_s = 0.2

[reconcile]
call_attempts = 8
fills_lookback_s = 30

[risk]
max_order_notional_usd = 100
min_order_notional_usd = 0
max_trades_per_day = 1000000
max_orders_per_s = 50
max_open_positions = 1000
max_portfolio_heat_pct = 100
stable_reserve_pct = 0
min_account_balance_usd = 0
cooldown_after_loss_s = 0
max_consecutive_losses = 1000
max_drawdown_pct = 100
daily_loss_limit_usd = 1000000
daily_loss_limit_pct = 100
weekly_loss_limit_usd = 1000000
weekly_loss_limit_pct = 100
venue_error_threshold = 1000
price_band_pct = 5
# sandbox money only: the loose limits above keep the risk engine out of the experiment's way
ceiling_override_ack = "{CEILING_OVERRIDE_PHRASE}"

[[venues]]
name = "{VENUE}"
kind = "ccxt"
exchange = "binance"
credentials = "chaos"
rest_url = "{sandbox.rest_url}"
ws_url = "{sandbox.ws_url}"
symbols = ["{SYMBOL}"]

[[strategies]]
id = "churn"
kind = "rehearsal"
venue = "{VENUE}"
symbol = "{SYMBOL}"
enabled = {"true" if trading else "false"}
order_timeout_s = {s.order_timeout_s}
replace_on_timeout = false
params = {json.dumps(params).replace('": ', '" = ')}
"""
    path.write_text(text)
    return path


async def _spawn(
    config: Path, env: dict[str, str], log: Any, run: int, duration_s: float | None = None
) -> asyncio.subprocess.Process:
    log.write(f"\n==== run {run} ====\n".encode())
    log.flush()
    args = [sys.executable, "-m", "tradeguard.cli", "run", "--config", str(config)]
    if duration_s is not None:
        args += ["--duration", str(duration_s)]
    return await asyncio.create_subprocess_exec(
        *args, env=env, stdout=log, stderr=log, cwd=str(config.parent)
    )


async def _open_storage(db_path: Path, proc: Any, timeout_s: float) -> Any:
    from tradeguard.storage.db import Database
    from tradeguard.storage.repository import Storage

    deadline = time.monotonic() + timeout_s
    while True:
        if db_path.exists():
            db = None
            try:
                db = Database(f"sqlite:///{db_path}")
                storage = Storage(db)
                storage.kv_get("node.heartbeat")
                return storage
            except Exception:  # the node is still creating the schema
                if db is not None:
                    db.dispose()  # or each attempt left its checkpoint thread running
        if proc is not None and proc.returncode is not None:
            raise RuntimeError(f"node exited with {proc.returncode} before creating {db_path}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{db_path} not created within {timeout_s}s")
        await asyncio.sleep(0.05)


async def _startup_report(
    storage: Any, spawn_ms: int, proc: Any, s: ChaosSettings
) -> dict[str, Any] | None:
    from tradeguard.execution.reconcile import REPORT_KEY

    deadline = time.monotonic() + s.startup_timeout_s
    while True:
        try:
            report = storage.kv_get(REPORT_KEY)
        except Exception:
            report = None  # a write in progress; read again
        if isinstance(report, dict) and report.get("started_ms", 0) >= spawn_ms:
            return report
        if proc.returncode is not None:
            return None
        if time.monotonic() > deadline:
            raise TimeoutError(f"no start-up reconciliation within {s.startup_timeout_s}s")
        await asyncio.sleep(0.02)


# the market ------------------------------------------------------------------------------------
def _set_house_book(sandbox: Any, mid: Decimal) -> None:
    tick = Decimal("0.01")
    bid = (mid - 5).quantize(tick)
    ask = (mid + 5).quantize(tick)
    sandbox.set_book(
        "BTCUSDT",
        bids=[(bid, Decimal(5)), (bid - 5, Decimal(10))],
        asks=[(ask, Decimal(5)), (ask + 5, Decimal(10))],
    )


async def _move_book(sandbox: Any, rng: random.Random) -> None:
    """Wiggle the house quotes (within 0.1% of MID) so the node sees a stream of quotes."""
    while True:
        await asyncio.sleep(0.05)
        drift = Decimal(str(round(rng.uniform(-0.001, 0.001), 6)))
        _set_house_book(sandbox, MID * (1 + drift))


# the verdict -----------------------------------------------------------------------------------
def _compare(sandbox: Any, storage: Any, result: ChaosResult) -> None:
    from tradeguard.execution.reconcile import REPORT_KEY

    account = sandbox.account_id(API_KEY)
    engine = sandbox.engine
    ours = [o for o in engine.orders.values() if o.account_id == account]
    result.sandbox_orders = len(ours)
    by_cid: dict[str, int] = {}
    for o in ours:
        by_cid[o.client_order_id] = by_cid.get(o.client_order_id, 0) + 1
    dupes = {cid: n for cid, n in by_cid.items() if n > 1}
    result.duplicates = sum(n - 1 for n in dupes.values())

    cid_of = {o.order_id: o.client_order_id for o in ours}
    expected: set[tuple[str, str]] = set()
    for trades in engine.trades.values():
        for t in trades:
            if t.buyer_account == account:
                expected.add((str(t.trade_id), cid_of.get(t.buyer_order_id, "")))
            if t.seller_account == account:
                expected.add((str(t.trade_id), cid_of.get(t.seller_order_id, "")))
    fills = storage.load_fills(venue=VENUE)
    stored = {(f.trade_id, f.client_order_id) for f in fills}
    missing = sorted(expected - stored)
    result.sandbox_trades = len(expected)
    result.fills = len(fills)
    result.missing_fills = len(missing)

    truth = {a: (free, locked) for a, (free, locked) in sandbox.balances(API_KEY).items()}
    db = {b.asset: (b.free, b.locked) for b in storage.load_balances(VENUE)}
    zero = (Decimal(0), Decimal(0))
    mismatched = {
        a: {
            "sandbox": [str(x) for x in truth.get(a, zero)],
            "db": [str(x) for x in db.get(a, zero)],
        }
        for a in sorted(set(truth) | set(db))
        if truth.get(a, zero) != db.get(a, zero)
    }
    result.balance_mismatches = len(mismatched)

    orders = storage.load_orders(venue=VENUE)
    result.orders = len(orders)
    in_flight = [o.client_order_id for o in orders if o.status.value == "submitted"]
    report = storage.kv_get(REPORT_KEY) or {}
    unknown = sorted(set(in_flight) | set(report.get("unknown_orders", [])))
    result.unknown_orders = len(unknown)
    result.final_reconcile_ok = bool(report.get("ok"))
    result.final_reconcile_reason = str(report.get("reason", ""))

    # Not part of the verdict, but worth seeing: journal states that disagree with the venue.
    venue_open = {o.client_order_id for o in ours if o.status in ("NEW", "PARTIALLY_FILLED")}
    journal_open = {o.client_order_id for o in orders if o.is_open}
    filled_of = {o.client_order_id: o.executed_qty for o in ours}
    qty_mismatch = [
        o.client_order_id
        for o in orders
        if o.client_order_id in filled_of and filled_of[o.client_order_id] != o.filled
    ]
    result.details = {
        "duplicate_client_order_ids": dupes,
        "missing_fills": missing[:20],
        "balances": mismatched,
        "unknown_orders": unknown[:20],
        "open_on_venue_not_in_journal": sorted(venue_open - journal_open)[:20],
        "open_in_journal_not_on_venue": sorted(journal_open - venue_open)[:20],
        "filled_amount_mismatches": qty_mismatch[:20],
    }
