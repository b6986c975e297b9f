"""The executor against the local Binance-compatible sandbox (127.0.0.1) through the ccxt venue."""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

from test_ccxt_support import VENUE, build_stack
from test_triangular_exec_support import CYCLE, small_universe
from tradeguard.execution.gateway import OrderPathGateway
from tradeguard.model import Quote, dec
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.strategies.triangular import Ticker, TriangularScanner
from tradeguard.strategies.triangular.executor import TriangularExecConfig, TriangularExecutor

Book = tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]


def _on_grid(value: float, step: Decimal, up: bool) -> Decimal:
    return (dec(value) / step).to_integral_value(ROUND_CEILING if up else ROUND_FLOOR) * step


def _cycle_exchange() -> tuple[SandboxExchange, list[Any], dict[str, Book]]:
    """A sandbox listing the test cycle's markets with the universe's books, Alice funded."""
    universe = small_universe()
    # Binance's wire carries 8 decimals, so no tick finer than 1e-8 can be listed there.
    markets = [
        replace(m, price_tick=max(m.price_tick, Decimal("1e-8")))
        for m in universe.markets
        if m.symbol in CYCLE
    ]
    books: dict[str, Book] = {}
    ex = SandboxExchange()
    for m in markets:
        ex.add_market(
            m.symbol, m.base, m.quote, m.price_tick, m.amount_step, m.min_amount,
            m.min_notional, m.taker_fee, m.taker_fee,
        )  # fmt: skip
        raw_bids, raw_asks = universe.book(m.symbol, 3)
        bids = [
            (_on_grid(p, m.price_tick, False), _on_grid(q, m.amount_step, False))
            for p, q in raw_bids
        ]
        asks = [
            (_on_grid(p, m.price_tick, True), _on_grid(q, m.amount_step, False))
            for p, q in raw_asks
        ]
        books[m.symbol] = (bids, asks)
        ex.set_book(m.symbol, bids, asks)
    ex.add_account(ALICE_KEY, ALICE_SECRET, {"USDT": Decimal(100_000)})
    return ex, markets, books


def _quote(stack: Any, symbol: str, bids: Any, asks: Any) -> None:
    stack.market.on_quote(
        Quote(symbol, stack.clock.now_ms(), bids[0][0], bids[0][1], asks[0][0], asks[0][1])
    )
    stack.portfolio.mark(symbol, (bids[0][0] + asks[0][0]) / 2)


def _opportunity(stack: Any, markets: list[Any], books: dict[str, Book]) -> Any:
    for symbol, (bids, asks) in books.items():
        _quote(stack, symbol, bids, asks)
    scanner = TriangularScanner(markets)
    scanner.load_tickers(
        {
            s: Ticker(s, float(b[0][0]), float(a[0][0]), float(b[0][1]), float(a[0][1]))
            for s, (b, a) in books.items()
        }
    )
    opp = scanner.top(1, depth=books, prefer_start=["USDT"])[0]
    assert tuple(leg.symbol for leg in opp.legs) == CYCLE
    return opp


async def test_profitable_cycle_completes_on_the_sandbox_with_fees_in_the_received_asset(
    tmp_path: Path,
) -> None:
    ex, markets, books = _cycle_exchange()
    async with ex:
        stack = await build_stack(ex, tmp_path, risk={"arb_max_cycle_notional_usd": Decimal(5_000)})
        try:
            opp = _opportunity(stack, markets, books)
            config = TriangularExecConfig(fees_charged_in="received", start_assets=("USDT",))
            gateway = OrderPathGateway(stack.om, stack.risk, VENUE, config.strategy_id)
            executor = TriangularExecutor(gateway, config)

            rec = await executor.execute(opp, Decimal(500))

            assert rec.outcome == "completed", rec.reason
            first, second, third = rec.legs
            # Binance-style: a buy's fee comes off the base received, and that is what chains.
            assert first.fee_asset == "ETH" and first.received == first.filled - first.fee
            assert second.fee_asset == "A0009" and second.received == second.filled - second.fee
            assert third.order_amount == second.received.quantize(Decimal("0.01"), ROUND_FLOOR)
            assert rec.actual_profit > 0
            assert abs(rec.actual_profit_pct - rec.expected_profit_pct) < Decimal("0.1")
            free_usdt = ex.balances(ALICE_KEY)["USDT"][0]
            assert free_usdt == Decimal(100_000) - rec.spent + rec.returned
            assert [r["outcome"] for r in load_arb_executions(stack.storage)] == ["completed"]
        finally:
            await stack.close()


async def test_a_cycle_held_after_its_second_leg_is_no_win_on_the_sandbox(tmp_path: Path) -> None:
    """What a held cycle keeps counts at its cost, chained through legs whose fee comes off
    what they received (spent / received divides): the division's last digit used to leave an
    actual profit of 2E-26, so a held cycle read as a winning one (the summary's win rate, the
    risk engine's losing streak reset)."""
    ex, markets, books = _cycle_exchange()
    async with ex:
        stack = await build_stack(ex, tmp_path, risk={"arb_max_cycle_notional_usd": Decimal(5_000)})
        try:
            opp = _opportunity(stack, markets, books)
            bids, asks = books[CYCLE[2]]
            _quote(stack, CYCLE[2], [(p * Decimal("0.97"), q) for p, q in bids], asks)
            config = TriangularExecConfig(
                fees_charged_in="received", start_assets=("USDT",), on_leg_failure="hold"
            )
            gateway = OrderPathGateway(stack.om, stack.risk, VENUE, config.strategy_id)
            rec = await TriangularExecutor(gateway, config).execute(opp, Decimal(500))

            assert rec.outcome == "held", rec.reason
            assert rec.legs[1].fee_asset == "A0009" and "A0009" in rec.held
            assert rec.actual_profit == 0 and rec.actual_profit_pct == 0, rec.actual_profit
        finally:
            await stack.close()


async def test_fees_paid_in_bnb_count_against_the_cycle_on_the_sandbox(tmp_path: Path) -> None:
    """An account paying fees in BNB (a currency off the cycle) spends BNB on every leg: the
    record's fees and actual profit must count it, or a cycle the fees made a loss reads as a
    win (summary, losing streak) while the account's BNB shrinks."""
    ex, markets, books = _cycle_exchange()
    bnb_book = ([(Decimal("600.0"), Decimal(50))], [(Decimal("600.2"), Decimal(50))])
    async with ex:
        ex.add_market("BNB/USDT", "BNB", "USDT", Decimal("0.1"), Decimal("0.001"),
                      Decimal("0.001"), Decimal(1), Decimal("0.001"), Decimal("0.001"))  # fmt: skip
        ex.set_book("BNB/USDT", *bnb_book)
        ex.add_account(ALICE_KEY, ALICE_SECRET, {"BNB": Decimal(10)}, bnb_fees=True)
        stack = await build_stack(ex, tmp_path, risk={"arb_max_cycle_notional_usd": Decimal(5_000)})
        try:
            opp = _opportunity(stack, markets, books)
            _quote(stack, "BNB/USDT", *bnb_book)
            config = TriangularExecConfig(fees_charged_in="received", start_assets=("USDT",))
            gateway = OrderPathGateway(stack.om, stack.risk, VENUE, config.strategy_id)
            rec = await TriangularExecutor(gateway, config).execute(opp, Decimal(500))

            assert rec.outcome == "completed", rec.reason
            bnb_fees = [leg.fee for leg in rec.legs if leg.fee_asset == "BNB"]
            assert bnb_fees and all(fee > 0 for fee in bnb_fees)
            bnb_paid = Decimal(10) - ex.balances(ALICE_KEY)["BNB"][0]
            assert bnb_paid == sum(bnb_fees, Decimal(0))
            bnb_usdt = gateway.usd_price("BNB")
            assert bnb_usdt is not None
            cost = {"USDT": Decimal(1)}  # per unit of each asset reached, as the legs chain
            for leg in rec.legs[:-1]:
                cost[leg.to_asset] = cost[leg.from_asset] * leg.spent / leg.received
            dust = sum((amount * cost[asset] for asset, amount in rec.dust.items()), Decimal(0))
            before_bnb = rec.returned - rec.spent + dust
            assert rec.fees >= bnb_paid * bnb_usdt, (rec.fees, bnb_paid)
            assert abs(rec.actual_profit - (before_bnb - bnb_paid * bnb_usdt)) < Decimal("1e-9")
        finally:
            await stack.close()
