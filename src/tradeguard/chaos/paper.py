"""Kill the paper replay with SIGKILL at random moments; its ledger must equal one clean run's.

```python
result = run_paper_chaos(PaperChaosSettings(workdir=Path("/tmp/x"), kills=20))
assert result.clean, result.to_json()
```

Each round replays the same data in a fresh database: `tradeguard run --until-end` in a child
process, SIGKILLed after a random delay, started again, until the kills of that round are spent;
then one last run to the end. With `commit_kills_pct` a share of the kills land exactly on a commit
instead: the child kills itself just before (work since the last commit is lost) or just after
its n-th commit of the run (`python -m tradeguard.chaos.paper --kill-at N[b|a] ...`).
The round's orders, fills, positions and balances are then compared value for value with those
of a run never interrupted (client order ids aside: they are random per process by design).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tradeguard.backtest.replay_state import REPLAY_STATE_KEY
from tradeguard.config import default_config
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

_RUN_TIMEOUT_S = 600.0
# Two strategies resting trigger orders that fire often (chaos.trigger_strategy), for
# `strategies=`: kills then come while fired orders wait for their fill.
_TRIGGERS = f"{Path(__file__).with_name('trigger_strategy.py')}:StopEveryEntry"
TRIGGER_STRATEGIES: list[tuple[str, dict[str, str | int]]] = [
    (_TRIGGERS, {"stop_pct": "0.01", "every": 3}),
    (_TRIGGERS, {"stop_pct": "0.02", "every": 2, "amount": "0.001"}),
]
_IDLE_ROUNDS_MAX = 5  # rounds in a row without a kill before giving up


@dataclass
class PaperChaosSettings:
    """What to replay and how to kill it."""

    workdir: Path
    kills: int
    seed: int = 7
    kills_per_round: int = 10
    min_run_s: float = 0.3
    max_run_s: float | None = None  # None: 95 % of the clean run's wall time
    commit_kills_pct: float = 0.0  # share of kills placed on a commit rather than a delay
    max_commit: int = 8  # commit kills pick the n-th commit of a run, n in [1, max_commit]
    # The kills of the first round, in order, instead of drawn ones: a number is a delay in
    # seconds, a string a commit ("2b": just before the run's 2nd commit, "2a": just after).
    kill_plan: list[float | str] = field(default_factory=list)
    data_path: Path | None = None  # None: the built-in quick-start data
    checkpoint_every: int | None = None  # None: the config default
    commit_interval_s: float | None = None  # node.replay_commit_interval_s; None: the default
    # Strategies instead of the built-in one, on the built-in paper venue and symbol: each a
    # (kind, params) pair, kind "file.py:Class" or a registered kind, params strings and numbers.
    strategies: list[tuple[str, dict[str, str | int]]] = field(default_factory=list)


@dataclass
class PaperChaosResult:
    """Kills done, rounds compared, and every difference found (none when clean)."""

    kills: int = 0
    rounds: int = 0
    runs_finished_early: int = 0
    mismatched_rounds: int = 0
    fills_before_creation: int = 0
    differences: list[str] = field(default_factory=list)
    orders: int = 0
    fills: int = 0
    closed_positions: int = 0
    balances: dict[str, str] = field(default_factory=dict)
    # Kills whose last commit held paper trigger orders that had fired but not yet filled.
    kills_with_fired_triggers: int = 0
    elapsed_s: float = 0.0

    @property
    def clean(self) -> bool:
        return self.mismatched_rounds == 0 and self.rounds > 0 and not self.fills_before_creation

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["clean"] = self.clean
        out["differences"] = self.differences[:20]
        return out


def ledger_snapshot(storage: Storage) -> dict[str, list[tuple[Any, ...]]]:
    """Orders, fills, positions and balances as sorted rows, client order ids left out."""
    orders = sorted(
        tuple(sorted((k, str(v)) for k, v in _order_dict(o).items())) for o in storage.load_orders()
    )
    fills = sorted(
        (f.ts, f.trade_id, f.venue, f.symbol, f.side.value, str(f.price), str(f.amount),
         str(f.fee), f.fee_asset, f.liquidity.value, f.venue_order_id)
        for f in storage.load_fills()
    )  # fmt: skip
    positions = sorted(
        tuple(sorted((k, str(v)) for k, v in row.items() if k != "id"))
        for row in storage.load_position_rows()
    )
    # The ledger figures; when and at what valuation the row was last written is bookkeeping.
    balances = sorted(
        (b.venue, b.asset, b.free.normalize(), b.locked.normalize())
        for b in storage.load_balances()
    )
    return {"orders": orders, "fills": fills, "positions": positions, "balances": balances}


def _order_dict(o: Any) -> dict[str, Any]:
    d = {k: getattr(o, k) for k in o.__dataclass_fields__ if k not in ("client_order_id",)}
    d["trade_ids"] = sorted(o.trade_ids)
    return d


def diff_snapshots(want: dict[str, list[Any]], got: dict[str, list[Any]]) -> list[str]:
    """Describe every table whose rows differ: counts, then the first differing row."""
    out = []
    for table, rows in want.items():
        other = got.get(table, [])
        if rows == other:
            continue
        first = next(
            (i for i, (a, b) in enumerate(zip(rows, other, strict=False)) if a != b),
            min(len(rows), len(other)),
        )
        a = rows[first] if first < len(rows) else None
        b = other[first] if first < len(other) else None
        out.append(f"{table}: {len(other)} rows, want {len(rows)}; row {first}: {b} != {a}")
    return out


def fills_before_creation(storage: Storage) -> list[str]:
    """Trade ids of fills at a market time before their order was created (must be none)."""
    created = {o.client_order_id: o.created_ts for o in storage.load_orders()}
    return [f.trade_id for f in storage.load_fills() if f.ts < created.get(f.client_order_id, f.ts)]


def _snapshot(db_path: Path) -> tuple[dict[str, list[Any]], list[str]]:
    db = Database(f"sqlite:///{db_path}")
    try:
        storage = Storage(db)
        return ledger_snapshot(storage), fills_before_creation(storage)
    finally:
        db.dispose()


def _write_config(settings: PaperChaosSettings) -> Path | None:
    node = []
    if settings.checkpoint_every is not None:
        node.append(f"checkpoint_every = {settings.checkpoint_every}")
    if settings.commit_interval_s is not None:
        node.append(f"replay_commit_interval_s = {settings.commit_interval_s}")
    lines = ["[node]", *node, ""] if node else []
    if settings.data_path is not None:
        lines += [
            "[[data]]",
            f'path = "{settings.data_path}"',
            'symbol = "BTC/USDT"',
            'venue = "paper"',
        ]
    if settings.strategies:
        lines += _strategy_lines(settings)
    if not lines:
        return None
    path = settings.workdir / "paper_chaos.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _strategy_lines(settings: PaperChaosSettings) -> list[str]:
    """The built-in paper venue and `settings.strategies` on it."""
    inst = default_config()["venues"][0]["instruments"][0]
    lines = [
        "[[venues]]", 'name = "paper"', 'kind = "paper"', 'balances = { USDT = "10000" }',
        "[[venues.instruments]]", *(f'{k} = "{v}"' for k, v in inst.items()),
        # Strategies that trade every few minutes: no cooldowns, no losing-streak breaker.
        "[risk]", "cooldown_after_trade_s = 0", "cooldown_after_loss_s = 0",
        "max_consecutive_losses = 1000", "max_trades_per_day = 100000",
    ]  # fmt: skip
    for n, (kind, params) in enumerate(settings.strategies, 1):
        values = ", ".join(f"{k} = {json.dumps(v)}" for k, v in params.items())
        lines += [
            "[[strategies]]", f'id = "chaos{n}"', f"kind = {json.dumps(kind)}",
            'venue = "paper"', 'symbol = "BTC/USDT"', f"params = {{ {values} }}",
        ]  # fmt: skip
    return lines


def fired_triggers(db_path: Path) -> int:
    """Paper trigger orders the database's last commit holds as fired and not yet filled
    (read only: the next run must find the database as the kill left it)."""
    if not db_path.exists():
        return 0
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM kv_state WHERE key = ?", (REPLAY_STATE_KEY,))
        found = row.fetchone()
    except sqlite3.Error:  # killed before the schema was complete: nothing committed yet
        return 0
    finally:
        conn.close()
    value = json.loads(found[0]) if found else None
    state = json.loads(value) if isinstance(value, str) else value
    fired = state.get("paper_triggered") if isinstance(state, dict) else None
    return sum(len(ids) for ids in (fired or {}).values())


def _command(db_path: Path, config: Path | None, kill_at: str = "") -> list[str]:
    if kill_at:
        cmd = [sys.executable, "-m", "tradeguard.chaos.paper", "--kill-at", kill_at]
    else:
        cmd = [sys.executable, "-m", "tradeguard.cli"]
    cmd += ["run", "--until-end", "--json", "--db", f"sqlite:///{db_path}"]
    if config is not None:
        cmd += ["--config", str(config)]
    return cmd


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _run_to_end(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=_RUN_TIMEOUT_S, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"replay exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")


def _run_and_kill(cmd: list[str], cwd: Path, after_s: float, self_kill: bool = False) -> bool:
    """Start a replay, SIGKILL it after `after_s`; False if it had already finished.

    With `self_kill` the child kills itself; exit by SIGKILL then counts as the kill.
    """
    proc = subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        proc.wait(timeout=after_s)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return True
    finally:
        if proc.stderr is not None:
            err = proc.stderr.read()
            proc.stderr.close()
    if self_kill and proc.returncode == -signal.SIGKILL:
        return True
    if proc.returncode != 0:
        raise RuntimeError(f"replay exited {proc.returncode}: {err.strip()[-2000:]}")
    return False


def run_paper_chaos(settings: PaperChaosSettings) -> PaperChaosResult:
    """Run the rounds; compare each round's final ledger with the clean run's."""
    started = time.monotonic()
    rng = random.Random(settings.seed)
    work = settings.workdir
    work.mkdir(parents=True, exist_ok=True)
    config = _write_config(settings)
    result = PaperChaosResult()
    clean_db = work / "clean.db"
    _remove_db(clean_db)
    clean_started = time.monotonic()
    _run_to_end(_command(clean_db, config), work)
    longest = settings.max_run_s or 0.95 * (time.monotonic() - clean_started)
    longest = max(longest, settings.min_run_s + 0.1)
    want, early = _snapshot(clean_db)
    result.fills_before_creation += len(early)
    result.orders, result.fills = len(want["orders"]), len(want["fills"])
    result.closed_positions = sum(1 for p in want["positions"] if ("status", "closed") in p)
    result.balances = {asset: str(free + locked) for _, asset, free, locked in want["balances"]}
    idle = 0
    while result.kills < settings.kills:
        result.rounds += 1
        db = work / f"round{result.rounds}.db"
        _remove_db(db)
        cmd = _command(db, config)
        in_round = min(settings.kills_per_round, settings.kills - result.kills)
        plan = list(settings.kill_plan) if result.rounds == 1 else []
        if plan:
            in_round = len(plan)
        done = 0
        while done < in_round:
            kill = plan[done] if plan else _draw_kill(rng, settings, longest)
            run, delay = cmd, _RUN_TIMEOUT_S
            if isinstance(kill, str):
                run = _command(db, config, kill)
            else:
                delay = kill
            if _run_and_kill(run, work, delay, self_kill=run is not cmd):
                done += 1
                result.kills_with_fired_triggers += fired_triggers(db) > 0
            else:
                result.runs_finished_early += 1
                break
        result.kills += done
        idle = idle + 1 if done == 0 else 0
        if idle == _IDLE_ROUNDS_MAX:
            # Runs keep finishing before their kill: the delays are too long for this data.
            result.differences.append("replays finish before their kills; shorten max_run_s")
            result.mismatched_rounds += 1
            break
        _run_to_end(cmd, work)
        got, early = _snapshot(db)
        result.fills_before_creation += len(early)
        diffs = diff_snapshots(want, got)
        if early:
            diffs.append(f"fills before their order's creation: {early[:5]}")
        if diffs:
            result.mismatched_rounds += 1
            result.differences += [f"round {result.rounds}: {d}" for d in diffs]
        else:  # a mismatched round's database is kept for a look
            _remove_db(db)
    result.elapsed_s = round(time.monotonic() - started, 1)
    return result


def _draw_kill(rng: random.Random, settings: PaperChaosSettings, longest: float) -> float | str:
    delay = rng.uniform(settings.min_run_s, longest)
    if rng.random() * 100 < settings.commit_kills_pct:
        return f"{rng.randint(1, settings.max_commit)}{rng.choice('ba')}"
    return delay


def _kill_at_commit(spec: str) -> None:
    """Make this process SIGKILL itself just before ("b") or after ("a") its n-th commit."""
    n, when = int(spec[:-1]), spec[-1]
    original = Storage.commit_unit
    seen = [0]

    def commit(storage: Storage) -> bool:
        if not storage.unit_dirty:
            return original(storage)
        seen[0] += 1
        if seen[0] == n and when == "b":
            os.kill(os.getpid(), signal.SIGKILL)
        done = original(storage)
        if seen[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return done

    Storage.commit_unit = commit  # type: ignore[method-assign,assignment]


if __name__ == "__main__":
    import runpy

    if sys.argv[1:2] == ["--kill-at"]:
        _kill_at_commit(sys.argv[2])
        del sys.argv[1:3]
    runpy.run_module("tradeguard.cli", run_name="__main__", alter_sys=True)
