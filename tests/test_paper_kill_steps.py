"""A paper replay SIGKILLed at each step of an order's life, then resumed (start-up reconciles),
ends as the run never stopped: same orders, fills, positions, balances, strategy state and run
figures, nothing lost and nothing booked twice.

The steps: the order's send to the venue, before it and after it; its fill in the journal, not
in the position yet; balances written, not committed (the start-up reconciliation's and a
fill's); a strategy's state written in a checkpoint, not committed. The child kills itself the
n-th time it reaches the step (`STEP_CHILD`), so the kill lands in the middle of a candle's unit
of work rather than on a commit (`test_replay_order_kill_resume`). A paper replay commits whole
candles: the order's journal row and its send are in one unit, and a kill at the send finds
the row not committed (checked: the child prints what another connection reads). A kill
between the journal's commit and the send, or between the send and its answer, is a live
node's (each step committed on its own): `test_sandbox_kill_steps`.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cli_support import run_cli
from test_mark_guard_resume import _outcome
from test_replay_order_kill_resume import _config
from tradeguard.chaos.paper import diff_snapshots

FIGURES = ("orders", "fills", "closed_trades", "realized_pnl", "fees", "end_equity")
STEP_CHILD = """
import asyncio, json, os, signal, sqlite3, sys

from tradeguard.cli import run
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.storage.repository import Storage
from tradeguard.venues.paper import PaperVenue

step, nth = sys.argv.pop(1), int(sys.argv.pop(1))
hits = 0


def committed(order):
    # what another connection reads of the order's journal row: only what is committed
    path = sys.argv[sys.argv.index("--db") + 1].removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT status FROM orders WHERE client_order_id = ?",
                           (order.client_order_id,)).fetchone()
    return None if row is None else row[0]


def hit(*args):
    global hits
    hits += 1
    if hits >= nth:
        order = args[1] if step in SENDS else None
        if order is not None:
            print(json.dumps({"order": order.client_order_id, "committed": committed(order)}),
                  flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


def cut(cls, name, before):
    real = getattr(cls, name)
    if asyncio.iscoroutinefunction(real):
        async def wrapped(*args, **kwargs):
            if before:
                hit(*args)
            out = await real(*args, **kwargs)
            hit(*args)
            return out
    else:
        def wrapped(*args, **kwargs):
            if before:
                hit(*args)
            out = real(*args, **kwargs)
            hit(*args)
            return out
    setattr(cls, name, wrapped)


SENDS = ("before_send", "after_send")
where = {
    "before_send": (PaperVenue, "submit", True),
    "after_send": (PaperVenue, "submit", False),
    "fill_not_in_position": (Portfolio, "apply_fill", True),
    "balances_written": (Storage, "upsert_balances", False),
    "state_written": (Storage, "save_run_state", False),
}
cut(*where[step])
sys.argv[0] = "tradeguard"
run()
"""


def _args(cfg: Path, db: Path) -> list[str]:
    return ["run", "--until-end", "--json", "--db", f"sqlite:///{db}", "--config", str(cfg)]


def _killed(cfg: Path, db: Path, step: str, nth: int) -> subprocess.CompletedProcess[str]:
    """The replay in its own process, which SIGKILLs itself the `nth` time it reaches `step`."""
    argv = [sys.executable, str(cfg.parent / "step_child.py"), step, str(nth), *_args(cfg, db)]
    return subprocess.run(argv, cwd=cfg.parent, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[Path, Path, dict]:
    """The run never interrupted (in this process): its config, database and printed summary."""
    from tradeguard.cli.main import main

    tmp = tmp_path_factory.mktemp("clean")
    cfg = _config(tmp, data_dir)
    # checkpoints every 37 candles: a strategy's state is written in the middle of the run
    text = cfg.read_text().replace("checkpoint_every = 100000", "checkpoint_every = 37")
    cfg.write_text(text)
    (tmp / "step_child.py").write_text(STEP_CHILD, encoding="utf-8")
    db = tmp / "clean.db"
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.chdir(tmp)
        assert main(_args(cfg, db)) == 0
    return cfg, db, json.loads(out.getvalue())


@pytest.mark.parametrize(
    ("step", "nth"),
    [
        ("before_send", 5),
        ("after_send", 5),
        ("fill_not_in_position", 5),
        ("balances_written", 1),  # the start-up reconciliation's
        ("balances_written", 6),  # a fill's
        ("state_written", 2),
    ],
)
def test_a_paper_run_killed_at_a_step_resumes_as_if_never_stopped(
    tmp_path: Path, clean: tuple[Path, Path, dict], step: str, nth: int, capsys, monkeypatch
) -> None:
    cfg, clean_db, want = clean
    killed_db = tmp_path / "killed.db"
    killed = _killed(cfg, killed_db, step, nth)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]  # the step was reached
    if step.endswith("_send"):  # the send is inside the candle's unit: its row not committed
        [doc] = [json.loads(x) for x in killed.stdout.splitlines() if x.startswith('{"order"')]
        assert doc["committed"] is None, doc
    monkeypatch.chdir(cfg.parent)
    resumed = run_cli(capsys, *_args(cfg, killed_db))  # resumed in this process
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    got = json.loads(resumed.stdout)
    assert want["orders"] > 10, want  # it traded
    assert [got[k] for k in FIGURES] == [want[k] for k in FIGURES], (want, got)
    assert diff_snapshots(_outcome(clean_db), _outcome(killed_db)) == []
