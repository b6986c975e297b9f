"""A fill's balance change is durable with the fill: `tradeguard balances` run the moment the fill
is in the journal shows the new figures (not those of the next checkpoint), and a node killed
right after the fill leaves the database's balances, fills and ledger in agreement."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from live_support import move_books, sandbox_toml, two_symbol_sandbox, write_vault
from tradeguard.sandbox.testing import ALICE_KEY

EXE = Path(sys.executable).parent / "tradeguard"

BUYER = """
from decimal import Decimal
from pathlib import Path

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy


class BuyOnce(Strategy):
    timeframe = None

    def on_ticker(self, quote):
        marker = Path(self.params["marker"])
        if marker.exists():
            return
        marker.write_text("sent")
        # crosses the house's ask: fills at once as a taker
        self.emit(OrderIntent(self.id, self.venue, self.symbol, Side.BUY, Decimal("0.001"),
                              OrderType.LIMIT, Decimal("50100")))
"""

START = {"USDT": Decimal("100000"), "BTC": Decimal("1")}  # alice's funding (seeded_exchange)


def _fill(db: Path) -> tuple[Decimal, Decimal, Decimal, str] | None:
    """The journal's fill (price, amount, fee, fee asset), once committed."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return None
    try:
        row = conn.execute("SELECT price, amount, fee, fee_asset FROM fills").fetchone()
    except sqlite3.OperationalError:
        return None  # not created yet
    finally:
        conn.close()
    if row is None:
        return None
    return Decimal(str(row[0])), Decimal(str(row[1])), Decimal(str(row[2])), row[3]


def _after(fill: tuple[Decimal, Decimal, Decimal, str]) -> dict[str, Decimal]:
    price, amount, fee, fee_asset = fill
    out = {"BTC": START["BTC"] + amount, "USDT": START["USDT"] - price * amount}
    out[fee_asset] -= fee
    return out


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EXE), *args], capture_output=True, text=True, timeout=120, check=False
    )


def _balances(config: Path) -> dict[str, Decimal]:
    done = _cli("balances", "--config", str(config), "--json")
    assert done.returncode == 0, done.stderr
    return {r["asset"]: Decimal(r["total"]) for r in json.loads(done.stdout)}


async def _node_until_fill(tmp_path: Path, config: Path) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        str(EXE), "run", "--config", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=open(tmp_path / "node.log", "ab"),  # noqa: SIM115
    )  # fmt: skip
    for _ in range(3000):
        if _fill(tmp_path / "tg.db") is not None or proc.returncode is not None:
            break
        await asyncio.sleep(0.02)
    assert _fill(tmp_path / "tg.db") is not None, (tmp_path / "node.log").read_text()
    return proc


def _config(tmp_path: Path, ex: object) -> Path:
    (tmp_path / "buyer.py").write_text(BUYER)
    # checkpoints far apart: nothing but the fill's own commit can have written its balances
    config = sandbox_toml(tmp_path, ex, checkpoint_interval_s=60)  # type: ignore[arg-type]
    text = config.read_text().replace("strategies = []\n", "")
    config.write_text(
        text + f'[[strategies]]\nid = "buyer"\nkind = "{tmp_path / "buyer.py"}:BuyOnce"\n'
        f'venue = "binance"\nsymbol = "BTC/USDT"\n'
        f'params = {{ marker = "{tmp_path / "sent"}" }}\n'
    )
    return config


@pytest.mark.parametrize("stop", ["running", "sigkill"])
async def test_balances_show_a_fill_as_soon_as_it_is_journaled(
    stop: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_vault(tmp_path, monkeypatch)
    async with two_symbol_sandbox() as ex:
        config = _config(tmp_path, ex)
        books = asyncio.create_task(move_books(ex))
        proc = await _node_until_fill(tmp_path, config)
        try:
            if stop == "sigkill":
                os.kill(proc.pid, signal.SIGKILL)  # right after the fill's commit
                await proc.wait()
            fill = _fill(tmp_path / "tg.db")
            assert fill is not None
            shown = await asyncio.to_thread(_balances, config)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)
                await asyncio.wait_for(proc.wait(), 60)
        expected = _after(fill)
        assert {a: shown.get(a) for a in expected} == expected, (fill, shown)
        if stop == "sigkill":
            # the database agrees with itself: balances = start + fills - fees
            doctor = await asyncio.to_thread(_cli, "doctor", "--config", str(config))
            assert doctor.returncode == 0, doctor.stdout + doctor.stderr
            # and a restart finds the venue where the ledger says, nothing to adjust
            restart = await asyncio.to_thread(
                _cli, "run", "--config", str(config), "--duration", "3"
            )
            assert restart.returncode == 0, restart.stderr
            assert "Traceback" not in restart.stderr
            held = ex.balances(ALICE_KEY)
            assert {a: held[a][0] + held[a][1] for a in expected} == expected
            after = await asyncio.to_thread(_balances, config)
            assert {a: after.get(a) for a in expected} == expected
            conn = sqlite3.connect(tmp_path / "tg.db")
            try:
                adjustments = conn.execute("SELECT COUNT(*) FROM balance_adjustments").fetchone()
                fills = conn.execute("SELECT COUNT(*) FROM fills").fetchone()
            finally:
                conn.close()
            assert adjustments[0] == 0 and fills[0] == 1
        books.cancel()
