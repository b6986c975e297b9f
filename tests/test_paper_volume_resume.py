"""A paper replay filling in the candle (fill_at = "in_candle") SIGKILLed between two candles of
one time, then resumed, fills no more of a candle's volume than the run that never stopped.

Two strategies buy BTC/USDT at market on every candle: one on BTC/USDT's candles, one on
XBT/USDT's (the same time, replayed just after). Each candle's volume allows 1.55 times one
order, so the second order of each time gets about half of its amount. The resumed run used to prime
its paper venue with the candle without what had already been taken from it: the second order
after the kill filled whole.
"""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

from node_support import BTC_FILE
from test_mark_guard_resume import _cursor, _outcome, _run
from tradeguard.backtest.frames import parse_date
from tradeguard.chaos.paper import diff_snapshots
from tradeguard.config import default_config

ROWS = 120
KILL_ROW = 60  # the data row (1 = the first candle) whose first commit is the last one

GRAB = """
from decimal import Decimal

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy


class Grab(Strategy):
    \"\"\"Buys 0.001 BTC/USDT at market on every candle of its own symbol.\"\"\"

    def on_candle(self, candle):
        if self.ctx is not None:
            self.emit(OrderIntent(self.id, self.venue, "BTC/USDT", Side.BUY, Decimal("0.001"),
                                  OrderType.MARKET))
"""


def _config(tmp: Path, data_dir: Path) -> Path:
    lines = (data_dir / BTC_FILE).read_text().splitlines()[: ROWS + 1]
    # volume is in the quote: about 0.0155 BTC a candle, 0.00155 of it for our orders
    rows = [
        lines[0],
        *(",".join([*(c := r.split(","))[:5], str(float(c[4]) * 0.0155)]) for r in lines[1:]),
    ]
    (tmp / "grab.py").write_text(GRAB, encoding="utf-8")
    inst = default_config()["venues"][0]["instruments"][0]
    text = ["[node]", "replay_commit_interval_s = 0", "checkpoint_every = 100000"]
    for symbol in ("BTC/USDT", "XBT/USDT"):  # this order: BTC/USDT's candle of a time first
        path = tmp / f"{symbol.replace('/', '_')}.csv"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        text += ["[[data]]", f'path = "{path}"', f'symbol = "{symbol}"', 'venue = "paper"']
    text += ["[[venues]]", 'name = "paper"', 'kind = "paper"', 'balances = { USDT = "50000" }']
    text += ["[venues.fill_model]", 'fill_at = "in_candle"']
    for symbol in ("BTC/USDT", "XBT/USDT"):
        fields = [f'{k} = "{v}"' for k, v in inst.items() if k != "symbol"]
        text += ["[[venues.instruments]]", *fields, f'symbol = "{symbol}"']
    text += ["[risk]", "cooldown_after_loss_s = 0", "max_consecutive_losses = 1000",
             "max_trades_per_day = 100000", "stable_reserve_pct = 0"]  # fmt: skip
    for sid, symbol in (("a", "BTC/USDT"), ("b", "XBT/USDT")):
        text += ["[[strategies]]", f'id = "{sid}"', f'kind = "{tmp / "grab.py"}:Grab"',
                 'venue = "paper"', f'symbol = "{symbol}"']  # fmt: skip
    cfg = tmp / "run.toml"
    cfg.write_text("\n".join(text) + "\n", encoding="utf-8")
    return cfg


def test_a_resumed_replay_takes_no_more_of_a_candle_than_the_run_never_stopped(
    tmp_path: Path, data_dir: Path
) -> None:
    cfg = _config(tmp_path, data_dir)
    lines = (tmp_path / "BTC_USDT.csv").read_text().splitlines()
    kill_ts = parse_date(lines[KILL_ROW].split(",")[0][:16])
    clean_db, killed_db = tmp_path / "clean.db", tmp_path / "killed.db"

    clean = _run(cfg, clean_db)
    assert clean.returncode == 0, clean.stderr[-2000:]
    killed = _run(cfg, killed_db, kill_after_ts=kill_ts)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert _cursor(killed_db) == kill_ts, "killed elsewhere"
    resumed = _run(cfg, killed_db)
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    want, got = json.loads(clean.stdout), json.loads(resumed.stdout)
    assert want["orders"] == got["orders"] == 2 * ROWS, (want, got)  # both, every candle
    conn = sqlite3.connect(f"file:{clean_db}?mode=ro", uri=True)
    try:  # every second order of a time took what the first left: part of its amount
        (partial,) = conn.execute(
            "SELECT COUNT(*) FROM orders WHERE status = 'expired' AND filled = '0.00055'"
        ).fetchone()
    finally:
        conn.close()
    assert partial == ROWS
    first, second = _outcome(clean_db), _outcome(killed_db)
    assert diff_snapshots(first, second) == []
