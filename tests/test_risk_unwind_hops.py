"""An unwind of several hops: what one hop brings in is what the next hop gives back, so the
`arb-unwind` tag still passes the loss limits and cooldowns for the hops after the first; each
fill counts once however often it is told."""

from __future__ import annotations

from decimal import Decimal
from itertools import count
from pathlib import Path

from test_risk_support import T0, Rig, sell
from test_triangular_exec_support import Stack, small_universe
from test_triangular_exec_unwind import CYCLE_4, NO_DIRECT, SIZE, fail_leg_3
from tradeguard.model.enums import LiquiditySide, OrderType, Side
from tradeguard.model.fill import Fill
from tradeguard.model.order import ARB_UNWIND_TAG, Order

_TRADES = count(1)  # each fill its own trade


def _fill(side: Side, symbol: str, amount: str, price: str) -> Fill:
    return Fill("paper", symbol, "c1", "v1", f"t{next(_TRADES)}", side, Decimal(price),
                Decimal(amount), Decimal(0), "", LiquiditySide.TAKER, T0)  # fmt: skip


def test_the_second_hop_of_an_unwind_gives_back_what_the_first_brought_in() -> None:
    # the day opened at 10,000; the book is worth 9,700 now: past the daily loss limit
    rig = Rig(cash=Decimal(9_700), daily_loss_limit_usd=Decimal(200))
    rig.engine.observe_equity(T0, Decimal(10_000))
    rig.at(T0 + 1000)
    holdings = rig.engine.cycle_holdings
    # USDT -> ETH filled, ETH -> ... failed: ETH is stranded; its way back is ETH -> BTC -> USDT
    holdings.on_fill("s1", _fill(Side.BUY, "ETH/USDT", "10", "5"), "leg")
    holdings.on_fill("s1", _fill(Side.SELL, "ETH/BTC", "10", "0.05"), "unwind")  # 0.5 BTC in
    assert holdings.held("s1", "paper", "BTC") == Decimal("0.5")
    hop2 = rig.check(sell("0.5", tag=ARB_UNWIND_TAG, symbol="BTC/USDT"))
    assert hop2.approved, hop2.reason  # else the BTC stays stranded past the loss limit
    more = rig.check(sell("0.6", tag=ARB_UNWIND_TAG, symbol="BTC/USDT"))
    assert more.code == "DAILY_LOSS_LIMIT"  # no more than the first hop brought in


def test_a_fill_told_by_the_start_up_reconciliation_and_the_take_up_counts_once() -> None:
    rig = Rig(cash=Decimal(9_700), daily_loss_limit_usd=Decimal(200))
    rig.engine.observe_equity(T0, Decimal(10_000))
    rig.at(T0 + 1000)
    holdings = rig.engine.cycle_holdings
    leg = Order("c1", "s1", "paper", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.5"),
                Decimal(100), signal={"arb": "leg"})  # fmt: skip
    fill = Fill("paper", "BTC/USDT", "c1", "v1", "t1", Side.BUY, Decimal(100), Decimal("0.5"),
                Decimal(0), "USDT", LiquiditySide.TAKER, T0)  # fmt: skip
    holdings.on_fill("s1", fill, "leg")  # the reconciliation at start applied the leg's fill
    holdings.adopt("s1", [leg], {"c1": [fill]})  # the take-up reads the same fill back
    assert holdings.held("s1", "paper", "BTC") == Decimal("0.5")
    # a second 0.5 BTC sold as an unwind would be a fresh short past the loss limit
    assert rig.check(sell("1", tag=ARB_UNWIND_TAG)).code == "DAILY_LOSS_LIMIT"
    assert rig.check(sell("0.5", tag=ARB_UNWIND_TAG)).approved


def test_what_an_unwind_brought_in_is_no_holding_once_its_cycle_is_recorded_held() -> None:
    holdings = Rig().engine.cycle_holdings
    # a Polymarket leg left alone, half sold back for PUSD, the rest held
    holdings.on_fill("pm", _fill(Side.BUY, "M:YES/PUSD", "10", "0.5"), "first")
    holdings.on_fill("pm", _fill(Side.SELL, "M:YES/PUSD", "5", "0.4"), "unwind")
    holdings.end_cycle("pm", "held", "USD")
    assert holdings.held("pm", "paper", "M:YES") == 5
    assert holdings.held("pm", "paper", "PUSD") == 0  # cash, not a stranded leg


async def test_a_two_hop_unwind_of_a_paper_cycle_passes_a_cooldown_on_its_second_market(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path, universe=small_universe(delist=NO_DIRECT))
    opp = s.opportunity(CYCLE_4)
    fail_leg_3(s)
    # the strategy cools down on FDUSD/USDT, a market the cycle's legs never touch
    s.risk.cooldowns[(s.config.strategy_id, "FDUSD/USDT")] = s.clock.now_ms() + 3_600_000

    rec = await s.executor.execute(opp, SIZE)

    assert [(u.symbol, u.status) for u in rec.unwinds] == [
        ("A0023/FDUSD", "filled"),
        ("FDUSD/USDT", "filled"),
    ], rec.reason  # else the FDUSD the first hop brought in stays stranded
    assert rec.outcome == "unwound" and rec.held == {}
