"""The token-unlock bot live on the rehearsal exchange, end to end.

A node subprocess in sandbox mode (the real ccxt client) trades `token_unlock` against an
in-process sandbox replaying the shared ETH/BTC 5-minute candles fast; the calendar is moved
onto the replay by `tradeguard calendar shift --sandbox`. The bot holds ETH, sells before the
unlock, is SIGKILLed inside the window (the market moving on meanwhile), comes back, buys after
the window as `unlock_passed` (its remembered state), then its stop-loss, take-profit and
trailing exits fire. At the end the journal, fills and balances equal the sandbox's records.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.execution.reconcile import REPORT_KEY
from tradeguard.model.order import Order
from tradeguard.risk.config import CEILING_OVERRIDE_PHRASE
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.secrets.vault import ScryptParams, Vault
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

KEY, SECRET, PASSPHRASE = "u" * 64, "s" * 64, "correct horse battery staple"
HOUR = 3_600_000
# The first played bar is the file's 1745th (2018-01-16T03:05Z). From there the recorded prices
# stay inside the exit levels until the window opens half an hour later, and after it closes
# they cross a take-profit or stop-loss level, and the others, within about three hours.
HISTORY = 1744
UNLOCK_AFTER_MS = 90 * 60_000  # the unlock, after the first played bar
LEAD_H, LAG_H = 1, 1
EXITS = {"stop_loss", "take_profit", "trailing_stop"}
SL, TP, TRAIL, ACTIVATE = Decimal(1), Decimal("1.5"), Decimal("0.4"), Decimal("0.8")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _env(tmp: Path) -> dict[str, str]:
    vault = Vault(tmp / "vault.json", kdf=ScryptParams(n=2**14))
    vault.create(PASSPHRASE)
    vault.add("rehearsal", "binance", {"api_key": KEY, "secret": SECRET})
    vault.lock()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TG_")}
    env.update({"TG_VAULT_PATH": str(tmp / "vault.json"), "TG_MASTER_PASSPHRASE": PASSPHRASE})
    return env


def _node_toml(ex: SandboxExchange, db: Path) -> str:
    return f"""
mode = "sandbox"

[node]
database_url = "sqlite:///{db}"
kill_sentinel = "{db.parent / "tg.kill"}"
valuation_asset = "BTC"
log_level = "WARNING"
checkpoint_interval_s = 0.2
reconcile_interval_s = 3600

[reconcile]
balance_sync_interval_s = 0

[[venues]]
name = "rehearsal"
kind = "ccxt"
exchange = "binance"
credentials = "rehearsal"
rest_url = "{ex.rest_url}"
ws_url = "{ex.ws_url}"
symbols = ["ETH/BTC"]

[[strategies]]
id = "unlock"
kind = "token_unlock"
venue = "rehearsal"
symbol = "ETH/BTC"

[strategies.params]
calendar = "rehearsal_calendar.csv"   # next to this file, not in the working directory
lead_h = "{LEAD_H}"
lag_h = "{LAG_H}"
position_pct = "20"
min_order_usd = "0"
stop_loss_pct = "{SL}"
take_profit_pct = "{TP}"
trailing_stop_pct = "{TRAIL}"
trailing_activation_pct = "{ACTIVATE}"
reentry_cooldown_h = "0.5"

[risk]
valuation_asset_usd = "14000"
max_order_notional_pct = "20"
max_order_notional_usd = "5000"
min_order_notional_usd = "0"
max_open_positions = 5
stable_reserve_pct = "0"
min_account_balance_usd = "100"
max_consecutive_losses = 1000
cooldown_after_loss_s = 0
max_drawdown_pct = "50"
daily_loss_limit_pct = "50"
weekly_loss_limit_pct = "50"
max_trades_per_day = 10000
stale_data_s = 3600
ceiling_override_ack = "{CEILING_OVERRIDE_PHRASE}"
"""


async def _tg(args: list[str], env: dict[str, str], cwd: Path, log: Any = None) -> Any:
    out = log if log is not None else asyncio.subprocess.PIPE
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradeguard.cli", *args, env=env, cwd=str(cwd), stdout=out,
        stderr=out if log is not None else asyncio.subprocess.PIPE,
    )  # fmt: skip


async def _until(what: str, check: Any, timeout_s: float, proc: Any = None) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            got = check()
        except Exception:  # the node is writing the schema or a commit: read again
            got = None
        if got:
            return got
        if proc is not None and proc.returncode is not None:
            raise AssertionError(f"the node exited ({proc.returncode}) waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout_s} s{_DIAG[0]()}")
        await asyncio.sleep(0.1)


_DIAG: list[Any] = [lambda: ""]


def _filled(storage: Storage, reason: str) -> list[Order]:
    orders = storage.load_orders(venue="rehearsal")
    return [o for o in orders if o.signal.get("reason") == reason and o.status.value == "filled"]


def _set_speed(ex: SandboxExchange, speed: int) -> None:
    ex.replays[0].set_speed(Decimal(speed))


async def _write_calendar(ex: SandboxExchange, conf: Path, env: dict[str, str]) -> int:
    """The unlock in the file's own time, shifted onto the replay by the CLI; return it shifted."""
    replay = ex.replays[0]
    recorded = replay.bars[HISTORY].ts + UNLOCK_AFTER_MS
    (conf / "recorded.csv").write_text(
        "token,unlock_time_utc,amount,pct_of_supply,source_url,note\n"
        f"ETH,{_iso(recorded)},3000000,3.1,https://example.com/EXAMPLE/eth,EXAMPLE\n"
    )
    shift = await _tg(["calendar", "shift", "recorded.csv", "--sandbox", ex.base_url,
                       "--out", "rehearsal_calendar.csv"], env, conf)  # fmt: skip
    out, err = await shift.communicate()
    assert shift.returncode == 0, err.decode()
    assert f"moved by {replay.shift_ms} ms" in out.decode()
    return recorded + replay.shift_ms


async def _kill_and_restart(ex: SandboxExchange, proc: Any, spawn: Any, storage: Storage) -> Any:
    """SIGKILL the node; the market moves on (slower) while a new one starts and reconciles."""
    _set_speed(ex, 60)
    proc.send_signal(signal.SIGKILL)
    assert await proc.wait() == -signal.SIGKILL
    started = int(time.time() * 1000)
    proc = await spawn()

    def reconciled() -> bool:
        report = storage.kv_get(REPORT_KEY)
        return isinstance(report, dict) and report.get("started_ms", 0) >= started

    await _until("start-up reconciliation", reconciled, 90, proc)
    report = storage.kv_get(REPORT_KEY)
    assert report["ok"], report
    _set_speed(ex, 600)
    return proc


def _check_exit(order: Order, entry_fill: Decimal) -> None:
    """The exit's rule held at the price it fired on, measured from the position's entry."""
    sig = order.signal
    price, entry, best = (Decimal(x) for x in (sig["price"], *sig["position"].values()))
    assert order.reduce_only and order.side.value == "sell"
    # measured from the position's entry: the fill, and any fee dust left by the exit before
    assert abs(entry - entry_fill) / entry_fill < Decimal("0.001"), (sig, entry_fill)
    move = (price - entry) / entry * 100
    if sig["reason"] == "stop_loss":
        assert move <= -SL, sig
    elif sig["reason"] == "take_profit":
        assert move >= TP, sig
    else:
        assert (best - entry) / entry * 100 >= ACTIVATE, sig
        assert (best - price) / best * 100 >= TRAIL, sig


def _agrees_with_the_sandbox(ex: SandboxExchange, storage: Storage) -> None:
    account = ex.account_id(KEY)
    ours = [o for o in ex.engine.orders.values() if o.account_id == account]
    cids = [o.client_order_id for o in ours]
    assert len(cids) == len(set(cids)), "an order reached the sandbox twice"
    journal = {o.client_order_id: o for o in storage.load_orders(venue="rehearsal")}
    assert set(cids) == set(journal), "every sandbox order is journaled, and only those"
    cid_of = {o.order_id: o.client_order_id for o in ours}
    trades = {
        (str(t.trade_id), cid_of[oid])
        for ts in ex.engine.trades.values()
        for t in ts
        for acct, oid in (
            (t.buyer_account, t.buyer_order_id),
            (t.seller_account, t.seller_order_id),
        )
        if acct == account
    }
    fills = storage.load_fills(venue="rehearsal")
    assert {(f.trade_id, f.client_order_id) for f in fills} == trades, "a fill lost or doubled"
    assert len(fills) == len(trades)
    truth = {a: fl + lk for a, (fl, lk) in ex.balances(KEY).items() if fl + lk}
    held = {b.asset: b.free + b.locked for b in storage.load_balances("rehearsal") if b.total}
    # the sandbox books unrounded fees; its API, and so the ledger, speaks to 1e-8
    assert set(held) == set(truth)
    assert all(abs(held[a] - truth[a]) <= Decimal("1e-8") for a in truth), (held, truth)


async def test_unlock_bot_rehearses_live_exits_before_reenters_after_and_survives_sigkill(
    tmp_path: Path, data_dir: Path
) -> None:
    config = SandboxConfig(
        replay=[f"{data_dir / 'candles' / 'ETH_BTC-5m.feather'}:ETH/BTC"],
        replay_speed=Decimal(10),
        replay_history_bars=HISTORY,
    )
    ex = SandboxExchange(config)
    ex.add_account(KEY, SECRET, {"BTC": Decimal(1)})
    await ex.start()
    conf, run_dir = tmp_path / "conf", tmp_path / "elsewhere"
    conf.mkdir()
    run_dir.mkdir()
    env = _env(tmp_path)
    log = (tmp_path / "node.log").open("ab")
    proc: Any = None
    try:
        unlock = await _write_calendar(ex, conf, env)
        (conf / "node.toml").write_text(_node_toml(ex, tmp_path / "tg.db"))

        async def spawn() -> Any:
            return await _tg(["run", "--config", str(conf / "node.toml")], env, run_dir, log)

        proc = await spawn()
        _DIAG[0] = lambda: _diagnose(tmp_path, ex)
        storage = await _until(
            "database", lambda: _open(tmp_path / "tg.db"), 60, proc
        )  # the node made it
        [held] = await _until("entry", lambda: _filled(storage, "outside_unlock_window"), 90, proc)
        # The exit must come inside the hour before the unlock: 30 s of wall time at 120x. At
        # 600x that hour passed in 6 s, and a node held up that long on a busy machine missed it.
        _set_speed(ex, 120)
        [out] = await _until(
            "exit before the unlock", lambda: _filled(storage, "unlock_ahead"), 90, proc
        )
        assert unlock - LEAD_H * HOUR <= out.signal["ts"] < unlock
        # everything held is sold: what was bought less the fee the venue kept in ETH
        assert out.reduce_only and out.filled == held.filled - held.fee
        assert out.signal["unlock"]["time_utc"] == _iso(unlock)

        proc = await _kill_and_restart(ex, proc, spawn, storage)

        def since_exit() -> list[Order]:
            orders = storage.load_orders(venue="rehearsal")
            return sorted((o for o in orders if o.created_ts > out.created_ts),
                          key=lambda o: o.created_ts)  # fmt: skip

        # Back in once a buy fills. A market order goes out as an IOC limit at its slippage
        # bound from the mid: at 600x the price moves every 125 ms, and on a busy machine the
        # re-entry can arrive past its bound and expire; a later buy (an ordinary entry) fills.
        await _until("re-entry", lambda: [o for o in since_exit() if o.filled], 120, proc)
        after = since_exit()
        assert after[0].side.value == "buy" and after[0].signal["reason"] == "unlock_passed"
        assert all(o.signal["ts"] >= unlock + LAG_H * HOUR for o in after), (
            "nothing traded inside the window, before or after the kill"
        )

        def exits() -> list[Order]:
            orders = storage.load_orders(venue="rehearsal")
            done = [o for o in orders if o.signal.get("reason") in EXITS]
            kinds = {o.signal["reason"] for o in done if o.status.value == "filled"}
            return done if kinds == EXITS else []

        await _until("a stop-loss, a take-profit and a trailing stop", exits, 180, proc)
        _set_speed(ex, 1)  # the next price in 75 s: let the order at work finish, then stop
        await _until("no order at work", lambda: not storage.load_orders(open_only=True), 30, proc)
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 60)
        orders = sorted(storage.load_orders(venue="rehearsal"), key=lambda o: o.created_ts)
        # each order filled, or (past its slippage bound in a moving market) expired unfilled
        missed = [o for o in orders if o.status.value != "filled"]
        assert all(o.status.value == "expired" and o.filled == 0 for o in missed), [
            (o.status, o.filled) for o in missed
        ]
        orders = [o for o in orders if o.status.value == "filled"]
        for prev, o in itertools.pairwise(orders):
            if o.signal["reason"] in EXITS:
                assert prev.side.value == "buy"  # every exit closes the buy before it
                _check_exit(o, prev.avg_price)
        _agrees_with_the_sandbox(ex, storage)
    finally:
        if proc is not None and proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        log.close()
        await ex.stop()


def _diagnose(tmp: Path, ex: SandboxExchange) -> str:
    """What the node journaled and logged, and where the replay is (for a failure message)."""
    lines = []
    storage = _open(tmp / "tg.db")
    for o in storage.load_orders(venue="rehearsal") if storage else []:
        lines.append(f"{o.side.value} {o.status.value} {o.signal} {o.reason}")
    r = ex.replays[0]
    lines.append(f"replay played {r.played} bars, market at {_iso(r.bar_time(r.played))}")
    lines += (tmp / "node.log").read_text(errors="replace").splitlines()[-30:]
    return "\n" + "\n".join(lines)


def _open(db: Path) -> Storage | None:
    if not db.exists():
        return None
    storage = Storage(Database(f"sqlite:///{db}"))
    storage.kv_get("node.heartbeat")
    return storage
