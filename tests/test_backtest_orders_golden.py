"""A small backtest trading on every candle stores what it stored before the order path was made
cheaper: every journal table row for row (orders, fills, status history, audit events,
positions, balances, ...), its trades and its metrics, as digests recorded from that code in
tests/data/backtest_orders_golden.json.

A change that alters one stored value, or writes a table left empty before, fails here,
naming the table. Regenerate the file only
for a change meant to alter what a backtest stores:
`python tests/test_backtest_orders_golden.py` (it prints the new digests).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from backtest_support import write_config
from test_backtest_batch_rows import BENCH_STRATEGY, WALL_CLOCK, _steady, _tables
from tradeguard.backtest.frames import parse_date
from tradeguard.backtest.runner import BacktestWindow, run_backtest
from tradeguard.config import load_config
from tradeguard.model.ids import ClientOrderIdFactory

GOLDEN = Path(__file__).resolve().parent / "data" / "backtest_orders_golden.json"
KIND = f"{BENCH_STRATEGY}:EveryCandle"


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def stored_digests(tmp_path: Path) -> dict[str, Any]:
    """Run the small backtest; return each table's row count and digest, trades' and metrics'."""
    config = load_config(write_config(tmp_path, ("ETH", "ADA", "LTC")))
    for sc in config.strategies:
        sc.kind, sc.params = KIND, {"stake": "0.01"}
    window = BacktestWindow(parse_date("2018-01-12"), parse_date("2018-01-13"), commit_every=400)
    result = run_backtest(config, tmp_path / "run", window)
    tables = _tables(tmp_path / "run" / "backtest.db")
    run_dir = str((tmp_path / "run").resolve())
    metrics = {k: v for k, v in result.metrics.items() if k not in WALL_CLOCK}
    return {
        "orders": result.summary.orders,
        # the tables a run writes (the schema's version left out: a migration moves it)
        "tables": {
            name: [len(rows), _digest(rows)]
            for name, rows in tables.items()
            if rows and name != "alembic_version"
        },
        "trades": [len(result.trades), _digest([t.to_json() for t in result.trades])],
        "metrics": _digest(_steady(metrics, run_dir)),
    }


@pytest.fixture
def same_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same client order ids in every run (a run's session part is random)."""
    made = ClientOrderIdFactory.__init__

    def same_session(self: ClientOrderIdFactory, prefix: str = "tg", session: Any = None) -> None:
        made(self, prefix, session or "0123456789")

    monkeypatch.setattr(ClientOrderIdFactory, "__init__", same_session)


def test_backtest_orders_store_the_recorded_rows(
    tmp_path: Path, data_dir: Path, same_ids: None
) -> None:
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    found = stored_digests(tmp_path)
    assert found["orders"] == expected["orders"] > 500
    assert found["tables"].keys() == expected["tables"].keys()
    for name, figures in expected["tables"].items():
        assert found["tables"][name] == figures, name
    assert found["trades"] == expected["trades"]
    assert found["metrics"] == expected["metrics"]


if __name__ == "__main__":  # print the digests of the current code
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        made = ClientOrderIdFactory.__init__

        def same(self: ClientOrderIdFactory, prefix: str = "tg", session: Any = None) -> None:
            made(self, prefix, session or "0123456789")

        mp.setattr(ClientOrderIdFactory, "__init__", same)
        print(json.dumps(stored_digests(Path(tmp)), indent=1, sort_keys=True))
