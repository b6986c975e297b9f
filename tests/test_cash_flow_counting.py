"""When outside money is counted: a quote arriving between a deposit's booking and its count
moves the drawdown peak once, at one price; a deposit of an asset with no price yet waits for
its price rather than becoming profit when one appears; on PostgreSQL an adjustment committed
after a newer one is still counted; the node's daily summary leaves transfers out of the day's
P&L. Real ccxt against the sandbox exchange on 127.0.0.1, real PostgreSQL at 127.0.0.1:5432."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import pytest

from node_support import trading_live
from test_node_balance_sync import _watched_node
from test_spot_short_clear_sandbox import _toml
from tradeguard.execution.reconcile import reconcile_all
from tradeguard.model.enums import TradingState
from tradeguard.model.events import Event, EventKind
from tradeguard.model.market import Quote
from tradeguard.model.text import NAME_CHARS
from tradeguard.node import TradingNode
from tradeguard.node.cash_flows import apply_cash_flows
from tradeguard.sandbox.testing import ALICE_KEY, eventually, seeded_exchange
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

D = Decimal
DAY_MS = 86_400_000


async def _quote(node: TradingNode, symbol: str, mid: int, ts: int | None = None) -> None:
    at = node.clock.now_ms() if ts is None else ts
    await node.on_quote(Quote(symbol, at, D(mid - 1), D(1), D(mid + 1), D(1), venue="binance"))


@pytest.mark.usefixtures("vault_env")
async def test_a_quote_between_a_deposit_booked_and_counted_moves_the_peak_once(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        cfg, _ = _toml(tmp_path, ex)
        node = TradingNode(cfg)
        try:
            await node.start()
            risk = node.risk
            await _quote(node, "BTC/USDT", 50_000)  # 100,000 USDT + 1 BTC: 150,000
            assert (risk.day_start_equity, risk.peak_equity) == (D(150_000), D(150_000))
            ex.engine.accounts[ex.account_id(ALICE_KEY)].bal("BTC").free += D(1)  # deposited
            report = await reconcile_all(node, "periodic")  # books it: 1 BTC more
            assert [D(r["difference"]) for r in report.balance_adjustments] == [D(1)]
            # BTC moves to 51,000 while the reconciliation still reads other venues
            await _quote(node, "BTC/USDT", 51_000)
            apply_cash_flows(node)  # the reconciliation's own count, once it is done
            # equity 100,000 + 2 x 51,000; the deposit is 51,000 of it, the rest trading
            assert node.portfolio.equity() == D(202_000)
            assert risk.day_start_equity == D(201_000)
            assert risk.peak_equity == D(202_000)  # was 253,000: the deposit counted twice
            assert risk.state is TradingState.ACTIVE, risk.state_reason
        finally:
            await node.stop()
            node.close()


@pytest.mark.usefixtures("vault_env")
async def test_a_deposit_with_no_price_yet_is_counted_when_its_price_appears(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        ex.add_market("ETHUSDT", "ETH", "USDT", "0.01", "0.0001", "0.0001", "5")
        _, path = _toml(tmp_path, ex)
        text = path.read_text(encoding="utf-8")
        both = 'symbols = ["BTC/USDT", "ETH/USDT"]'
        path.write_text(text.replace('symbols = ["BTC/USDT"]', both))
        from tradeguard.config import load_config

        node = TradingNode(load_config(str(path)))
        try:
            await node.start()
            risk = node.risk
            await _quote(node, "BTC/USDT", 50_000)
            assert risk.day_start_equity == D(150_000)
            ex.engine.accounts[ex.account_id(ALICE_KEY)].bal("ETH").free += D(2)
            await reconcile_all(node, "periodic")
            apply_cash_flows(node)  # no ETH price yet: nothing to value it at
            await _quote(node, "ETH/USDT", 3_000)
            assert node.portfolio.equity() == D(156_000)
            # the 6,000 of ETH is no day's profit: the baselines took it with its price
            assert (risk.day_start_equity, risk.peak_equity) == (D(156_000), D(156_000))
            apply_cash_flows(node)
            assert risk.day_start_equity == D(156_000)  # counted once
        finally:
            await node.stop()
            node.close()


@pytest.mark.usefixtures("vault_env")
async def test_an_adjustment_committed_after_a_newer_one_is_counted_on_postgresql(
    tmp_path: Path, pg_url: str
) -> None:
    async with seeded_exchange() as ex:
        cfg, path = _toml(tmp_path, ex)
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace(cfg.node.database_url, pg_url))
        from tradeguard.config import load_config

        node = TradingNode(load_config(str(path)))
        first = Database(pg_url)
        second = Database(pg_url)
        try:
            await node.start()
            risk = node.risk
            await _quote(node, "BTC/USDT", 50_000)
            assert risk.day_start_equity == D(150_000)
            now = node.clock.now_ms()
            a, b = Storage(first), Storage(second)
            why = "deposit recorded by ops: from the bank"
            with a.transaction():  # its id is drawn first, its commit comes last
                low = a.record_balance_adjustment("binance", "USDT", D(0), D(100), why, now)
                high = b.record_balance_adjustment("binance", "USDT", D(0), D(40), why, now)
                assert low < high
                apply_cash_flows(node)
                assert risk.day_start_equity == D(150_040)
            apply_cash_flows(node)
            assert risk.day_start_equity == D(150_140)  # the lower id, committed later
            apply_cash_flows(node)
            assert risk.day_start_equity == D(150_140)
        finally:
            first.dispose()
            second.dispose()
            await node.stop()
            node.close()


@pytest.mark.usefixtures("vault_env")
async def test_the_daily_summary_leaves_a_deposit_out_of_the_days_pnl(tmp_path: Path) -> None:
    async with seeded_exchange() as ex:
        cfg, _ = _toml(tmp_path, ex)
        node = TradingNode(cfg)
        events: list[Event] = []
        node.bus.subscribe(events.append)
        try:
            await node.start()
            now = node.clock.now_ms()
            await _quote(node, "BTC/USDT", 50_000, now)
            ex.engine.accounts[ex.account_id(ALICE_KEY)].bal("USDT").free += D(250)
            await reconcile_all(node, "periodic")
            apply_cash_flows(node)
            await _quote(node, "BTC/USDT", 50_100, now + DAY_MS)  # the next UTC day opens
            [summary] = [e for e in events if e.kind == EventKind.DAILY_SUMMARY]
            assert (D(summary.data["pnl"]), D(summary.data["equity"])) == (D(100), D(150_350))
        finally:
            await node.stop()
            node.close()


@pytest.mark.usefixtures("vault_env")
async def test_a_hostile_asset_name_from_the_venue_is_cut_in_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hostile = "Z" * 5000  # an asset name as long as a venue cares to send
    async with seeded_exchange() as ex:
        node, events = _watched_node(tmp_path, ex)
        await node.start()
        with caplog.at_level(logging.INFO, logger="tradeguard"):
            async with trading_live(node, duration_s=30):
                await _quote(node, "BTC/USDT", 50_000)
                ex.engine.accounts[ex.account_id(ALICE_KEY)].bal(hostile).free += D(1)
                await eventually(lambda: node.portfolio.book("binance").total(hostile) == D(1))
                await _quote(node, "BTC/USDT", 50_000)
        found = [e for e in events if e.kind == EventKind.BALANCE_DISCREPANCY]
        assert found, events
        assert all(len(str(e.data["asset"])) <= NAME_CHARS for e in found), found
        lines = [r.getMessage() for r in caplog.records]
        assert any("balance discrepancy" in line for line in lines), lines
        assert all(hostile[:200] not in line for line in lines), [x[:300] for x in lines]
