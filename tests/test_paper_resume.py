"""A paper replay SIGKILLed at any moment and resumed ends with the ledger of one clean run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from cli_support import run_cli
from node_support import write_slice
from tradeguard.chaos.paper import PaperChaosSettings, run_paper_chaos
from tradeguard.clock import SimulatedClock
from tradeguard.model import Order, OrderStatus, OrderType, Side
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Candle
from tradeguard.venues.paper import PaperVenue

D = Decimal
BTC = Instrument(
    venue="paper", symbol="BTC/USDT", base="BTC", quote="USDT", price_tick=D("0.01"),
    amount_step=D("0.00001"), min_amount=D("0.00001"), min_notional=D("5"),
    maker_fee=D("0.001"), taker_fee=D("0.001"),
)  # fmt: skip


def test_kills_before_during_and_after_commits_leave_the_clean_run_s_ledger(
    tmp_path: Path, data_dir: Path
) -> None:
    # 12,000 candles, about 140 orders. Every candle that writes commits, so "Nb" dies just
    # before a run's n-th commit (its fills and orders journaled, not committed; "1b" before
    # anything of the run is) and "Na" just after it, positions open or flat; the delays land
    # wherever they do (start-up, migration, mid-replay). No checkpoint in the run: every kill
    # comes before the first one.
    data = write_slice(data_dir, tmp_path / "btc.csv", 12_000)
    settings = PaperChaosSettings(
        workdir=tmp_path / "chaos",
        kills=10,
        seed=5,
        data_path=data,
        checkpoint_every=10_000_000,
        commit_interval_s=0,
        kill_plan=["1b", "3a", 0.6, "7b", "12a", "5a", 1.4, "9b", "20a", "4a"],
    )

    result = run_paper_chaos(settings)

    summary = json.dumps(result.to_json(), indent=1, default=str)
    assert result.kills == 10, summary
    assert result.differences == [], summary
    assert result.fills_before_creation == 0, summary
    assert result.clean, summary
    assert result.orders > 50 and result.fills == result.orders, summary  # it did trade


def _order(created_ts: int) -> Order:
    return Order(
        client_order_id="c1", strategy_id="s", venue="paper", symbol="BTC/USDT",
        side=Side.BUY, type=OrderType.MARKET, amount=D("0.001"),
        status=OrderStatus.ACCEPTED, venue_order_id="paper-o3", created_ts=created_ts,
        updated_ts=created_ts,
    )  # fmt: skip


def _candle(ts: int, price: str = "40000") -> Candle:
    p = D(price)
    return Candle("BTC/USDT", ts, p, p, p, p, D("100"))


async def test_a_restored_order_never_fills_on_a_candle_older_than_itself() -> None:
    venue = PaperVenue("paper", {"BTC/USDT": BTC}, {"USDT": D("1000")}, SimulatedClock(0))
    created = 3 * 86_400_000
    venue.restore_order(_order(created))

    venue.on_candle(_candle(created - 60_000))  # a bar that closed as the order was sent
    assert await venue.fetch_fills("BTC/USDT") == []

    venue.on_candle(_candle(created))
    fills = await venue.fetch_fills("BTC/USDT")
    assert [(f.ts, f.amount, f.trade_id) for f in fills] == [(created, D("0.001"), "paper-t1")]


async def test_a_restored_venue_accepts_a_reduce_only_sell_of_the_position_it_had() -> None:
    clock = SimulatedClock(0)
    venue = PaperVenue("paper", {"BTC/USDT": BTC}, {"BTC": D("0.002")}, clock)
    venue.restore_position("BTC/USDT", D("0.002"))
    venue.on_candle(_candle(0))
    sell = Order(
        client_order_id="c2", strategy_id="s", venue="paper", symbol="BTC/USDT",
        side=Side.SELL, type=OrderType.MARKET, amount=D("0.002"), reduce_only=True,
    )  # fmt: skip

    report = await venue.submit(sell)

    assert report.status is OrderStatus.ACCEPTED
    assert venue.net_position("BTC/USDT") == D("0.002")


def test_a_run_killed_before_its_first_checkpoint_is_resumed_not_started_over(
    tmp_path: Path, data_dir: Path, capsys, monkeypatch
) -> None:
    data = write_slice(data_dir, tmp_path / "btc.csv", 1_500)  # about 55 commits
    config = tmp_path / "tg.toml"
    config.write_text(
        "[node]\ncheckpoint_every = 10000000\nreplay_commit_interval_s = 0\n\n"
        f'[[data]]\npath = "{data}"\nsymbol = "BTC/USDT"\nvenue = "paper"\n'
    )
    args = ["run", "--until-end", "--db", f"sqlite:///{tmp_path / 'tg.db'}", "--config"]
    args.append(str(config))
    killed = subprocess.run(
        [sys.executable, "-m", "tradeguard.chaos.paper", "--kill-at", "4a", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    monkeypatch.chdir(tmp_path)
    again = run_cli(capsys, *args)  # resumed in this process

    assert again.returncode == 0, again.stderr
    assert "Resuming from the stored state" in again.stdout + again.stderr
    assert "Starting a paper run" not in again.stdout + again.stderr


def test_a_resumed_multi_pair_replay_values_every_open_position_as_the_first_run_did(
    tmp_path: Path, data_dir: Path, capsys, monkeypatch
) -> None:
    """Four BTC-quoted pairs end with positions open in two of them: the run resumed after the
    end (nothing left to replay) reports the same equity and unrealized P&L, every pair's last
    close restored as its mark, not only the pair of the very last candle."""
    from tradeguard.cli.main import main

    monkeypatch.setenv("TG_DATA_DIR", str(data_dir))
    cfg = str(Path(__file__).resolve().parents[1] / "examples" / "token_unlock.toml")
    argv = ["run", "--until-end", "--json", "--config", cfg, "--db", f"sqlite:///{tmp_path}/u.db"]
    figures = []
    for _ in range(2):
        assert main(argv) == 0
        out = json.loads(capsys.readouterr().out)
        figures.append((out["resumed"], out["end_equity"], out["unrealized_pnl"], out["events"]))
        symbols = {p["symbol"] for p in out["open_positions"]}
    first, again = figures
    assert len(symbols) >= 2 and Decimal(first[2]) != 0, figures  # the case the test is about
    assert again[0] is True and again[3] == 0 and first[0] is False
    assert again[1:3] == first[1:3], figures
