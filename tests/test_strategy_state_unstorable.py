"""A strategy whose `state()` returns something JSON cannot hold stops the run with one line.

It used to end as "database error: JsonType: ..." and exit 1, naming neither the strategy nor
where in its state the value was. Now the line names the strategy, its class, `state()`, the
value's type and its key path; the exit code is 2 (the strategy is the user's input), and what
the run committed before stays in the journal.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_support import Done, run_cli
from node_support import write_paper_toml, write_slice

# Buys once early (so the journal has something to keep), then after 40 candles puts a value
# JSON cannot hold deep in its state.
STRATEGY = """
import datetime
from decimal import Decimal
from typing import Any

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy


class Holder:
    def __init__(self) -> None:
        self.price = Decimal("1.5")


class Leaky(Strategy):
    def __init__(self, strategy_id: str, venue: str, symbol: str, params: dict[str, Any]):
        super().__init__(strategy_id, venue, symbol, params)
        self.n = 0
        self.bad = params["bad"]

    def on_candle(self, candle) -> None:
        self.n += 1
        if self.n == 5:
            self.emit(OrderIntent(strategy_id=self.id, venue=self.venue, symbol=self.symbol,
                                  side=Side.BUY, amount=Decimal("0.001"), type=OrderType.MARKET))

    def state(self) -> dict[str, Any]:
        kinds = {"datetime": datetime.datetime(2022, 1, 1), "object": Holder(), "none": None}
        late = kinds[self.bad]
        return {"n": self.n, "window": [1, {"seen": {"at": late if self.n > 40 else None}}]}
"""


def _config(tmp_path: Path, data_dir: Path, bad: str) -> Path:
    (tmp_path / "leaky.py").write_text(STRATEGY, encoding="utf-8")
    data = tmp_path / "btc.csv"
    if not data.exists():
        write_slice(data_dir, data, 200)
    mine = f"""
[[strategies]]
id = "mine"
kind = "{tmp_path / "leaky.py"}:Leaky"
venue = "paper"
symbol = "BTC/USDT"
params = {{ bad = "{bad}" }}
"""
    return write_paper_toml(tmp_path, data, strategies=mine)


@pytest.fixture
def _tg(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """`tradeguard ARGS...` in the test's process, from `tmp_path`."""
    monkeypatch.chdir(tmp_path)

    def tg(*args: str) -> Done:
        return run_cli(capsys, *args)

    return tg


def _assert_named(stderr: str, type_name: str) -> None:
    lines = [line for line in stderr.splitlines() if line.startswith("tradeguard:")]
    assert len(lines) == 1, stderr
    line = lines[0]
    assert "strategy 'mine' (Leaky)" in line, line
    assert "state()" in line and type_name in line, line
    assert "['window'][1]['seen']['at']" in line, line
    assert "database error" not in line and "Traceback" not in stderr, stderr


@pytest.mark.parametrize(("bad", "type_name"), [("datetime", "datetime"), ("object", "Holder")])
def test_paper_run_names_the_strategy_and_keeps_the_journal(
    tmp_path: Path, data_dir: Path, bad: str, type_name: str, _tg
) -> None:
    cfg = _config(tmp_path, data_dir, bad)
    run = _tg("run", "--until-end", "--config", str(cfg))
    assert run.returncode == 2, run.stderr[-2000:]
    _assert_named(run.stderr, type_name)
    # The database holds what the last commit wrote, whole: run again with the state fixed,
    # it resumes with its ledger agreeing with its fills and buys once, not twice.
    cfg = _config(tmp_path, data_dir, "none")
    again = _tg("run", "--until-end", "--config", str(cfg))
    assert again.returncode == 0, again.stderr[-2000:]
    assert "ledger audit failed" not in again.stderr, again.stderr[-2000:]
    out = _tg("orders", "--json", "--config", str(cfg))
    assert out.returncode == 0, out.stderr[-2000:]
    orders = json.loads(out.stdout)
    rows = orders["orders"] if isinstance(orders, dict) else orders
    assert [o["strategy_id"] for o in rows] == ["mine"], rows


def test_backtest_names_the_strategy(tmp_path: Path, data_dir: Path, _tg) -> None:
    cfg = _config(tmp_path, data_dir, "datetime")
    run = _tg("backtest", "--config", str(cfg), "--out", str(tmp_path / "bt"))
    assert run.returncode == 2, run.stderr[-2000:]
    _assert_named(run.stderr, "datetime")
