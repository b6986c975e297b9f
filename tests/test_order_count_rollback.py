"""An order whose journal commit fails was never sent: nothing counts it.

The risk engine counts an approval (the order rate, trades today, exposure, a half-open
breaker's probe) before the order's journal row is written. When that commit fails (a locked
database) the order goes nowhere: the count goes back, so the next order is judged as if the
failed one had never been asked for.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from execution_stubs import SYMBOL, Rig, limit_buy, make_rig
from test_fill_commit_rollback import FailingCommit
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.market import Quote
from tradeguard.model.order import OrderIntent
from tradeguard.risk.config import RiskConfig
from tradeguard.risk.engine import RiskEngine
from tradeguard.risk.store import MemoryStateStore

D = Decimal


def _engine(rig: Rig, **limits: object) -> RiskEngine:
    rig.portfolio.book("stub").set("USDT", D(10_000))
    config = RiskConfig(**limits)  # type: ignore[arg-type]
    engine = RiskEngine(config, rig.clock, MemoryStateStore(), lambda e: None)
    rig.orders.risk = engine  # type: ignore[assignment]
    return engine


async def _failed_submit(rig: Rig) -> None:
    failing = FailingCommit(rig.storage)
    failing.armed = 1
    with pytest.raises(OperationalError):
        await rig.orders.submit(limit_buy(amount="0.002", price="49000"))
    assert rig.orders.orders == {} and rig.venue.orders == {}  # journaled nowhere, never sent


@pytest.mark.parametrize(
    ("limits", "counted"),
    [
        ({"max_trades_per_day": 1}, "trades today"),
        ({"max_orders_per_s": 1}, "the order rate"),
    ],
)
async def test_an_order_whose_journal_commit_fails_is_not_counted(
    tmp_path: Path, limits: dict[str, object], counted: str
) -> None:
    rig = make_rig(tmp_path)
    engine = _engine(rig, **limits)
    await _failed_submit(rig)
    assert engine.trades_today == 0, counted

    result = await rig.orders.submit(limit_buy(amount="0.002", price="49000"))

    assert result.ok, (counted, result)
    assert engine.trades_today == 1


async def test_a_half_open_breakers_probe_whose_journal_commit_fails_is_not_out(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    engine = _engine(rig, venue_error_threshold=1)
    engine.observe_venue_error("stub", rig.clock.now_ms(), "timeout")  # the breaker opens
    rig.clock.ms += 3_600_000  # long enough for it to let one probe through
    rig.market.on_quote(Quote(SYMBOL, rig.clock.now_ms(), D(49990), D(1), D(50010), D(1)))
    await _failed_submit(rig)

    result = await rig.orders.submit(limit_buy(amount="0.002", price="49000"))

    assert result.ok, result  # the probe goes now


async def test_an_oco_leg_refused_takes_back_the_count_of_the_leg_approved_before_it(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    rig.venue.native_oco = True  # type: ignore[attr-defined]
    engine = _engine(rig, max_orders_per_s=1)
    rig.portfolio.book("stub").set("BTC", D(1))
    held = rig.portfolio.position("stub", SYMBOL, "s1")
    held.apply(Side.BUY, D(50000), D("0.001"), D(0), 1_000_000, D(0))
    take_profit = OrderIntent(
        "s1", "stub", SYMBOL, Side.SELL, D("0.001"), OrderType.LIMIT, D(51000), reduce_only=True
    )
    stop = OrderIntent(
        "s1", "stub", SYMBOL, Side.SELL, D("0.001"), OrderType.STOP_LOSS_LIMIT, D(48900),
        trigger_price=D(49000), reduce_only=True,
    )  # fmt: skip
    legs = await rig.orders.submit_oco(take_profit, stop)
    assert [r.code for r in legs] == ["ORDER_RATE", "ORDER_RATE"]  # the stop: one a second
    assert rig.venue.orders == {}

    result = await rig.orders.submit(limit_buy(amount="0.002", price="49000"))

    assert result.ok, result  # the take-profit went nowhere: its token is back
    assert engine.trades_today == 1


async def test_an_order_whose_record_before_sending_fails_is_not_counted(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    engine = _engine(rig, max_trades_per_day=1)

    def record(order: object) -> None:  # a bot's trade row, stored before the venue hears
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        await rig.orders.submit(limit_buy(amount="0.002", price="49000"), record)
    assert engine.trades_today == 0 and rig.venue.orders == {}

    result = await rig.orders.submit(limit_buy(amount="0.002", price="49000"))

    assert result.ok, result
