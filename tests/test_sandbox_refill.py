"""The sandbox's house refill: books clients drain are quoted again, drift moves are kept."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tradeguard.model.errors import ConfigError
from tradeguard.sandbox import SandboxConfig, SandboxExchange
from tradeguard.sandbox.client import make_ccxt_client
from tradeguard.sandbox.drift import ArbDrift
from tradeguard.sandbox.matching import BUY, HOUSE_ACCOUNT, MARKET, SELL
from tradeguard.sandbox.motion import RandomWalk
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, eventually, seeded_exchange

D = Decimal
RICH = {"USDT": D(10_000_000), "BTC": D(100)}


def _drain(ex: SandboxExchange, symbol: str, side: str, account: str) -> int:
    """Send client market orders of the best level's size until that side is empty."""
    sent = 0
    for _ in range(20):  # bounded: the seeded book holds a few levels
        bid, ask = ex.engine.best(symbol)
        level = ask if side == BUY else bid
        if level is None:
            break
        ex.engine.place(account, symbol, side, MARKET, ex.now_ms(), qty=level[1])
        sent += 1
    return sent


def _conserved(ex: SandboxExchange, deposits: dict[str, Decimal]) -> None:
    issued = ex.engine.accounts[HOUSE_ACCOUNT].issued
    totals = ex.engine.totals()
    for asset in set(totals) | set(deposits):
        assert totals.get(asset, D(0)) == deposits.get(asset, D(0)) + issued.get(asset, D(0))


def test_client_market_orders_empty_a_side_and_the_refill_quotes_the_ladder_again() -> None:
    ex = seeded_exchange()
    account = ex.add_account("rich", "s", dict(RICH))
    ladder = ex.engine.depth("BTCUSDT")

    assert _drain(ex, "BTCUSDT", BUY, account) == 2
    assert _drain(ex, "BTCUSDT", SELL, account) == 2
    assert ex.engine.best("BTCUSDT") == (None, None)  # without the refill the book stays empty

    assert ex.refill.refill_once() == ["BTCUSDT"]
    assert ex.engine.depth("BTCUSDT") == ladder
    assert ex.refill.refill_once() == []  # a full ladder is left alone
    deposits = {"USDT": D(200_000) + RICH["USDT"], "BTC": D(2) + RICH["BTC"]}
    _conserved(ex, deposits)
    assert ex.engine.accounts[HOUSE_ACCOUNT].issued["BTC"] > D(3)  # the refilled asks' BTC


def test_a_partly_taken_level_is_topped_up_and_clients_orders_at_a_price_count() -> None:
    ex = seeded_exchange()
    account = ex.add_account("rich", "s", dict(RICH))
    ex.engine.place(account, "BTCUSDT", BUY, MARKET, ex.now_ms(), qty=D("0.4"))
    assert ex.refill.short("BTCUSDT")
    ex.refill.refill_once()
    assert ex.engine.best("BTCUSDT")[1] == (D(50001), D(1))
    # A client's bid at a house price fills that level: nothing to quote.
    ex.engine.place(account, "BTCUSDT", SELL, MARKET, ex.now_ms(), qty=D(1))
    ex.engine.place(account, "BTCUSDT", BUY, "LIMIT", ex.now_ms(), qty=D(1), price=D(49999))
    assert not ex.refill.short("BTCUSDT")


async def test_a_running_sandbox_quotes_a_drained_book_again_within_the_interval() -> None:
    async with seeded_exchange(SandboxConfig(house_refill_ms=50)) as ex:
        ex.add_account(ALICE_KEY, ALICE_SECRET, dict(RICH))
        client = make_ccxt_client(ex, ALICE_KEY, ALICE_SECRET, enable_rate_limit=False)
        try:
            await client.load_markets()
            for _ in range(5):  # each buy takes the whole ask side: 3 BTC over two levels
                order = await client.create_order("BTC/USDT", "market", "buy", 3)
                assert order["filled"] == 3
                await eventually(lambda: ex.engine.best("BTCUSDT")[1] is not None)
                book = await client.fetch_order_book("BTC/USDT")
                assert book["asks"][:2] == [[50001.0, 1.0], [50002.0, 2.0]]
                assert book["bids"][0] == [49999.0, 1.0]
        finally:
            await client.close()
        assert ex.refill.refills >= 5


def test_the_refill_leaves_a_held_drift_move_taken_and_the_put_back_book_full() -> None:
    ex = SandboxExchange(SandboxConfig(universe_markets=30, seed=3))
    assets = {a for m in ex.engine.markets.values() for a in (m.base, m.quote)}
    account = ex.add_account(ALICE_KEY, ALICE_SECRET, {a: D(1_000_000) for a in assets})
    before = {s: ex.engine.depth(s) for s in ex.engine.markets}
    drift = ArbDrift(ex, every_ms=10, hold_ms=1000, edge_pct=D(1), seed=1)
    ex.drift = drift
    move = drift.open_one()
    assert move is not None
    leg = next(x for x in move.path if x.symbol == move.symbol)
    side = BUY if leg.buy else SELL
    _drain(ex, move.symbol, side, account)

    assert move.symbol not in ex.refill.refill_once()
    assert drift._taken(move)  # the move stays gone: the arb bot cannot take it twice
    drift.close()
    ex.refill.refill_once()
    assert ex.engine.depth(move.symbol) == before[move.symbol]


def test_refills_are_the_same_for_the_same_seed_and_orders() -> None:
    def run() -> dict[str, Any]:
        ex = SandboxExchange(SandboxConfig(universe_markets=30, seed=9))
        account = ex.add_account("rich", "s", {"USDT": D(10_000_000)})
        for symbol in sorted(ex.engine.markets)[:5]:
            if ex.engine.markets[symbol].quote == "USDT":
                _drain(ex, symbol, BUY, account)
        refilled = ex.refill.refill_once()
        return {"refilled": refilled, **{s: ex.engine.depth(s) for s in ex.engine.markets}}

    first = run()
    assert first["refilled"] and first == run()


def test_a_random_walk_step_leaves_nothing_to_refill() -> None:
    ex = seeded_exchange()
    walk = RandomWalk(ex, ["BTCUSDT"], every_ms=1000, step_pct=D("0.05"), seed=1)
    for _ in range(5):
        walk.step_once()
        assert not ex.refill.short("BTCUSDT")


@pytest.mark.parametrize("value", [-1, 5, 3_600_001])
def test_refill_interval_out_of_range_is_refused_by_name(value: int) -> None:
    with pytest.raises(ConfigError, match=f"sandbox.house_refill_ms={value} is out of range"):
        SandboxConfig(house_refill_ms=value)
