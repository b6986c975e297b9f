"""Property: whatever the sequence of intents, fills and price moves, no approved order breaches a
limit, and nothing but a kill-switch flatten is approved while HALTED."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_risk_support import DAY_MS, T0, D, Rig
from tradeguard.model import OrderIntent, OrderType, Side, TradingState
from tradeguard.model.money import ZERO

SYMBOLS = ("BTC/USDT", "ETH/USDT")
HUNDRED = D(100)

intents = st.tuples(
    st.just("intent"),
    st.sampled_from(["s1", "s2", "s3", "s4", "s5", "s6"]),
    st.sampled_from(SYMBOLS),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from([OrderType.LIMIT, OrderType.MARKET]),
    st.integers(300, 60_000),  # amount in steps of 0.0001
    st.integers(-300, 300),  # limit price offset from mid, in basis points
    st.one_of(st.none(), st.integers(-2000, 2000)),  # stop offset in basis points
    st.sampled_from([False, False, False, True]),  # reduce_only
)
moves = st.tuples(st.just("move"), st.sampled_from(SYMBOLS), st.integers(-800, 800))
waits = st.tuples(
    st.just("wait"),
    st.one_of(st.integers(0, 120_000), st.integers(0, 30 * 3_600_000)),
    st.booleans(),  # fresh market data arrives meanwhile
)
errors = st.tuples(st.just("error"), st.booleans())
actions = st.lists(
    st.one_of(intents, intents, intents, moves, waits, errors), min_size=5, max_size=60
)


def risk_of(amount: Decimal, price: Decimal, stop: Decimal | None, assumed: Decimal) -> Decimal:
    return amount * abs(price - stop) if stop is not None else amount * price * assumed


def heat(rig: Rig, assumed: Decimal) -> Decimal:
    total = ZERO
    for p in rig.book.open_positions():
        mark = rig.market.mid(p.symbol) or p.avg_entry
        if p.stop_loss is None:
            total += abs(p.quantity) * mark * assumed
        else:
            total += max(ZERO, (mark - p.stop_loss) * p.quantity)
    return total


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
@given(
    cash=st.integers(50, 30_000),
    cooldown=st.sampled_from([0, 60]),
    max_trades=st.sampled_from([None, 3, 10]),
    script=actions,
)
def test_no_approved_order_breaches_a_limit(
    cash: int, cooldown: int, max_trades: int | None, script: list[tuple[Any, ...]]
) -> None:
    rig = Rig(
        cash=D(cash), cooldown_after_trade_s=cooldown, max_trades_per_day=max_trades,
        max_order_notional_usd=D(500), one_position_per_strategy=True,
    )  # fmt: skip
    rig.market.set("ETH/USDT", D(20), T0)
    c = rig.config
    eng = rig.engine
    eng.observe_equity(T0, rig.book.equity())
    entries_by_day: dict[int, int] = {}
    cooling: dict[tuple[str, str], int] = {}
    for step in script:
        now = rig.clock.now_ms()
        kind = step[0]
        if kind == "move":
            _, symbol, bps = step
            mid = rig.market.mids[symbol]
            new = max(D("0.01"), (mid * (1 + D(bps) / 10_000)).quantize(D("0.01")))
            rig.market.set(symbol, new, now)
            eng.observe_equity(now, rig.book.equity())
            continue
        if kind == "wait":
            if step[2]:
                rig.at(now + step[1])
            else:
                rig.clock.advance_to(now + step[1])
            eng.observe_equity(rig.clock.now_ms(), rig.book.equity())
            continue
        if kind == "error":
            if step[1]:
                eng.observe_venue_error("paper", now, "timeout")
            else:
                eng.observe_venue_ok("paper", now)
            continue
        _, sid, symbol, side, otype, steps, off, stop_off, reduce_only = step
        mid = rig.market.mids[symbol]
        amount = D(steps) * D("0.0001")
        price = (
            (mid * (1 + D(off) / 10_000)).quantize(D("0.01")) if otype is OrderType.LIMIT else None
        )
        stop = None if stop_off is None else (mid * (1 + D(stop_off) / 10_000)).quantize(D("0.01"))
        intent = OrderIntent(sid, "paper", symbol, side, amount, otype, price, stop_loss=stop,
                             reduce_only=reduce_only)  # fmt: skip
        state = eng.state
        equity = rig.book.equity()
        net = rig.book.net_quantity("paper", symbol)
        reducing = net != 0 and (net < 0) == (side is Side.BUY) and amount <= abs(net)
        keys = {(p.venue, p.symbol, p.strategy_id) for p in rig.book.open_positions()}
        heat_before = heat(rig, c.assumed_stop_distance_pct / HUNDRED)
        d = rig.check(intent)
        if not d.approved:
            continue
        assert state is not TradingState.HALTED
        assert reducing or not reduce_only
        assert reducing or state is TradingState.ACTIVE
        if price is not None:
            assert abs(price - mid) <= mid * c.price_band_pct / HUNDRED
            fill_px = price
        else:
            assert d.price_bound is not None
            assert abs(d.price_bound - mid) <= mid * c.market_slippage_cap_pct / HUNDRED
            fill_px = mid
        px = price if price is not None else d.price_bound
        assert px is not None
        if not reducing:
            notional = amount * px
            assert c.min_order_notional_usd <= notional <= c.max_order_notional_usd
            assert notional <= equity * c.max_order_notional_pct / HUNDRED
            assert equity >= c.min_account_balance_usd
            assert len(keys | {(intent.venue, symbol, sid)}) <= c.max_open_positions
            assert sid not in {k[2] for k in keys} or (intent.venue, symbol, sid) in keys
            order_risk = risk_of(amount, px, stop, c.assumed_stop_distance_pct / HUNDRED)
            assert heat_before + order_risk <= equity * c.max_portfolio_heat_pct / HUNDRED
            if side is Side.BUY:
                assert rig.book.cash - notional >= equity * c.stable_reserve_pct / HUNDRED
            assert eng.day_start_equity is not None
            assert eng.day_start_equity - equity < eng._daily_limit(eng.day_start_equity)
            day = now // DAY_MS
            entries_by_day[day] = entries_by_day.get(day, 0) + 1
            if max_trades is not None:
                assert entries_by_day[day] <= max_trades
            assert now >= cooling.get((sid, symbol), 0)
        f, closed = rig.book.fill(intent, fill_px, now)
        eng.observe_fill(f, closed, sid)
        if cooldown:
            cooling[(sid, symbol)] = now + cooldown * 1000
        if closed is not None and closed.pnl < 0 and c.cooldown_after_loss_s:
            cooling[(sid, symbol)] = max(
                cooling.get((sid, symbol), 0), now + c.cooldown_after_loss_s * 1000
            )
        eng.observe_equity(now, rig.book.equity())


@settings(max_examples=60, deadline=None, database=None)
@given(script=actions)
def test_nothing_is_approved_while_halted(script: list[tuple[Any, ...]]) -> None:
    rig = Rig(max_order_notional_usd=D(500))
    rig.book.hold("BTC/USDT", D(1), D(100))
    rig.engine.halt("property test", "hypothesis")
    for step in script:
        if step[0] == "move":
            rig.market.set(step[1], D(100) + D(step[2]) / 100, rig.clock.now_ms())
            rig.engine.observe_equity(rig.clock.now_ms(), rig.book.equity())
        elif step[0] == "wait":
            rig.at(rig.clock.now_ms() + step[1])
        elif step[0] == "intent":
            _, sid, symbol, side, otype, steps, off, _, reduce_only = step
            price = D(100) + D(off) / 100 if otype is OrderType.LIMIT else None
            intent = OrderIntent(sid, "paper", symbol, side, D(steps) / 10_000, otype, price,
                                 reduce_only=reduce_only)  # fmt: skip
            assert not rig.check(intent).approved
        assert rig.engine.state is TradingState.HALTED
