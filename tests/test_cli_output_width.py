"""Tables take the terminal's width, whatever it is, and status lines fold at 80 columns or a
narrower terminal's width; into a pipe (or a file) every line is whole, never cut at 80 columns
nor folded: `| grep`, `| cat` see each row at once.

`tradeguard orders` on the prediction-market symbols (long ones), into a pipe, and in
terminals narrower and wider than 80 columns; `tradeguard pm arb run` into a pipe and under a
pty."""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from pty_support import run_in_pty
from test_pm_arb_run_ctrl_c import _config, servers
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import Order
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

EXE = Path(sys.executable).parent / "tradeguard"
__all__ = ["servers"]  # the fixture: both local venues, their demo accounts in the vault
SYMBOLS = ("fed-above-4pct-dec:YES/PUSD", "KXFED-26DEC-T4.00:NO/USD")


def _journal(tmp: Path) -> str:
    url = f"sqlite:///{tmp / 'j.db'}"
    db = Database(url)
    db.migrate()
    for i, symbol in enumerate(SYMBOLS):
        Storage(db).upsert_order(Order(
            f"tgpmarb-leg-00000{i}", "pmarb", "polymarket", symbol, Side.BUY, OrderType.LIMIT,
            Decimal(20), Decimal("0.38"), status=OrderStatus.ACCEPTED, created_ts=1, updated_ts=1,
        ))  # fmt: skip
    db.dispose()
    return url


def _lines(screen: str) -> list[str]:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen).replace("\r", "").splitlines()


def _rows_whole(lines: list[str]) -> None:
    for i, symbol in enumerate(SYMBOLS):
        [row] = [line for line in lines if line.startswith(f"tgpmarb-leg-00000{i} ")]
        assert symbol in row and "accepted" in row and "0.38" in row and "…" not in row, row


def test_orders_into_a_pipe_are_whole_lines(tmp_path: Path) -> None:
    url = _journal(tmp_path)
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("COLUMNS", "LINES")}
    out = subprocess.run([str(EXE), "orders", "--db", url], capture_output=True, text=True,
                         env=env, timeout=60, check=True).stdout  # fmt: skip
    _rows_whole(out.splitlines())


@pytest.mark.parametrize("columns", [72, 140])
def test_orders_in_a_terminal_take_its_width_and_cut_nothing(tmp_path: Path, columns: int) -> None:
    url = _journal(tmp_path)
    code, screen = run_in_pty([str(EXE), "orders", "--db", url], cwd=tmp_path, columns=columns)
    assert code == 0, screen
    lines = _lines(screen)
    assert max(len(line) for line in lines) <= columns, screen
    assert "…" not in screen, screen  # a narrow terminal folds a long id or symbol, never cuts
    if columns >= 100:
        _rows_whole(lines)
    for word in ("accepted", "0.38", "20"):  # the figures are never folded nor cut
        assert sum(word in line for line in lines) >= 2, screen


def _pm_arb_run(tmp: Path, servers: tuple) -> list[str]:
    kalshi, pm, _loop = servers
    return [str(EXE), "pm", "arb", "run", "--config", str(_config(tmp, kalshi, pm)),
            "--duration", "1"]  # fmt: skip


def test_pm_arb_run_into_a_pipe_prints_whole_lines(tmp_path: Path, servers: tuple) -> None:
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("COLUMNS", "LINES")}
    done = subprocess.run(_pm_arb_run(tmp_path, servers), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=env, timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stdout
    start = f"Starting a sandbox run; database sqlite:///{tmp_path / 'tg.db'}."
    assert len(start) > 80
    assert start in done.stdout.splitlines(), done.stdout  # one line, as `| grep` needs it
    assert "No pair was attempted" in done.stdout


def test_pm_arb_run_in_a_narrow_terminal_folds_at_its_width(tmp_path: Path, servers: tuple) -> None:
    code, screen = run_in_pty(_pm_arb_run(tmp_path, servers), cwd=tmp_path, columns=60,
                              timeout_s=240)  # fmt: skip
    assert code == 0, screen
    lines = _lines(screen)
    [first] = [i for i, line in enumerate(lines) if line.startswith("Starting a sandbox run")]
    folded = [lines[first]]
    for line in lines[first + 1 :]:
        if not line.startswith("    "):
            break
        folded.append(line)
    assert len(folded) > 1 and max(len(line) for line in folded) <= 60, screen
    whole = "".join(line.strip() for line in folded).replace(" ", "")
    assert f"sqlite:///{tmp_path / 'tg.db'}." in whole, screen


def test_orders_in_an_80_column_terminal_keep_every_figure_of_a_part_filled_order(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    db = Database(url)
    db.migrate()
    Storage(db).upsert_order(Order(
        "tgtri-leg-1a2b3c4d5e", "tri", "binance", "PEPE/USDT", Side.SELL, OrderType.LIMIT,
        Decimal("123456789.12"), Decimal("0.0000123456"), filled=Decimal("61728394.56"),
        status=OrderStatus.PARTIALLY_FILLED, created_ts=1, updated_ts=1,
    ))  # fmt: skip
    db.dispose()
    code, screen = run_in_pty([str(EXE), "orders", "--db", url], cwd=tmp_path, columns=80)
    assert code == 0, screen
    lines = _lines(screen)
    for word in ("123456789.12", "0.0000123456", "61728394.56", "partially_filled"):
        assert any(word in line for line in lines), f"{word} cut:\n{screen}"
    # folded, never dropped: the id's and the symbol's first columns start the row
    [row] = [line for line in lines if "123456789.12" in line]
    assert row.startswith("tgtri-le") and "PEPE/USD" in row, screen
