"""The `triangular` strategy kind inside a TradingNode: sandbox (ccxt) and paper venues."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import aeventually
from test_triangular_exec_support import START_MS, small_universe
from tradeguard.clock import SimulatedClock
from tradeguard.model import OrderStatus, Quote, TradingState, dec
from tradeguard.model.errors import ConfigError
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import ALICE_KEY
from tradeguard.storage.arb_repository import load_arb_executions
from triangular_node_support import (
    ARB_PARAMS,
    drifting_sandbox,
    node_config,
    paper_arb_config,
    sandbox_config,
)

RUN_S = 15.0


def _rows(node: TradingNode, outcome: str | None = None) -> list[dict[str, Any]]:
    return load_arb_executions(node.storage, strategy_id="tri", outcome=outcome)


def _sent(rows: list[dict[str, Any]]) -> set[str]:
    return {
        leg["client_order_id"]
        for r in rows
        for leg in (*r["legs"]["legs"], *r["legs"]["unwinds"])
        if leg["client_order_id"]
    }


def _node_balances(node: TradingNode, venue: str) -> dict[str, Decimal]:
    return {b.asset: b.total for b in node.portfolio.book(venue).all() if b.total}


async def _stop(node: TradingNode, run: asyncio.Task[Any]) -> Any:
    node.request_stop()
    return await asyncio.wait_for(run, RUN_S)


async def test_sandbox_node_completes_a_drifted_cycle_and_books_match_the_exchange(
    tmp_path: Path, vault_env: None
) -> None:
    async with drifting_sandbox() as ex:
        node = TradingNode(node_config(sandbox_config(tmp_path, ex)))
        try:
            await node.start()
            run = asyncio.create_task(node.run_live(duration_s=RUN_S))
            await aeventually(lambda: bool(_rows(node, "completed")) or run.done(), RUN_S)
            summary = await _stop(node, run)

            rows = _rows(node)
            done = _rows(node, "completed")
            assert done, [(r["outcome"], r["legs"]["reason"]) for r in rows]
            rec = done[0]
            assert rec["start_asset"] == "USDT"
            assert rec["actual_profit"] > 0 and Decimal(rec["legs"]["actual_profit_pct"]) > 0
            assert rec["expected_profit_pct"] >= Decimal("0.5")
            assert [leg["status"] for leg in rec["legs"]["legs"]] == ["filled"] * 3
            # Every order the node journaled belongs to a recorded cycle, and each leg is there.
            journal = {o.client_order_id: o for o in node.storage.load_orders()}
            assert set(journal) == _sent(rows)
            statuses = {journal[leg["client_order_id"]].status for leg in rec["legs"]["legs"]}
            assert statuses == {OrderStatus.FILLED}
            assert summary.orders == len(journal)
            # Nothing left working, on either side.
            assert node.storage.load_orders(open_only=True) == []
            assert ex.engine.open_orders(ex.account_id(ALICE_KEY)) == []
            # The exchange account moved by what the cycles returned minus what they spent.
            venue = {a: f + lk for a, (f, lk) in ex.balances(ALICE_KEY).items() if f + lk}
            moved = sum(
                (Decimal(r["legs"]["returned"]) - Decimal(r["legs"]["spent"]) for r in rows),
                Decimal(0),
            )
            assert venue["USDT"] == Decimal(10_000) + moved > Decimal(10_000)
            await aeventually(lambda: _node_balances(node, "sbx") == venue)
            # The cycle goes through a market the drift moved (the way round it opened, or
            # another triangle sharing that market); it saw the level taken and undid the move.
            assert ex.drift is not None and ex.drift.stats.traded_away >= 1
            traded = {leg["symbol"].replace("/", "") for leg in rec["legs"]["legs"]}
            assert any(m.symbol in traded for m in ex.drift.stats.history), traded
        finally:
            await node.stop()
            node.close()


async def test_kill_switch_mid_run_stops_new_cycles_through_the_risk_check(
    tmp_path: Path, vault_env: None
) -> None:
    async with drifting_sandbox() as ex:
        node = TradingNode(node_config(sandbox_config(tmp_path, ex)))
        try:
            await node.start()
            run = asyncio.create_task(node.run_live(duration_s=RUN_S))
            await aeventually(lambda: bool(_rows(node, "completed")) or run.done(), RUN_S)
            Path(node.config.node.kill_sentinel).write_text("halt from the test")
            await aeventually(lambda: node.risk.state is TradingState.HALTED, 5)
            runner = node.strategies[0].runner  # type: ignore[attr-defined]
            await aeventually(lambda: not runner.busy, 5)  # a cycle begun before the halt ends
            journaled = len(node.storage.load_orders())
            halted_at = len(_rows(node))
            # The drift keeps opening opportunities; the next cycle the runner starts is refused.
            await aeventually(lambda: len(_rows(node)) > halted_at or run.done(), RUN_S)
            await _stop(node, run)

            after = _rows(node)[halted_at:]
            assert after and {r["outcome"] for r in after} == {"rejected"}
            assert all("HALTED" in r["legs"]["reason"] for r in after)
            assert _sent(after) == set()
            assert len(node.storage.load_orders()) == journaled
            assert ex.engine.open_orders(ex.account_id(ALICE_KEY)) == []
        finally:
            await node.stop()
            node.close()


async def test_stopping_mid_cycle_waits_for_its_last_leg(tmp_path: Path, vault_env: None) -> None:
    async with drifting_sandbox() as ex:
        node = TradingNode(node_config(sandbox_config(tmp_path, ex)))
        try:
            await node.start()
            # Slow order answers keep the cycle in flight when the stop comes.
            ex.faults.update({"latency_ms_by_endpoint": {"/api/v3/order": 150}})
            run = asyncio.create_task(node.run_live(duration_s=RUN_S))
            await aeventually(lambda: bool(node.storage.load_orders()) or run.done(), RUN_S)
            assert not _rows(node)  # the first leg is journaled, the cycle not finished

            await _stop(node, run)

            rows = _rows(node)
            assert [r["outcome"] for r in rows] == ["completed"], rows
            assert [leg["status"] for leg in rows[0]["legs"]["legs"]] == ["filled"] * 3
            assert node.storage.load_orders(open_only=True) == []
            assert ex.engine.open_orders(ex.account_id(ALICE_KEY)) == []
        finally:
            await node.stop()
            node.close()


def test_the_example_config_is_valid_and_its_params_parse() -> None:
    import tomllib

    from tradeguard.config import load_config
    from tradeguard.strategies.triangular.strategy import parse_params

    path = Path(__file__).resolve().parents[1] / "examples" / "triangular_sandbox.toml"
    config = load_config(path, environ={})
    (strategy,) = config.strategies
    assert strategy.kind == "triangular" and config.mode.value == "sandbox"
    params = parse_params(tomllib.loads(path.read_text())["strategies"][0]["params"])
    assert params.exec.max_size_usd is not None
    assert params.exec.max_size_usd <= config.risk.arb_max_cycle_notional_usd


async def test_paper_node_executes_a_cycle_from_quotes_fed_through_on_quote(
    tmp_path: Path,
) -> None:
    params = {"cooldown_s": 60, "exec": {"start_assets": ["USDT"], "max_size_usd": "500"}}
    node = TradingNode(paper_arb_config(tmp_path, params))
    try:
        await node.start()
        assert isinstance(node.clock, SimulatedClock)
        node.clock.advance_to(START_MS)
        node.start_strategies()
        strat = node.strategies[0]
        assert "ETH/USDT" in strat.symbols and len(strat.symbols) > 3
        for symbol, t in small_universe().tickers.items():
            await node.on_quote(
                Quote(symbol, START_MS, dec(t.bid), dec(t.bid_size), dec(t.ask), dec(t.ask_size))
            )
        await node.stop_strategies()  # waits for the cycle the quotes started

        rows = _rows(node)
        assert [r["outcome"] for r in rows] == ["completed"], rows
        assert rows[0]["actual_profit"] > 0
        assert {o.client_order_id for o in node.storage.load_orders()} == _sent(rows)
        assert node.storage.load_orders(open_only=True) == []
        paper = {b.asset: b.total for b in await node.venues["paper"].fetch_balances() if b.total}
        assert _node_balances(node, "paper") == paper
        legs = rows[0]["legs"]
        moved = Decimal(legs["returned"]) - Decimal(legs["spent"])
        assert paper["USDT"] == Decimal(100_000) + moved
        assert Decimal(legs["spent"]) <= Decimal(500)  # exec.max_size_usd
    finally:
        node.close()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"max_cycle": 7}, "params.max_cycle = 7: Input should be less than or equal to 5 "
                           "(allowed: >= 3, <= 5)"),
        ({"exec": {"slippage_pct": "50"}}, "params.exec.slippage_pct = '50'"),
        ({"scan_every_s": 1}, "params.scan_every_s: unknown key; known keys: ['cooldown_s'"),
        ({"exec": {"strategy_id": "other"}}, "params.exec.strategy_id = 'other': not settable"),
        ({"symbols": ["eth-usdt"]}, "params.symbols.0 = 'eth-usdt'"),
    ],
)  # fmt: skip
def test_bad_triangular_params_stop_the_node_naming_key_value_and_range(
    tmp_path: Path, params: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as err:
        TradingNode(paper_arb_config(tmp_path, params))
    message = str(err.value)
    assert message.startswith("strategies[tri]: ") and expected in message


async def test_symbols_the_venue_does_not_list_are_named_at_start(tmp_path: Path) -> None:
    node = TradingNode(paper_arb_config(tmp_path, {"symbols": ["ETH/USDT", "DOGE/USDT"]}))
    try:
        await node.start()
        with pytest.raises(ConfigError, match=r"strategies\[tri\]: params.symbols \['DOGE/USDT'\]"):
            node.start_strategies()
    finally:
        node.close()


async def test_markets_without_a_cycle_are_refused_at_start(tmp_path: Path) -> None:
    node = TradingNode(paper_arb_config(tmp_path, {"symbols": ["ETH/USDT", "A0009/ETH"]}))
    try:
        await node.start()
        with pytest.raises(ConfigError, match="form no cycle of 3 to max_cycle=3 legs"):
            node.start_strategies()
    finally:
        node.close()


def test_default_params_trade_from_the_strategy_id_with_the_venue_fee_convention(
    tmp_path: Path,
) -> None:
    node = TradingNode(paper_arb_config(tmp_path, dict(ARB_PARAMS)))
    try:
        strat = node.strategies[0]
        config = strat.exec_config  # type: ignore[attr-defined]
        assert config.strategy_id == "tri"
        assert config.fees_charged_in == "quote"  # the paper venue charges in the quote spent
        assert config.start_assets == ("USDT",) and config.max_size_usd == Decimal(40)
    finally:
        node.close()
