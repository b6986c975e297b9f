"""`tradeguard fills`: the journal's fills as CSV, exact decimals, filtered by time, venue and
symbol, paged through the database, written whole or not at all; bad input named, exit 2."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from node_support import write_paper_toml, write_slice
from tradeguard.cli import main
from tradeguard.cli.export import COLUMNS
from tradeguard.storage import Database
from tradeguard.storage.repository import Storage


@pytest.fixture
def journal(tmp_path: Path, data_dir: Path) -> Path:
    """A paper run's database with a few dozen fills."""
    cfg = write_paper_toml(tmp_path, write_slice(data_dir, tmp_path / "btc.csv", 3000))
    assert main(["run", "--config", str(cfg), "--until-end"]) == 0
    return tmp_path / "tg.db"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_every_fill_is_exported_with_the_journal_s_exact_figures(journal, tmp_path, capsys):
    out = tmp_path / "fills.csv"
    assert main(["fills", "--db", f"sqlite:///{journal}", "--out", str(out)]) == 0
    rows = _rows(out)
    db = Database(f"sqlite:///{journal}")
    try:
        storage = Storage(db)
        fills = storage.load_fills()
        total_fees = storage.fill_fees()[1]
    finally:
        db.dispose()
    assert len(rows) == len(fills) > 10
    assert f"{len(fills)} fill(s) written" in capsys.readouterr().out
    assert list(rows[0]) == list(COLUMNS)
    for row, fill in zip(rows, fills, strict=True):
        assert (row["trade_id"], row["side"], row["venue"]) == (
            fill.trade_id, fill.side.value, fill.venue,
        )  # fmt: skip
        assert Decimal(row["price"]) == fill.price and Decimal(row["amount"]) == fill.amount
        assert Decimal(row["quote_amount"]) == fill.price * fill.amount
        assert row["fee"] == str(fill.fee) and row["strategy_id"] == "ma_cross"
        assert row["time_utc"].endswith("Z") and int(row["ts_ms"]) == fill.ts
    assert sum(Decimal(r["fee_in_quote"]) for r in rows) == total_fees


def test_paging_and_filters_give_the_same_fills_in_the_same_order(journal, tmp_path):
    db = Database(f"sqlite:///{journal}")
    try:
        storage = Storage(db)
        whole = [f.trade_id for f in storage.load_fills()]
        paged = [f.trade_id for f, _ in storage.fill_pages(page=3)]
        assert paged == whole
        mid_ts = storage.load_fills()[len(whole) // 2].ts
        later = [f.trade_id for f, _ in storage.fill_pages(since_ts=mid_ts, page=4)]
        earlier = [f.trade_id for f, _ in storage.fill_pages(until_ts=mid_ts, page=4)]
        assert earlier + later == whole
        assert list(storage.fill_pages(symbol="ETH/USDT")) == []
    finally:
        db.dispose()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "last week"], "--since 'last week': not a date"),
        (["--since", "2022-01-02", "--until", "2022-01-01"], "must be after --since"),
        (["--out", "/no/such/folder/f.csv"], "folder '/no/such/folder' does not exist"),
        # '' (a script's unset variable) printed the CSV to the terminal instead
        (["--out", ""], "--out '' is empty (an unset variable?)"),  # not "a directory"
    ],
)
def test_bad_input_is_named_and_leaves_no_file(journal, tmp_path, capsys, args, message):
    assert main(["fills", "--db", f"sqlite:///{journal}", *args]) == 2
    assert message in capsys.readouterr().err
    assert [p.name for p in tmp_path.glob("*.csv")] == ["btc.csv"]  # the data, nothing written
    assert not list(tmp_path.glob(".*.tmp"))


KILL_CHILD = """
import os, signal, sys
from tradeguard.cli import export, main
rows_seen = []
plain = export.fill_row
def dying_row(fill, strategy_id):
    rows_seen.append(fill)
    if len(rows_seen) == 5:  # some rows are in the temp file by now
        os.kill(os.getpid(), signal.SIGKILL)
    return plain(fill, strategy_id)
export.fill_row = dying_row
sys.exit(main(["fills", "--db", sys.argv[1], "--out", sys.argv[2]]))
"""


def test_an_export_killed_midway_leaves_the_previous_file_whole(journal, tmp_path):
    import signal
    import subprocess
    import sys

    out = tmp_path / "fills.csv"
    out.write_text("the export of yesterday\n")
    done = subprocess.run(
        [sys.executable, "-c", KILL_CHILD, f"sqlite:///{journal}", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert out.read_text() == "the export of yesterday\n"  # never half of the new one
    [tmp] = tmp_path.glob(".fills.csv.*.tmp")  # what the killed process was writing
    assert tmp.stat().st_mode & 0o777 == 0o600  # private, like the journal it copies
