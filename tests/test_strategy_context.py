"""A strategy's context reads and emits; a multi-leg strategy trades through a gateway only."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from test_triangular_exec_support import START_MS, Stack, small_universe
from tradeguard.clock import SimulatedClock
from tradeguard.model import Instrument, OrderIntent, OrderStatus, OrderType, Side, dec
from tradeguard.model.errors import ConfigError
from tradeguard.model.market import Quote
from tradeguard.model.position import Position
from tradeguard.node import TradingNode
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.strategies.gateway import ExecutionGateway
from tradeguard.strategies.triangular.executor import TriangularExecConfig, TriangularExecutor
from tradeguard.strategies.triangular.strategy import TriangularStrategy
from triangular_node_support import ARB_PARAMS, paper_arb_config

# What a strategy may call on the node's context: reads, the clock, emit, and a gateway.
CONTEXT_SURFACE = {
    "now_ms",
    "position",
    "free",
    "equity",
    "instrument",
    "instruments",
    "quote",
    "emit",
    "open_order_count",
    "execution_gateway",
    "trading_mode",  # paper, sandbox or live: whether an arbitrage record is PAPER or LIVE
    "queue",  # the emitted intents, drained by the node
    "outcome_token",  # a Polymarket outcome's listed token id (read only): the map's check
}
# What the gateway offers: the ExecutionGateway protocol's members, nothing more.
GATEWAY_SURFACE = {n for n in dir(ExecutionGateway) if not n.startswith("_")}
GATEWAY_SURFACE |= set(ExecutionGateway.__annotations__)


def _public(obj: object) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


def _buy_eth(s: Stack, amount: str = "0.01") -> OrderIntent:
    levels = s.gateway.levels("ETH/USDT", Side.BUY)
    assert levels
    return OrderIntent(
        strategy_id=s.config.strategy_id,
        venue="paper",
        symbol="ETH/USDT",
        side=Side.BUY,
        amount=Decimal(amount),
        type=OrderType.LIMIT,
        price=levels[0][0],
        tag="arb-leg",
    )


def test_the_node_context_lends_no_order_manager_risk_engine_or_storage(tmp_path: Path) -> None:
    node = TradingNode(paper_arb_config(tmp_path, dict(ARB_PARAMS)))
    try:
        ctx: Any = node.strategies[0].ctx
        assert _public(ctx) == CONTEXT_SURFACE
        gateway = ctx.execution_gateway("tri", "paper")
        assert _public(gateway) == GATEWAY_SURFACE
        for reach in ("orders", "risk", "storage", "venues", "submit_order"):
            assert not hasattr(ctx, reach) and not hasattr(gateway, reach)
    finally:
        node.close()


def test_the_node_lends_one_gateway_per_strategy_and_venue_and_names_an_unknown_venue(
    tmp_path: Path,
) -> None:
    node = TradingNode(paper_arb_config(tmp_path, dict(ARB_PARAMS)))
    try:
        ctx: Any = node.strategies[0].ctx
        first = ctx.execution_gateway("tri", "paper")
        assert ctx.execution_gateway("tri", "paper") is first
        other = ctx.execution_gateway("tri-2", "paper")
        assert other is not first and other.strategy_id == "tri-2"
        assert first.venue_kind == "paper"
        with pytest.raises(ConfigError) as err:
            ctx.execution_gateway("tri", "binance")
        assert str(err.value) == (
            "strategies[tri]: venue 'binance' is not configured; configured venues: ['paper']"
        )
    finally:
        node.close()


async def test_legs_sent_through_the_node_gateway_count_in_the_run_figures(
    tmp_path: Path,
) -> None:
    node = TradingNode(paper_arb_config(tmp_path, {**ARB_PARAMS, "cooldown_s": 3600}))
    try:
        await node.start()
        assert isinstance(node.clock, SimulatedClock)
        node.clock.advance_to(START_MS)
        t = small_universe().tickers["ETH/USDT"]
        await node.on_quote(
            Quote("ETH/USDT", START_MS, dec(t.bid), dec(t.bid_size), dec(t.ask), dec(t.ask_size))
        )
        ctx: Any = node.strategies[0].ctx
        gateway = ctx.execution_gateway("tri", "paper")
        before = node.stats.orders
        intent = OrderIntent("tri", "paper", "ETH/USDT", Side.BUY, Decimal("0.01"),
                             OrderType.LIMIT, dec(t.ask), tag="arb-leg")  # fmt: skip
        result = await gateway.submit(intent)
        assert result.ok, result.reason
        assert node.stats.orders == before + 1
        journaled = {o.client_order_id for o in node.storage.load_orders()}
        assert result.order.client_order_id in journaled
    finally:
        node.close()


async def test_a_leg_through_the_gateway_is_risk_checked_journaled_and_its_fills_seen(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path)
    s.risk.halt("operator", "test")
    denied = await s.gateway.submit(_buy_eth(s))
    assert denied.status == "denied" and "HALTED" in denied.reason.upper()
    assert s.storage.load_orders() == []

    (tmp_path / "active").mkdir()
    s2 = Stack(tmp_path / "active")
    result = await s2.gateway.submit(_buy_eth(s2))
    assert result.ok and result.order is not None
    cid = result.order.client_order_id
    assert [o.client_order_id for o in s2.storage.load_orders()] == [cid]
    final = await s2.gateway.wait_terminal(cid, 5.0)
    assert final is not None and final.status is OrderStatus.FILLED
    assert sum(f.amount for f in s2.gateway.fills(cid)) == Decimal("0.01")
    s2.gateway.forget(cid)
    assert s2.gateway.fills(cid) == []


def test_the_gateway_cycle_check_is_the_risk_engines(tmp_path: Path) -> None:
    s = Stack(tmp_path)
    legs = [_buy_eth(s)] * 3
    ok = s.gateway.check_cycle(legs, Decimal(2), Decimal("0.3"), Decimal(100))
    assert ok.approved, ok.reason
    big = s.gateway.check_cycle(legs, Decimal(2), Decimal("0.3"), Decimal(6_000))
    assert not big.approved and big.code == "ARB_CYCLE_NOTIONAL"
    s.risk.halt("operator", "test")
    halted = s.gateway.check_cycle(legs, Decimal(2), Decimal("0.3"), Decimal(100))
    assert not halted.approved and halted.code == "TRADING_HALTED"


def test_the_gateway_records_executions_and_reports_results_as_its_strategys(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path, risk={"cooldown_after_loss_s": 60})
    row = {"strategy_id": "triangular", "start_asset": "USDT", "outcome": "unwound",
           "actual_profit": Decimal("-1.5"), "ts": START_MS}  # fmt: skip
    record_id = s.gateway.record_execution(row)
    stored = load_arb_executions(s.storage)
    assert [r["id"] for r in stored] == [record_id]
    assert stored[0]["outcome"] == "unwound"

    s.gateway.observe_cycle(("ETH/USDT", "A0009/ETH"), Decimal(-2), START_MS)
    assert s.risk.consecutive_losses == 1
    assert set(s.risk.cooldowns) == {("triangular", "ETH/USDT"), ("triangular", "A0009/ETH")}


def test_the_executor_refuses_a_gateway_lent_to_another_strategy(tmp_path: Path) -> None:
    s = Stack(tmp_path)
    with pytest.raises(ConfigError) as err:
        TriangularExecutor(s.gateway, TriangularExecConfig(strategy_id="other"))
    assert str(err.value) == (
        "triangular.exec.strategy_id='other' differs from the execution gateway's strategy id "
        "'triangular'; use the same id"
    )


class _ReadOnlyContext:
    """A context with the reads and emit only, as a backtest or a plain host would give."""

    def now_ms(self) -> int:
        return START_MS

    def position(self, strategy_id: str, venue: str, symbol: str) -> Position:
        return Position(venue, symbol, strategy_id)

    def free(self, venue: str, asset: str) -> Decimal:
        return Decimal(0)

    def equity(self) -> Decimal:
        return Decimal(0)

    def instrument(self, venue: str, symbol: str) -> Instrument | None:
        return None

    def instruments(self, venue: str) -> list[Instrument]:
        return []

    def quote(self, symbol: str) -> Quote | None:
        return None

    def emit(self, intent: OrderIntent) -> None:
        raise AssertionError("nothing may be emitted while binding")

    def open_order_count(self, strategy_id: str, symbol: str) -> int:
        return 0


def test_the_triangular_kind_needs_a_context_that_lends_a_gateway() -> None:
    strat = TriangularStrategy("tri", "paper", "", dict(ARB_PARAMS))
    with pytest.raises(ConfigError) as err:
        strat.bind(_ReadOnlyContext())
    assert str(err.value) == (
        "strategies[tri]: kind 'triangular' runs inside a trading node, which lends it an "
        "execution gateway; this context does not"
    )
    assert strat.executor is None


def test_a_gateway_on_a_data_only_venue_is_refused_naming_it_data_only(tmp_path: Path) -> None:
    """`params.kalshi_venue = "kalshi-data"` (the paper example's data venue) was refused with
    "venue 'kalshi-data' is not configured", a venue the config does configure."""
    cfg = paper_arb_config(tmp_path, dict(ARB_PARAMS))
    raw = cfg.model_dump(mode="json")
    raw["venues"].append({"name": "feed", "kind": "kalshi", "data_only": True,
                          "rest_url": "http://127.0.0.1:9/trade-api/v2"})  # fmt: skip
    node = TradingNode(type(cfg).model_validate(raw))
    try:
        ctx: Any = node.strategies[0].ctx
        with pytest.raises(ConfigError) as err:
            ctx.execution_gateway("tri", "feed")
        assert str(err.value) == (
            "strategies[tri]: venue 'feed' is data_only (market data, no orders); trade on a "
            "paper venue with data_venue = 'feed'; venues that trade: ['paper']"
        )
    finally:
        node.close()
