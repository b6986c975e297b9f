"""A held lone leg counts as what the strategy's `arb-unwind` may sell back until its market
settles; once the settlement closed it, nothing of it is held by the cycle any more, so an
intent tagged `arb-unwind` for it is judged as any other order (the loss limits, REDUCING, the
cooldowns), not excused by a holding that is gone."""

from __future__ import annotations

from decimal import Decimal

from pm_arb_support import book_moves_after_sizing
from test_pm_arb_paper import K_NO, _resolve, _settle, run_paper, stop_all
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import ARB_UNWIND_TAG, OrderIntent

D = Decimal


async def test_a_settled_held_leg_is_no_longer_an_unwind_allowance(tmp_path, monkeypatch) -> None:
    book_moves_after_sizing(monkeypatch)  # a leg held: the book moves after sizing
    strat, _events, node, kalshi, pm = await run_paper(
        tmp_path, D(2000), pull_second=True,
        exec={"max_unwind_loss_usd": "0"}, limits={"max_position_usd": "200"},
    )  # fmt: skip
    try:
        rec = strat.attempts[0]
        assert rec.outcome == "held", rec.reason
        held = rec.held[f"{K_NO}/USD"]
        holdings = node.risk.cycle_holdings
        assert holdings.held("pmarb", "kalshi", K_NO) == held
        unwind = OrderIntent("pmarb", "kalshi", f"{K_NO}/USD", Side.SELL, held, OrderType.LIMIT,
                             D("0.5"), tag=ARB_UNWIND_TAG)  # fmt: skip
        assert holdings.admits(unwind)  # held: its unwind may sell it back
        await _resolve(kalshi, pm)
        fills = await _settle(node)
        assert ("kalshi", f"{K_NO}/USD", held) in {(f.venue, f.symbol, f.amount) for f in fills}
        assert node.portfolio.book("kalshi").total(K_NO) == 0
        assert holdings.held("pmarb", "kalshi", K_NO) == 0
        assert not holdings.admits(unwind)
    finally:
        await stop_all(node, kalshi, pm)
