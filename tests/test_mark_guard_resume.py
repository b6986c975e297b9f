"""A paper replay SIGKILLed right after the commit that follows a held bad print, then resumed,
ends as the run never stopped: same orders, fills, positions, balances, risk events and state.

The resumed run's warm-up used to start a fresh mark guard from the last candles before its
window: a bad print the first run held became the mark (and the candle its paper venue traded
on). Here 1 XBT is held beside the USDT; XBT/USDT prints one candle at a thousandth of the
price, then has a ten-minute gap. The first run holds the print; the resumed one took it as the
mark, and its drawdown breaker halted trading for the rest of the run.
"""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from node_support import BTC_FILE
from tradeguard.backtest.frames import parse_date
from tradeguard.chaos.paper import diff_snapshots, ledger_snapshot
from tradeguard.config import default_config
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

ROWS = 400
BAD_ROW = 300  # the data row (1 = the first candle) printed at a thousandth of its close
GAP = 10  # candles missing after the bad print in its file
HERE = Path(__file__).resolve().parent

FLIP = """
from decimal import Decimal

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy


class Flip(Strategy):
    \"\"\"Buys 0.001 at market when flat, sells it back on the next candle: every candle writes
    (and so commits).\"\"\"

    def on_candle(self, candle):
        ctx = self.ctx
        if ctx is None or ctx.open_order_count(self.id, self.symbol):
            return
        held = ctx.position(self.id, self.venue, self.symbol).quantity
        side = Side.SELL if held > 0 else Side.BUY
        self.emit(OrderIntent(self.id, self.venue, self.symbol, side, held or Decimal("0.001"),
                              OrderType.MARKET, reduce_only=held > 0))
"""


def _bad_copy(lines: list[str], gap: int) -> list[str]:
    out = list(lines)
    cells = out[BAD_ROW].split(",")
    cells[1:5] = [str(float(cells[4]) / 1000)] * 4  # one print, open to close
    out[BAD_ROW] = ",".join(cells)
    del out[BAD_ROW + 1 : BAD_ROW + 1 + gap]
    return out


def _config(tmp: Path, data_dir: Path, bad_symbol: str) -> Path:
    lines = (data_dir / BTC_FILE).read_text().splitlines()[: ROWS + 1]
    files = {}
    for symbol in ("BTC/USDT", "XBT/USDT"):
        rows = (
            _bad_copy(lines, GAP if symbol == "XBT/USDT" else 0) if symbol == bad_symbol else lines
        )
        files[symbol] = tmp / f"{symbol.replace('/', '_')}.csv"
        files[symbol].write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp / "flip.py").write_text(FLIP, encoding="utf-8")
    inst = default_config()["venues"][0]["instruments"][0]
    text = ["[node]", "replay_commit_interval_s = 0", "checkpoint_every = 100000"]
    for symbol, path in files.items():
        text += ["[[data]]", f'path = "{path}"', f'symbol = "{symbol}"', 'venue = "paper"']
    text += ["[[venues]]", 'name = "paper"', 'kind = "paper"',
             'balances = { USDT = "50000", XBT = "1" }']  # fmt: skip
    for symbol in files:
        fields = [f'{k} = "{v}"' for k, v in inst.items() if k != "symbol"]
        text += ["[[venues.instruments]]", *fields, f'symbol = "{symbol}"']
    text += ["[risk]", "cooldown_after_loss_s = 0", "max_consecutive_losses = 1000",
             "max_trades_per_day = 100000", "stable_reserve_pct = 0",
             "[[strategies]]", 'id = "flip"', f'kind = "{tmp / "flip.py"}:Flip"',
             'venue = "paper"', 'symbol = "BTC/USDT"']  # fmt: skip
    cfg = tmp / "run.toml"
    cfg.write_text("\n".join(text) + "\n", encoding="utf-8")
    return cfg


def _run(cfg: Path, db: Path, kill_after_ts: int | None = None) -> subprocess.CompletedProcess[str]:
    head = [str(HERE / "replay_commit_kill_child.py"), str(kill_after_ts)] if kill_after_ts else [
        "-m", "tradeguard.cli"]  # fmt: skip
    argv = [sys.executable, *head, "run", "--until-end", "--json", "--db", f"sqlite:///{db}",
            "--config", str(cfg)]  # fmt: skip
    return subprocess.run(argv, cwd=cfg.parent, capture_output=True, text=True, timeout=300)


def _ran(cfg: Path, db: Path) -> subprocess.CompletedProcess[str]:
    """`_run` to the end, which must exit 0."""
    done = _run(cfg, db)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _killed(cfg: Path, db: Path, kill_after_ts: int) -> subprocess.CompletedProcess[str]:
    """`_run` SIGKILLed right after the first commit of a candle from `kill_after_ts` on."""
    killed = _run(cfg, db, kill_after_ts=kill_after_ts)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    return killed


def _bad_ts(tmp: Path, symbol: str) -> int:
    """The time of the candle `_config` printed bad in `symbol`'s file."""
    lines = (tmp / f"{symbol.replace('/', '_')}.csv").read_text().splitlines()
    return parse_date(lines[BAD_ROW].split(",")[0][:16])


def _outcome(db: Path) -> dict[str, Any]:
    database = Database(f"sqlite:///{db}")
    try:
        out: dict[str, Any] = ledger_snapshot(Storage(database))
    finally:
        database.dispose()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        out["risk"] = conn.execute(
            "SELECT ts, kind, data FROM events WHERE kind LIKE 'risk.%' "
            "AND kind != 'risk.approved' ORDER BY id"
        ).fetchall()
        # cursor, figures, strategy states, equity curve, risk engine, mark guard: one row
        out["replay_state"] = conn.execute(
            "SELECT value FROM kv_state WHERE key = 'replay.state'"
        ).fetchall()
    finally:
        conn.close()
    return out


def _cursor(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        (value,) = conn.execute("SELECT value FROM kv_state WHERE key = 'replay.state'").fetchone()
    finally:
        conn.close()
    state = json.loads(value)
    return int(json.loads(state)["cursor"] if isinstance(state, str) else state["cursor"])


@pytest.mark.parametrize(
    ("bad_symbol", "kill_after"),
    [
        # the held print is its symbol's last candle before the resumed window
        ("XBT/USDT", 1),
        # the commit after the candle that dropped it: the print opens the warm-up
        ("BTC/USDT", 60_000),
    ],
)
def test_a_replay_killed_after_a_held_print_resumes_as_if_never_stopped(
    tmp_path: Path, data_dir: Path, bad_symbol: str, kill_after: int
) -> None:
    cfg = _config(tmp_path, data_dir, bad_symbol)
    bad_ts = _bad_ts(tmp_path, bad_symbol)
    clean_db, killed_db = tmp_path / "clean.db", tmp_path / "killed.db"

    clean = _ran(cfg, clean_db)
    # SIGKILLed right after the first commit of a candle from `kill_after` ms past the print on
    killed = _killed(cfg, killed_db, bad_ts + kill_after)
    assert "held a suspect mark" in killed.stderr, "killed before the print"
    assert bad_ts < _cursor(killed_db) <= bad_ts + 60_000, "killed elsewhere"
    resumed = _ran(cfg, killed_db)

    want, got = json.loads(clean.stdout), json.loads(resumed.stdout)
    assert want["trading_state"] == "ACTIVE" and want["orders"] >= ROWS - 1, want  # it traded
    assert (got["trading_state"], got["orders"]) == (want["trading_state"], want["orders"])
    first, second = _outcome(clean_db), _outcome(killed_db)
    assert diff_snapshots(first, second) == []


def _edit_state(db: Path, edit: Any) -> None:
    conn = sqlite3.connect(db)
    try:
        (value,) = conn.execute("SELECT value FROM kv_state WHERE key = 'replay.state'").fetchone()
        state = json.loads(json.loads(value))
        edit(state)
        conn.execute(
            "UPDATE kv_state SET value = ? WHERE key = 'replay.state'",
            (json.dumps(json.dumps(state)),),
        )
        conn.commit()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def killed_at_btc_print(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> tuple[Path, Path]:
    """A replay SIGKILLed right after the commit of the bad BTC/USDT print, once for the tests
    that spoil its stored state: the config (read only) and the database (see `_copy`)."""
    tmp = tmp_path_factory.mktemp("killed")
    cfg = _config(tmp, data_dir, "BTC/USDT")
    db = tmp / "killed.db"
    _killed(cfg, db, _bad_ts(tmp, "BTC/USDT"))
    return cfg, db


def _copy(db: Path, into: Path) -> Path:
    """A copy of the killed run's database (its write-ahead log too, what the kill left in it)
    for one test to change."""
    for suffix in ("", "-wal", "-shm"):
        if (src := Path(f"{db}{suffix}")).exists():
            shutil.copyfile(src, into / f"killed.db{suffix}")
    return into / "killed.db"


def test_an_unreadable_stored_guard_is_rebuilt_from_the_candles_with_a_warning(
    tmp_path: Path, killed_at_btc_print: tuple[Path, Path]
) -> None:
    cfg, db = killed_at_btc_print[0], _copy(killed_at_btc_print[1], tmp_path)

    def spoil(state: dict[str, Any]) -> None:
        assert state["mark_guard"]["recent"], "the commit remembers the dropped print"
        state["mark_guard"]["bands"] = [["", "BTC/USDT", "not a price"]]

    _edit_state(db, spoil)
    resumed = _ran(cfg, db)
    assert "the stored mark guard is unreadable" in resumed.stderr, resumed.stderr[-2000:]
    assert "Traceback" not in resumed.stderr
    assert json.loads(resumed.stdout)["trading_state"] == "ACTIVE"


@pytest.mark.parametrize("damaged", ["not a time", None, [1], 1.5])
def test_a_damaged_stored_paper_candle_time_is_skipped_with_a_warning(
    tmp_path: Path, killed_at_btc_print: tuple[Path, Path], damaged: object
) -> None:
    cfg, db = killed_at_btc_print[0], _copy(killed_at_btc_print[1], tmp_path)

    def damage(state: dict[str, Any]) -> None:
        assert state["paper_candles"]["paper"]["BTC/USDT"], "the commit names the candle"
        state["paper_candles"]["paper"]["BTC/USDT"] = damaged

    _edit_state(db, damage)
    resumed = _run(cfg, db)
    assert "Traceback" not in resumed.stderr, resumed.stderr[-2000:]
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "paper_candles" in resumed.stderr and repr(damaged) in resumed.stderr
    assert json.loads(resumed.stdout)["trading_state"] == "ACTIVE"


def test_the_same_limit_spelt_another_way_keeps_the_held_print_on_resume(
    tmp_path: Path, data_dir: Path
) -> None:
    cfg = _config(tmp_path, data_dir, "XBT/USDT")
    text = cfg.read_text()
    cfg.write_text(text.replace("[risk]\n", "[risk]\nmax_mark_jump_pct = 30\n"))
    clean_db, killed_db = tmp_path / "clean.db", tmp_path / "killed.db"
    clean = _ran(cfg, clean_db)
    killed = _killed(cfg, killed_db, _bad_ts(tmp_path, "XBT/USDT") + 1)
    assert "held a suspect mark" in killed.stderr, "killed before the print"
    # the same limit, 30.0 in place of 30
    cfg.write_text(text.replace("[risk]\n", "[risk]\nmax_mark_jump_pct = 30.0\n"))
    resumed = _ran(cfg, killed_db)
    want, got = json.loads(clean.stdout), json.loads(resumed.stdout)
    assert (got["trading_state"], got["orders"]) == (want["trading_state"], want["orders"])
    first, second = _outcome(clean_db), _outcome(killed_db)
    # the same events, the limit named as each run spelt it
    assert [_event(r) for r in first.pop("risk")] == [_event(r) for r in second.pop("risk")]
    assert _state(first.pop("replay_state")) == _state(second.pop("replay_state"))
    assert diff_snapshots(first, second) == []


def _state(rows: list[tuple[str]]) -> dict[str, Any]:
    (value,) = rows[0]
    state: dict[str, Any] = json.loads(json.loads(value))
    guard = state["mark_guard"]
    guard["pct"] = [Decimal(p) for p in guard["pct"]]
    return state


def _event(row: tuple[int, str, str]) -> tuple[int, str, dict[str, Any]]:
    data = json.loads(row[2])
    if "limit_pct" in data:
        data["limit_pct"] = Decimal(data["limit_pct"])
    return row[0], row[1], data
