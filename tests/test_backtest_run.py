"""The backtest command: clean run directories, windows and timeframes, exports, parity with a
paper replay, and the vectorised hook matching its incremental computation."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from backtest_support import STRATEGY_FILE, write_config
from tradeguard.backtest.frames import parse_date
from tradeguard.backtest.runner import BacktestWindow, run_backtest
from tradeguard.backtest.vector import FrameStrategy
from tradeguard.cli.main import main
from tradeguard.config import load_config
from tradeguard.marketdata.loaders import load_candles
from tradeguard.node import TradingNode
from tradeguard.strategies.loader import load_strategy_class

WINDOW = ["--from", "2018-01-12", "--to", "2018-01-15"]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_backtest_writes_a_fresh_run_directory_and_refuses_to_reuse_it(tmp_path, capsys, data_dir):
    cfg = write_config(tmp_path)
    out = tmp_path / "run"
    code, stdout, _ = run_cli(capsys, "backtest", "--config", str(cfg), "--out", str(out),
                              "--json", *WINDOW)  # fmt: skip
    assert code == 0
    metrics = json.loads(stdout)
    assert metrics["trades"] > 0
    assert metrics["first_ts"] >= parse_date("2018-01-12")
    assert metrics["last_ts"] <= parse_date("2018-01-15")
    assert metrics["candles"] == 2 * 3 * 288  # two pairs, three days of 5-minute candles
    with (out / "trades.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == metrics["trades"]
    assert {r["exit_reason"] for r in rows} <= {"exit_signal", "stop_loss", "take_profit"}
    assert len(json.loads((out / "equity.json").read_text())) > 800
    assert (out / "report.html").stat().st_size > 10_000

    code, _, err = run_cli(capsys, "backtest", "--config", str(cfg), "--out", str(out), *WINDOW)
    assert code == 2
    assert "not empty" in err and str(out) in err and len(err.strip().splitlines()) == 1


def test_timeframe_aggregates_the_candles_and_a_bad_one_is_named(tmp_path, capsys, data_dir):
    cfg = write_config(tmp_path, pairs=("ETH",))
    out = str(tmp_path / "h1")
    code, stdout, _ = run_cli(capsys, "backtest", "--config", str(cfg), "--out", out,
                              "--timeframe", "1h", "--json", *WINDOW)  # fmt: skip
    assert code == 0
    assert json.loads(stdout)["candles"] == 3 * 24
    code, _, err = run_cli(capsys, "backtest", "--config", str(cfg), "--timeframe", "7m")
    assert code == 2
    assert err.strip() == "tradeguard: --timeframe '7m': not one of 1m, 5m, 15m, 1h, 4h, 1d"


def test_compare_puts_two_runs_side_by_side(tmp_path, capsys, data_dir):
    cfg = write_config(tmp_path, pairs=("ETH",))
    for name, tf in (("five", "5m"), ("fifteen", "15m")):
        assert main(["backtest", "--config", str(cfg), "--out", str(tmp_path / name),
                     "--timeframe", tf, "--json", *WINDOW]) == 0  # fmt: skip
    capsys.readouterr()
    html = tmp_path / "cmp.html"
    code, stdout, _ = run_cli(capsys, "backtest", "compare", str(tmp_path / "five"),
                              str(tmp_path / "fifteen"), "--html", str(html), "--json")  # fmt: skip
    assert code == 0
    table = json.loads(stdout)
    five = json.loads((tmp_path / "five" / "metrics.json").read_text())
    assert table["trades"] == {"five": str(five["trades"]), "fifteen": table["trades"]["fifteen"]}
    assert html.read_text().count('class="series"') == 2


def _paper_trades(config_path: Path, db: Path) -> list[tuple]:
    import asyncio

    config = load_config(config_path)
    config.node.database_url = f"sqlite:///{db}"
    node = TradingNode(config)
    try:

        async def go() -> None:
            await node.start()
            await node.run(until_end=True)
            await node.stop()

        asyncio.run(go())
        return [
            (t.symbol, t.opened_ts, t.closed_ts, t.entry_price, t.exit_price, t.amount, t.pnl)
            for t in sorted(node.portfolio.closed_trades, key=lambda t: (t.closed_ts, t.symbol))
        ]
    finally:
        node.close()


def test_a_paper_replay_and_a_backtest_of_one_config_make_the_same_trades(tmp_path, data_dir):
    paper_cfg = write_config(tmp_path, mode="paper")
    paper = _paper_trades(paper_cfg, tmp_path / "paper.db")
    result = run_backtest(load_config(write_config(tmp_path)), tmp_path / "bt", BacktestWindow())
    backtest = [
        (t.symbol, t.entry_ts, t.exit_ts, t.entry_price, t.exit_price, t.amount, t.pnl)
        for t in result.trades
    ]
    assert len(paper) > 100
    assert backtest == paper
    # The journal too, row for row: the backtest's batched commits store what the paper run's
    # per-event commits do (only the mode and the wall-clock fields differ).
    paper_rows = _journal(tmp_path / "paper.db")
    backtest_rows = _journal(tmp_path / "bt" / "backtest.db")
    assert len(paper_rows["orders"]) == len(paper) * 2 + 1  # one still open at the end
    assert len(paper_rows["events"]) > 2000
    for table, rows in paper_rows.items():
        assert backtest_rows[table] == rows, table


def _journal(db: Path) -> dict[str, list[str]]:
    """Every row of the journal tables, in storage order, as text; the client order id prefix
    (random per process), the run's mode and its wall-clock durations masked.

    An acknowledgement's transition is written with the next commit, which a paper run makes on
    wall-clock time: transitions are compared order by order, each order's in storage order.
    """
    import re
    import sqlite3

    masks = (
        (re.compile(r"\btg[0-9a-z]+-"), "tg*-"),
        (re.compile(r'"mode": "(paper|backtest)"'), '"mode": *'),
        (re.compile(r'"(duration_s|elapsed_s)": [0-9.e-]+'), r'"\1": *'),
    )
    tables = {
        "orders": "*", "fills": "*", "positions": "*", "balances": "*", "events": "*",
        "order_transitions": "client_order_id, ts, from_status, to_status, reason",
    }  # fmt: skip
    conn = sqlite3.connect(db)
    try:
        out = {}
        for table, columns in tables.items():
            rows = []
            order = "client_order_id, id" if table == "order_transitions" else "rowid"
            for row in conn.execute(f"SELECT {columns} FROM {table} ORDER BY {order}"):
                text = repr(row)
                for pattern, mask in masks:
                    text = pattern.sub(mask, text)
                rows.append(text)
            out[table] = rows
        return out
    finally:
        conn.close()


class _Recording(FrameStrategy):
    window = 400

    def __init__(self) -> None:
        cls = load_strategy_class(f"{STRATEGY_FILE}:EmaCross")
        self._inner = cls("s", "paper", "ETH/BTC", {"fast": 12, "slow": 26})
        super().__init__("s", "paper", "ETH/BTC", {})
        self.rows: list[dict[str, float]] = []

    def prepare(self, frame):
        return self._inner.prepare(frame)

    def on_row(self, candle, row):
        self.rows.append(row.to_dict())


def test_vectorised_signals_match_the_incremental_ones(data_dir):
    candles = load_candles(data_dir / "candles" / "ETH_BTC-5m.feather", symbol="ETH/BTC")
    whole = _Recording()
    whole.precompute(candles)
    rolling = _Recording()
    for c in candles:
        whole.on_candle(c)
        rolling.on_candle(c)
    assert len(whole.rows) == len(rolling.rows) == len(candles) > 5000
    crosses = sum(r["cross_up"] for r in whole.rows)
    assert crosses > 50
    for a, b in zip(whole.rows, rolling.rows, strict=True):
        assert (a["cross_up"], a["cross_down"]) == (b["cross_up"], b["cross_down"])
        assert a["diff"] == pytest.approx(b["diff"], rel=1e-9, abs=1e-15)


class _TwoTimeframes(FrameStrategy):
    window = 50
    timeframes = ("15m", "1h")

    def __init__(self) -> None:
        super().__init__("s", "paper", "ETH/BTC", {})
        self.bars: dict[int, list] = {900: [], 3600: []}

    def on_bar(self, interval_s, bar):
        self.bars[interval_s].append(bar)


def test_a_strategy_gets_longer_timeframes_of_its_symbol(data_dir):
    from tradeguard.marketdata.candles import aggregate

    candles = load_candles(data_dir / "candles" / "ETH_BTC-5m.feather", symbol="ETH/BTC")[:600]
    strat = _TwoTimeframes()
    for c in candles:
        strat.on_candle(c)
    for interval in (900, 3600):
        expected = aggregate(candles, interval)
        # every bar but a last partial one, the same as aggregating the whole series
        assert strat.bars[interval] == expected[: len(strat.bars[interval])]
        assert len(strat.bars[interval]) >= len(expected) - 1
    by_ts = {c.ts: c for c in candles}
    for bar in strat.bars[3600][1:4]:  # the first hour may start mid-way
        assert bar.open == by_ts[bar.ts].open
        assert bar.close == by_ts[bar.ts + 55 * 60_000].close


def test_a_backtest_batches_its_journal_commits(tmp_path, data_dir):
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    commits: list[int] = []

    def count(_conn) -> None:
        commits.append(1)

    event.listen(Engine, "commit", count)
    try:
        window = BacktestWindow(parse_date("2018-01-12"), parse_date("2018-01-15"),
                                commit_every=1_000)  # fmt: skip
        result = run_backtest(load_config(write_config(tmp_path)), tmp_path / "run", window)
    finally:
        event.remove(Engine, "commit", count)
    candles = result.summary.events
    assert result.summary.orders > 50
    # start-up writes (migrations, balances, reconciliation) and one commit per 1,000 candles
    assert len(commits) < 40 + candles // 1_000
    assert len(commits) < result.summary.orders / 2


def test_a_backtest_run_database_is_written_without_a_wal(tmp_path, data_dir):
    import sqlite3

    window = BacktestWindow(parse_date("2018-01-12"), parse_date("2018-01-13"))
    result = run_backtest(load_config(write_config(tmp_path)), tmp_path / "run", window)
    assert result.summary.orders > 0
    conn = sqlite3.connect(tmp_path / "run" / "backtest.db")
    try:  # WAL mode would stay with the file; the run's rollback journal was in memory
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == result.summary.orders
    finally:
        conn.close()


def test_a_backtest_mode_config_run_on_its_own_database_keeps_the_durable_journal(tmp_path):
    # `tradeguard run` of a mode = "backtest" config writes the config's database and resumes
    # from its last commit: a kill -9 must not leave a half-written transaction in the file.
    from sqlalchemy import text

    config = load_config(write_config(tmp_path))
    config.node.database_url = f"sqlite:///{tmp_path / 'kept.db'}"
    node = TradingNode(config)
    try:
        with node.db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    finally:
        node.close()


def test_each_equity_point_counts_every_pair_closing_at_its_time(tmp_path, data_dir):
    # Four pairs close a candle at the same time; the sample taken at that time must mark all
    # four, so the last point (the end equity of the return, CAGR and Calmar) is the run's own.
    cfg = load_config(Path(__file__).resolve().parents[1] / "examples" / "token_unlock.toml")
    window = BacktestWindow(parse_date("2018-01-12"), parse_date("2018-01-20"))
    result = run_backtest(cfg, tmp_path / "run", window)
    assert result.metrics["open_positions"] > 0  # held marks move the end equity
    assert result.curve[-1][1] == pytest.approx(float(result.summary.end_equity), rel=1e-12)
    assert result.metrics["end_equity"] == pytest.approx(float(result.summary.end_equity))
