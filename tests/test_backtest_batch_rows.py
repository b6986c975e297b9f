"""A backtest's commit policy (its writes held in memory and run in batches at each commit)
leaves the run database exactly as writing each row as it comes does: the same rows, in the
same order, with the same ids, in every table."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from backtest_support import STRATEGY_FILE, write_config
from tradeguard.backtest.frames import parse_date
from tradeguard.backtest.runner import BacktestWindow, run_backtest
from tradeguard.config import load_config
from tradeguard.model.ids import ClientOrderIdFactory
from tradeguard.storage.unit_of_work import StorageCore

BENCH_STRATEGY = Path(__file__).resolve().parents[1] / "benchmarks" / "backtest_strategies.py"
# figures of the wall clock, which no two runs share
WALL_CLOCK = ("duration_s", "elapsed_s")
WALL_CLOCK_COLUMNS = {("kv_state", "updated_ts"), ("strategy_runs", "updated_ts")}
JSON_COLUMNS = ("data", "value", "state")


def _json(stored: Any) -> Any:
    # a JSON column has numeric affinity in SQLite: a number's text comes back a number
    return json.loads(stored) if isinstance(stored, str) else stored


def _steady(value: Any, run_dir: str) -> Any:
    """`value` without the wall clock's figures, its run directory named alike."""
    if isinstance(value, dict):
        return {k: _steady(v, run_dir) for k, v in value.items() if k not in WALL_CLOCK}
    if isinstance(value, list):
        return [_steady(v, run_dir) for v in value]
    if isinstance(value, str):
        return value.replace(run_dir, "RUN")
    return value


def _tables(db: Path) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows in rowid order, the wall clock's figures left out."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        listed = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        names = [r[0] for r in listed]
        rows = {n: conn.execute(f'SELECT * FROM "{n}" ORDER BY rowid').fetchall() for n in names}
    finally:
        conn.close()
    run_dir = str(db.parent.resolve())
    tables = {}
    for name, found in rows.items():
        tables[name] = [
            {
                k: _steady(_json(r[k]), run_dir) if k in JSON_COLUMNS else r[k]
                for k in r.keys()  # noqa: SIM118 (a Row iterates its values)
                if (name, k) not in WALL_CLOCK_COLUMNS
            }
            for r in found
        ]
    return tables


def _run(tmp_path: Path, name: str, kind: str) -> tuple[Any, dict[str, list[dict[str, Any]]]]:
    config = load_config(write_config(tmp_path, ("ETH", "ADA", "LTC")))
    for sc in config.strategies:
        if sc.kind != kind:  # the benchmark's strategy, in place of the config's
            sc.kind, sc.params = kind, {"stake": "0.01"}
    # two checkpoints inside the window: the held rows are run at several commits
    window = BacktestWindow(parse_date("2018-01-12"), parse_date("2018-01-13"), commit_every=400)
    result = run_backtest(config, tmp_path / name, window)
    return result, _tables(tmp_path / name / "backtest.db")


@pytest.mark.parametrize(
    "kind",
    [f"{BENCH_STRATEGY}:EveryCandle", f"{STRATEGY_FILE}:EmaCross"],
    ids=["an order every candle", "ema crossover with stops"],
)
def test_batched_backtest_stores_the_rows_of_a_row_by_row_one(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    # the same client order ids in both runs (a run's are random)
    made = ClientOrderIdFactory.__init__

    def same_session(self: ClientOrderIdFactory, prefix: str = "tg", session: Any = None) -> None:
        made(self, prefix, session or "0123456789")

    monkeypatch.setattr(ClientOrderIdFactory, "__init__", same_session)
    batched, rows = _run(tmp_path, "batched", kind)
    original = StorageCore.unit_of_work

    @contextmanager
    def row_by_row(self: StorageCore, batch: bool = False) -> Iterator[None]:
        with original(self, batch=False):
            yield

    monkeypatch.setattr(StorageCore, "unit_of_work", row_by_row)
    plain, expected = _run(tmp_path, "plain", kind)
    assert batched.summary.orders == plain.summary.orders > 0
    assert rows.keys() == expected.keys()
    for table in expected:
        assert rows[table] == expected[table], table
