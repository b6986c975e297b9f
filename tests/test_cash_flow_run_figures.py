"""Outside money in the run's own figures and across a day's turn: a deposit is no return and a
declared withdrawal no drawdown in `node.figures()` (the CLI, API and dashboard read them), as in
the loss limits; a withdrawal declared after the balance check booked it leaves the next UTC
day's opening equity at the equity the day opened with; a SIGKILL right after a count
loses none of it. Real ccxt against the sandbox on
127.0.0.1, the CLI in a child process."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cash_flow_support import booked, declared
from running_support import running
from test_cash_flow_counting import _quote
from test_risk_cash_flows import deposit_then_sigkill
from test_spot_short_clear_sandbox import _toml
from tradeguard.model.events import Event, EventKind
from tradeguard.node.checkpoint import checkpoint
from tradeguard.sandbox.testing import ALICE_KEY, seeded_exchange

D = Decimal
DAY_MS = 86_400_000


@pytest.mark.usefixtures("vault_env")
async def test_a_deposit_found_is_no_return_in_the_runs_figures(tmp_path: Path) -> None:
    async with seeded_exchange() as ex:
        cfg, _ = _toml(tmp_path, ex)
        async with running(cfg) as node:
            await _quote(node, "BTC/USDT", 50_000)  # 100,000 USDT + 1 BTC: 150,000
            await booked(node, ex, 15_000)
            await _quote(node, "BTC/USDT", 50_100)  # trading made 100
            figures = node.figures()
            assert figures.equity == D(165_100)
            assert figures.total_pnl == D(100)  # was 15,100: the deposit as profit
            assert figures.peak_equity == D(165_100)


@pytest.mark.usefixtures("vault_env")
async def test_a_declared_withdrawal_is_no_drawdown_in_the_runs_figures(tmp_path: Path) -> None:
    async with seeded_exchange() as ex:
        cfg, path = _toml(tmp_path, ex)
        async with running(cfg) as node:
            await _quote(node, "BTC/USDT", 50_000)  # 150,000
            checkpoint(node, node.clock.now_ms())  # the run's figures, as the live loop stores
        ex.engine.accounts[ex.account_id(ALICE_KEY)].bal("USDT").free -= D(30_000)
        await declared(path, "-30000")
        async with running(cfg) as node:
            await _quote(node, "BTC/USDT", 50_000)  # 120,000: nothing lost trading
            figures = node.figures()
            assert figures.equity == D(120_000)
            assert figures.max_drawdown_pct == 0  # was 20: the withdrawal as a drawdown
            assert figures.drawdown_pct == 0
            assert figures.total_pnl == 0  # was -30,000


@pytest.mark.usefixtures("vault_env")
async def test_a_withdrawal_declared_after_the_sync_is_no_profit_the_next_day(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        cfg, path = _toml(tmp_path, ex)
        async with running(cfg) as node:
            await _quote(node, "BTC/USDT", 50_000)  # 150,000
            await booked(node, ex, -300)  # booked as a decrease no one explained
            await _quote(node, "BTC/USDT", 50_000)  # the node sees 149,700
        await declared(path, "-300")
        async with running(cfg) as node:
            risk = node.risk
            await _quote(node, "BTC/USDT", 50_000, node.clock.now_ms() + DAY_MS)  # next day
            assert node.portfolio.equity() == D(149_700)
            # the day opens at the equity the last one closed with: was 149,400, so that the
            # declaration showed as 300 of profit, hiding as much of the day's losses
            assert risk.day_start_equity == D(149_700)
            assert risk.peak_equity == D(149_700)


@pytest.mark.usefixtures("vault_env")
async def test_a_sigkill_right_after_a_deposit_is_counted_keeps_it_out_of_the_run(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        cfg, path = _toml(tmp_path, ex)
        await deposit_then_sigkill(ex, tmp_path, path, "after")
        events: list[Event] = []
        async with running(cfg, events) as node:
            await _quote(node, "BTC/USDT", 50_100, node.clock.now_ms() + DAY_MS)
            [summary] = [e for e in events if e.kind == EventKind.DAILY_SUMMARY]
            # 150,000 at the day's open, 250 deposited, 100 made: was 350, the deposit as P&L
            assert (D(summary.data["pnl"]), D(summary.data["equity"])) == (D(100), D(150_350))
            assert node.figures().total_pnl == D(100)


@pytest.mark.usefixtures("vault_env")
async def test_a_withdrawal_of_an_earlier_day_declared_later_is_no_profit_today(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        cfg, path = _toml(tmp_path, ex)
        async with running(cfg) as node:
            tomorrow = node.clock.now_ms() + DAY_MS
            await _quote(node, "BTC/USDT", 50_000)  # 150,000
            await booked(node, ex, -300)  # booked as a decrease no one explained
            await _quote(node, "BTC/USDT", 50_000)  # the node sees 149,700
            await _quote(node, "BTC/USDT", 50_000, tomorrow)  # the next day opens at 149,700
            assert node.risk.day_start_equity == D(149_700)
        await declared(path, "-300")
        async with running(cfg) as node:
            await _quote(node, "BTC/USDT", 50_000, tomorrow + 1)
            # the 300 left yesterday: today opened without it, so today's P&L is 0 (was
            # 149,400 at the open: 300 of profit, hiding as much of today's losses)
            assert node.risk.day_start_equity == D(149_700)
