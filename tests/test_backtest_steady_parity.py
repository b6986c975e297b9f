"""What a backtest stores is the same whether its candles run through steady stretches
(backtest/steady.py) or the general loop alone: every journal table row for row, the trades,
the metrics and the equity curve (times and values), over configs that reach the stretch's
edges: real and made-up data (gaps, a lone candle, an hourly series beside five-minute ones,
blocks whose close times span exactly the limit they are counted from their middle under),
window cuts in the middle of a day, trading strategies, bots' stops and trailing stops, and a
strategy calling the mark guard (bands replaced, suspect prints) in the middle of stretches."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from backtest_support import write_config
from test_backtest_batch_rows import WALL_CLOCK, _steady, _tables
from test_backtest_steady import BENCH_STRATEGIES, RECORDER, _both
from test_backtest_steady_exits import BOT, HOLDER
from tradeguard.backtest.frames import parse_date
from tradeguard.backtest.runner import BacktestResult, BacktestWindow
from tradeguard.backtest.steady import BLOCK, SMALL_MS, SteadyRun
from tradeguard.config import load_config
from tradeguard.model.ids import ClientOrderIdFactory

T0 = 1_515_715_200_000  # 2018-01-12 00:00 UTC
FIVE_M = 300_000

# Calls the node's mark guard in the middle of stretches: takes a far-off print now and then
# (a suspect, watched), rebases a band (replaced by a new one), asks for bands (settles them).
TOUCHER = """
from decimal import Decimal
from tradeguard.strategies.base import Strategy


class Touch(Strategy):
    def on_candle(self, candle):
        guard = self.ctx._node.risk.mark_guard
        n = candle.ts // 300_000
        if n % 17 == 0:
            guard.rebase("", candle.symbol, candle.close)
        elif n % 29 == 0:
            guard.take("", candle.symbol, candle.close * 3, candle.ts)
        elif n % 7 == 0:
            guard.admits("", candle.symbol, candle.close)
"""


def _frame(rows: list[tuple[int, float]]) -> Any:
    import pandas as pd

    closes = [c for _, c in rows]
    return pd.DataFrame(
        {
            "date": pd.to_datetime([t for t, _ in rows], unit="ms", utc=True),
            "open": closes,
            "high": [c * 1.001 for c in closes],
            "low": [c * 0.999 for c in closes],
            "close": closes,
            "volume": [10.0] * len(rows),
        }
    )


def _made_up_data(folder: Path) -> dict[str, Path]:
    """ETH/BTC 5m: gaps placed so that the first block's close times span exactly `SMALL_MS`
    and the second's one ms less, then a day's gap and 500 more; after that gap, ADA/BTC one
    candle and LTC/BTC 300 hourly ones (reaching past ETH's last)."""
    import random

    rnd = random.Random(5)
    stamps = [T0 + i * FIVE_M for i in range(BLOCK - 1)]
    stamps.append(stamps[0] + SMALL_MS)  # the last of block 0: its close times span the limit
    start = stamps[-1] + FIVE_M
    stamps += [start + i * FIVE_M for i in range(BLOCK - 1)]
    stamps.append(start + SMALL_MS - 1)  # block 1: one ms under the limit
    start = stamps[-1] + 86_400_000 + 7
    stamps += [start + i * FIVE_M for i in range(500)]
    price, eth = 0.1, []
    for t in stamps:
        price *= 1 + rnd.gauss(0, 0.003) if rnd.random() > 0.01 else rnd.choice((0.6, 1.5))
        eth.append((t, round(price, 8)))
    hours = [(start + 3_600_000 * i, 0.00003 + i * 1e-8) for i in range(300)]  # after both
    paths = {
        "ETH": folder / "ETH_BTC-5m.feather",
        "ADA": folder / "ADA_BTC-5m.feather",
        "LTC": folder / "LTC_BTC-1h.feather",
    }
    _frame(eth).to_feather(paths["ETH"])
    _frame([(start + 12_345, 0.00004)]).to_feather(paths["ADA"])
    _frame(hours).to_feather(paths["LTC"])
    return paths


def _strategy(tmp_path: Path, name: str) -> str:
    if name in ("Idle", "EveryCandle"):
        return f"{BENCH_STRATEGIES}:{name}"
    if name == "EmaCross":
        return f"{Path(__file__).resolve().parents[1] / 'examples/backtest/ema_cross.py'}:EmaCross"
    source = {"Recorder": RECORDER, "Touch": TOUCHER, "Holder": HOLDER}[name]
    path = tmp_path / f"{name.lower()}_strategy.py"
    path.write_text(source, encoding="utf-8")
    return f"{path}:{name}"


def _configured(tmp_path: Path, case: dict[str, Any]) -> Any:
    path = write_config(tmp_path, pairs=case["pairs"])
    text = path.read_text(encoding="utf-8")
    if case.get("made_up"):
        for pair, file in _made_up_data(tmp_path).items():
            text = text.replace(f'"candles/{pair}_BTC-5m.feather"', json.dumps(str(file)))
    if case.get("bots"):
        text += BOT
    path.write_text(text, encoding="utf-8")
    cfg = load_config(path)
    kind = _strategy(tmp_path, case["strategy"])
    for sc in cfg.strategies:
        sc.kind = kind
        sc.params = {"stake": "0.01"} if kind.endswith(":EveryCandle") else {}
    return cfg


def _stored(result: BacktestResult) -> dict[str, Any]:
    """Everything the run stored and reported, the wall clock's figures left out."""
    run_dir = str(result.run_dir.resolve())
    return {
        "tables": {
            name: rows
            for name, rows in _tables(result.run_dir / "backtest.db").items()
            if name != "alembic_version"
        },
        "trades": [t.to_json() for t in result.trades],
        "metrics": _steady(
            {k: v for k, v in result.metrics.items() if k not in WALL_CLOCK}, run_dir
        ),
        "curve": [(ts, str(v)) for ts, v in result.curve],
        "events": result.summary.events,
    }


def _window(case: dict[str, Any]) -> BacktestWindow:
    return BacktestWindow(
        parse_date(case.get("start")), parse_date(case.get("end")),
        commit_every=case.get("every", 997), skip_flat=False,
    )  # fmt: skip


CASES: dict[str, dict[str, Any]] = {
    "idle_three_pairs_cut_mid_day": {
        "strategy": "Idle", "pairs": ("ETH", "ADA", "LTC"),
        "start": "2018-01-12T07:13", "end": "2018-01-15T16:47", "every": 20_000,
    },
    "recorder_trading_seven_pairs": {
        "strategy": "Recorder", "pairs": ("ETH", "ADA", "LTC", "XLM", "TRX", "ETC", "NXT"),
        "start": "2018-01-13", "end": "2018-01-14T03:00",
    },
    "ema_cross_two_pairs": {
        "strategy": "EmaCross", "pairs": ("ETH", "LTC"), "start": "2018-01-14", "end": "2018-01-17",
        "every": 97,
    },
    "guard_touched_mid_stretch": {
        "strategy": "Touch", "pairs": ("ETH", "ADA", "LTC"),
        "start": "2018-01-12", "end": "2018-01-15",
    },
    "bots_stops_and_trailing": {
        "strategy": "Holder", "pairs": ("ETH", "ADA"), "bots": True,
        "start": "2018-01-12", "end": "2018-01-15",
    },
    "made_up_gaps_lone_candle_hourly_span_limit": {
        "strategy": "Recorder", "pairs": ("ETH", "ADA", "LTC"), "made_up": True,
        "origins": [False, True, True],
    },
    "made_up_idle_cut_inside_the_first_block": {
        "strategy": "Idle", "pairs": ("ETH", "ADA", "LTC"), "made_up": True,
        "start": "2018-01-13T11:11", "end": "2018-02-25T13:00",
    },
}  # fmt: skip


@pytest.fixture
def same_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same client order ids in every run (a run's session part is random)."""
    made = ClientOrderIdFactory.__init__

    def same_session(self: ClientOrderIdFactory, prefix: str = "tg", session: Any = None) -> None:
        made(self, prefix, session or "0123456789")

    monkeypatch.setattr(ClientOrderIdFactory, "__init__", same_session)


@pytest.mark.parametrize("name", list(CASES))
def test_steady_stretches_store_what_the_general_loop_stores(
    tmp_path, data_dir, monkeypatch, same_ids, name
):
    case = CASES[name]
    if case.get("strategy") == "Holder":
        import sys

        from tradeguard.strategies.loader import load_strategy_class

        cfg = _configured(tmp_path, case)
        module = sys.modules[load_strategy_class(cfg.strategies[0].kind).__module__]
        monkeypatch.setattr(
            module, "RULES", {"trailing_activation_pct": "0.3", "trailing_distance_pct": "0.4",
                              "stop_loss_pct": "0.6"},
        )  # fmt: skip
    else:
        cfg = _configured(tmp_path, case)
    origins: dict[int, int] = {}  # each block's first candle -> its close times' origin
    real_block = SteadyRun._block

    def noting(self: SteadyRun, i: int) -> tuple[Any, ...]:
        block = real_block(self, i)
        origins[block[0]] = block[6]
        return block

    monkeypatch.setattr(SteadyRun, "_block", noting)
    one, steady, _, ran = _both(cfg, tmp_path, _window(case), monkeypatch)
    if "origins" in case:  # the blocks at the limit: counted as they are, then from the middle
        assert [bool(origins[b]) for b in sorted(origins)] == case["origins"]
    assert ran > one.summary.events // 4  # the steady loop really ran them
    general, stretched = _stored(one), _stored(steady)
    assert stretched["events"] == general["events"] > 500
    assert stretched["curve"] == general["curve"]
    assert stretched["trades"] == general["trades"]
    assert stretched["metrics"] == general["metrics"]
    assert stretched["tables"].keys() == general["tables"].keys()
    for table, rows in general["tables"].items():
        assert _normal(stretched["tables"][table]) == _normal(rows), table


def _normal(rows: list[dict[str, Any]]) -> str:
    """The rows as text, each run's own directory named alike."""
    return re.sub(r"/(one|steady)\b", "/RUN", json.dumps(rows, sort_keys=True, default=str))
