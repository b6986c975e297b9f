"""The sandbox's arbitrage drift: seeded triangle opportunities that appear and vanish."""

from __future__ import annotations

import argparse
import asyncio
from decimal import Decimal
from typing import Any

import pytest

from tradeguard.cli.sandbox import DRIFT_UNIVERSE_MARKETS, add_sandbox_parser, build_config
from tradeguard.model.errors import ConfigError
from tradeguard.sandbox import SandboxConfig, SandboxExchange
from tradeguard.sandbox.client import make_ccxt_client
from tradeguard.sandbox.drift import ArbDrift, Move, find_triangles
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, eventually
from tradeguard.strategies.triangular import ArbMarket, Ticker, TriangularScanner

EDGE = Decimal(1)


def _universe(**config: Any) -> SandboxExchange:
    return SandboxExchange(SandboxConfig(universe_markets=30, seed=3, **config))


def _drift(ex: SandboxExchange, seed: int = 1, **kw: Any) -> ArbDrift:
    settings = {"every_ms": 10, "hold_ms": 1000, "edge_pct": EDGE, **kw}
    return ArbDrift(ex, seed=seed, **settings)


def _books(ex: SandboxExchange) -> dict[str, Any]:
    return {s: ex.engine.depth(s) for s in ex.engine.markets}


def _round_trip_pct(ex: SandboxExchange, move: Move) -> Decimal:
    """Profit of going round the move's path at the top of book, after taker fees, in %."""
    amount = Decimal(1)
    for leg in move.path:
        bid, ask = ex.engine.best(leg.symbol)
        assert bid is not None and ask is not None
        keep = 1 - ex.engine.markets[leg.symbol].taker_fee
        amount *= keep / ask[0] if leg.buy else bid[0] * keep
    return (amount - 1) * 100


def _fund_everything(ex: SandboxExchange) -> None:
    assets = {a for m in ex.engine.markets.values() for a in (m.base, m.quote)}
    ex.add_account(ALICE_KEY, ALICE_SECRET, {a: Decimal(1_000_000) for a in assets})


def test_generated_universe_holds_triangles_of_three_markets_over_three_assets() -> None:
    ex = _universe()
    triangles = find_triangles(ex.engine.markets)
    assert len(triangles) >= 10
    assert {"BTCUSDT", "ETHUSDT", "ETHBTC"} in [set(t) for t in triangles]
    for trio in triangles:
        specs = [ex.engine.markets[s] for s in trio]
        assets = {a for m in specs for a in (m.base, m.quote)}
        pairs = {frozenset((m.base, m.quote)) for m in specs}
        assert len(assets) == 3 and len(pairs) == 3


@pytest.mark.parametrize("markets", [30, 300])
def test_without_drift_no_cycle_of_the_generated_universe_pays_after_fees(markets: int) -> None:
    ex = SandboxExchange(SandboxConfig(universe_markets=markets, seed=markets))
    specs = list(ex.engine.markets.values())
    scanner = TriangularScanner(
        [ArbMarket(f"{m.base}/{m.quote}", m.base, m.quote, m.taker_fee) for m in specs]
    )
    tickers = []
    for m in specs:
        bid, ask = ex.engine.best(m.symbol)
        assert bid is not None and ask is not None
        tickers.append(Ticker(f"{m.base}/{m.quote}", float(bid[0]), float(ask[0])))
    scanner.load_tickers(tickers)

    assert scanner.n_cycles > markets
    assert scanner.top(1)[0].profit_pct < 0


def test_a_move_makes_one_way_round_pay_the_edge_after_fees_and_closing_restores_it() -> None:
    ex = _universe()
    before = _books(ex)
    drift = _drift(ex)

    move = drift.open_one()

    assert move is not None and drift.current is move
    after = _books(ex)
    assert [s for s in after if after[s] != before[s]] == [move.symbol]
    paid = _round_trip_pct(ex, move)
    assert EDGE <= paid == move.profit_pct < EDGE + Decimal("0.5")
    leg = next(x for x in move.path if x.symbol == move.symbol)
    best = ex.engine.best(move.symbol)[1 if leg.buy else 0]
    assert best == move.top
    drift.close()
    assert _books(ex) == before and drift.current is None


def test_the_drift_is_seeded() -> None:
    def moves(seed: int) -> list[tuple[str, Any]]:
        ex = _universe()
        drift = _drift(ex, seed=seed)
        out = []
        for _ in range(6):
            move = drift.open_one()
            assert move is not None
            out.append((move.symbol, move.path))
            drift.close()
        return out

    assert moves(4) == moves(4)
    assert moves(4) != moves(5)


async def test_clients_see_a_move_and_its_undoing_on_rest_and_the_bookticker_stream() -> None:
    async with _universe() as ex:
        _fund_everything(ex)
        client = make_ccxt_client(ex, ALICE_KEY, ALICE_SECRET, enable_rate_limit=False)
        try:
            await client.load_markets()
            symbols = list(client.markets)
            first = asyncio.ensure_future(client.watch_bids_asks(symbols))
            await eventually(lambda: len(ex.ws_subscriptions()) >= len(symbols))
            drift = _drift(ex, seed=2)

            move = drift.open_one()
            assert move is not None
            unified = client.markets_by_id[move.symbol][0]["symbol"]
            leg = next(x for x in move.path if x.symbol == move.symbol)
            side = "ask" if leg.buy else "bid"
            seen = await asyncio.wait_for(first, 5)
            assert seen[unified][side] == float(move.top[0])
            rest = await client.fetch_bids_asks([unified])
            assert rest[unified][side] == float(move.top[0])

            drift.close()
            seen = await asyncio.wait_for(client.watch_bids_asks(symbols), 5)
            original = (move.before[1] if leg.buy else move.before[0])[0][0]
            assert seen[unified][side] == float(original)
        finally:
            await client.close()


async def test_a_moved_level_a_client_takes_ends_the_hold_early_and_is_put_back() -> None:
    async with _universe() as ex:
        _fund_everything(ex)
        before = _books(ex)
        drift = _drift(ex, hold_ms=600_000)
        move = drift.open_one()
        assert move is not None
        holding = asyncio.ensure_future(drift.hold(move))
        leg = next(x for x in move.path if x.symbol == move.symbol)
        client = make_ccxt_client(ex, ALICE_KEY, ALICE_SECRET, enable_rate_limit=False)
        try:
            await client.load_markets()
            unified = client.markets_by_id[move.symbol][0]["symbol"]
            order = await client.create_order(
                unified, "limit", "buy" if leg.buy else "sell", float(move.top[1]),
                float(move.top[0]), {"timeInForce": "IOC"},
            )  # fmt: skip
            assert order["status"] == "closed" and order["filled"] == float(move.top[1])
        finally:
            await client.close()

        assert await asyncio.wait_for(holding, 5) is True
        assert (drift.stats.traded_away, drift.stats.expired) == (1, 0)
        drift.close()
        assert _books(ex) == before  # the house quotes its full size again


async def test_an_untouched_move_expires_and_stopping_the_exchange_undoes_the_last_one() -> None:
    async with _universe(arb_drift_every_ms=10, arb_drift_hold_ms=20) as ex:
        before = _books(ex)
        drift = ex.drift
        assert drift is not None
        await eventually(lambda: drift.stats.expired >= 3)
        assert drift.stats.traded_away == 0
    await eventually(lambda: drift.current is None)
    assert _books(ex) == before


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("arb_drift_every_ms", 5, "sandbox.arb_drift_every_ms=5 is out of range"),
        ("arb_drift_hold_ms", 0, "sandbox.arb_drift_hold_ms=0 is out of range"),
        ("arb_drift_edge_pct", "0", "sandbox.arb_drift_edge_pct=0 is out of range"),
        ("arb_drift_edge_pct", "lots", "sandbox.arb_drift_edge_pct: 'lots' is not a number"),
    ],
)
def test_drift_settings_out_of_range_are_refused_by_name(
    key: str, value: Any, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        SandboxConfig(**{key: value})


async def test_drift_over_markets_without_a_triangle_is_refused_at_start() -> None:
    ex = SandboxExchange(SandboxConfig(arb_drift_every_ms=100))
    ex.add_market("BTCUSDT", "BTC", "USDT", "0.01", "0.00001", "0.00001", "5")
    with pytest.raises(ConfigError, match=r"form no triangle; set sandbox\.universe_markets"):
        await ex.start()


def test_arb_drift_flag_turns_the_drift_on_over_a_generated_universe() -> None:
    parser = argparse.ArgumentParser()
    add_sandbox_parser(parser.add_subparsers())
    args = parser.parse_args(
        ["sandbox", "--port", "0", "--arb-drift", "250", "--arb-drift-edge", "0.8", "--seed", "9"]
    )
    config = build_config(args)
    assert config.arb_drift_every_ms == 250 and config.arb_drift_edge_pct == Decimal("0.8")
    assert config.universe_markets == DRIFT_UNIVERSE_MARKETS and config.seed == 9
    assert config.markets == []
