"""A paper replay of a 1m and a 5m file, SIGKILLed right after the commit of a 5m bar, then
resumed, ends as the run never stopped: same orders, fills, positions, balances, strategy
state and run figures.

The replay hands the 5m bar opening at 10:00 over after the 1m bars opening up to 10:04 (by
close time). The resume used to find its cursor (the bar's open time) by bisecting open times
that are not in order then: it took the run up again at the 1m bar of 10:01 and replayed the
5m bar a second time: the strategy counted it twice (and traded on other bars from then on),
the run figures counted five candles twice.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cli_support import run_cli
from node_support import BTC_FILE
from test_mark_guard_resume import _outcome
from tradeguard.backtest.frames import parse_date
from tradeguard.chaos.paper import diff_snapshots
from tradeguard.config import default_config

ROWS = 300

COUNTED = """
from decimal import Decimal

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy


class Counted(Strategy):
    \"\"\"Counts its bars (kept in its state); on every second one buys 0.001 at market when
    flat, sells it back when held.\"\"\"

    bars = 0

    def state(self):
        return {"bars": self.bars}

    def restore(self, state):
        self.bars = int(state.get("bars", 0))
        self.restored_exactly = True  # no warm-up: the count is whole

    def on_candle(self, candle):
        self.bars += 1
        ctx = self.ctx
        if self.bars % 2 or ctx is None or ctx.open_order_count(self.id, self.symbol):
            return
        held = ctx.position(self.id, self.venue, self.symbol).quantity
        side = Side.SELL if held > 0 else Side.BUY
        self.emit(OrderIntent(self.id, self.venue, self.symbol, side, held or Decimal("0.001"),
                              OrderType.MARKET, reduce_only=held > 0))
"""

KILL_CHILD = """
import os, signal, sys

import tradeguard.node.checkpoint as ckpt
from tradeguard.cli import run

at_ts = int(sys.argv.pop(1))
commit = ckpt.commit_candle


def commit_then_die(node, candles, i):
    commit(node, candles, i)
    if candles[i].symbol == "XBT/USDT" and candles[i].ts >= at_ts:
        os.kill(os.getpid(), signal.SIGKILL)


ckpt.commit_candle = commit_then_die
sys.argv[0] = "tradeguard"
run()
"""


def _config(tmp: Path, data_dir: Path) -> Path:
    lines = (data_dir / BTC_FILE).read_text().splitlines()[: ROWS + 1]
    one = tmp / "BTC_USDT_1m.csv"
    one.write_text("\n".join(lines) + "\n", encoding="utf-8")
    five = tmp / "XBT_USDT_5m.csv"  # every fifth 1m row taken as a 5m bar
    five.write_text("\n".join([lines[0], *lines[1::5]]) + "\n", encoding="utf-8")
    (tmp / "counted.py").write_text(COUNTED, encoding="utf-8")
    inst = default_config()["venues"][0]["instruments"][0]
    text = ["[node]", "replay_commit_interval_s = 0", "checkpoint_every = 100000"]
    for symbol, path in (("BTC/USDT", one), ("XBT/USDT", five)):
        text += ["[[data]]", f'path = "{path}"', f'symbol = "{symbol}"', 'venue = "paper"']
    text += ["[[venues]]", 'name = "paper"', 'kind = "paper"', 'balances = { USDT = "50000" }']
    for symbol in ("BTC/USDT", "XBT/USDT"):
        fields = [f'{k} = "{v}"' for k, v in inst.items() if k != "symbol"]
        text += ["[[venues.instruments]]", *fields, f'symbol = "{symbol}"']
    text += ["[risk]", "cooldown_after_loss_s = 0", "max_consecutive_losses = 1000",
             "max_trades_per_day = 100000", "stable_reserve_pct = 0",
             "[[strategies]]", 'id = "counted"', f'kind = "{tmp / "counted.py"}:Counted"',
             'venue = "paper"', 'symbol = "XBT/USDT"']  # fmt: skip
    cfg = tmp / "run.toml"
    cfg.write_text("\n".join(text) + "\n", encoding="utf-8")
    (tmp / "kill_child.py").write_text(KILL_CHILD, encoding="utf-8")
    return cfg


def _killed(cfg: Path, db: Path, kill_at: int) -> subprocess.CompletedProcess[str]:
    """A replay in its own process, SIGKILLed right after its commit of the bar at `kill_at`."""
    argv = [sys.executable, str(cfg.parent / "kill_child.py"), str(kill_at), "run",
            "--until-end", "--json", "--db", f"sqlite:///{db}", "--config", str(cfg)]  # fmt: skip
    return subprocess.run(argv, cwd=cfg.parent, capture_output=True, text=True, timeout=300)


def _run(capsys: pytest.CaptureFixture[str], cfg: Path, db: Path) -> dict:
    """A replay to the end in this process (the kill is the other process's); its summary."""
    done = run_cli(capsys, "run", "--until-end", "--json", "--db", f"sqlite:///{db}",
                   "--config", str(cfg))  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_a_replay_killed_after_a_5m_bar_among_1m_bars_resumes_as_if_never_stopped(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = _config(tmp_path, data_dir)
    five = (tmp_path / "XBT_USDT_5m.csv").read_text().splitlines()
    kill_at = parse_date(five[20].split(",")[0][:16])  # the 20th 5m bar
    clean_db, killed_db = tmp_path / "clean.db", tmp_path / "killed.db"

    want = _run(capsys, cfg, clean_db)
    killed = _killed(cfg, killed_db, kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    got = _run(capsys, cfg, killed_db)

    assert want["orders"] >= ROWS // 10 - 2, want  # it traded on (nearly) every second 5m bar
    assert got["orders"] == want["orders"], (want, got)
    assert diff_snapshots(_outcome(clean_db), _outcome(killed_db)) == []
