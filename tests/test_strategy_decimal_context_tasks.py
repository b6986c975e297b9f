"""A strategy's own decimal context stays its own in a task it starts: the engine code that task
reaches (a multi-leg strategy's gateway: risk check, journal, fill and fee) runs in the node's
context, so a strategy's `getcontext().prec = 6` or trap on Inexact changes none of it."""

from __future__ import annotations

import decimal
from pathlib import Path
from typing import Any

from test_triangular_exec_support import small_universe
from tradeguard.model import dec
from tradeguard.model.market import Quote
from triangular_node_support import paper_arb_config, started_paper_arb_node

LEGS = """
import asyncio
from decimal import Decimal, Inexact, getcontext
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy

{top}


class Legs(Strategy):
    def on_start(self):
        self.gateway = self.ctx.execution_gateway(self.id, self.venue)
        self.task = None

    def on_ticker(self, quote):
        intent = OrderIntent(self.id, self.venue, quote.symbol, Side.BUY, Decimal("0.01237"),
                             OrderType.LIMIT, quote.ask, tag="arb-leg")
        self.task = asyncio.get_running_loop().create_task(self._leg(intent))

    async def _leg(self, intent):
        result = await self.gateway.submit(intent)
        assert result.ok, result.reason
        cid = result.order.client_order_id
        await self.gateway.wait_terminal(cid, 5.0)
        return [(f.amount, f.price, f.fee, f.fee_asset) for f in self.gateway.fills(cid)]
"""
TOPS = {
    "alone": "",
    "prec6": "getcontext().prec = 6",
    "inexact": "getcontext().traps[Inexact] = True",
}


async def _leg(tmp_path: Path, name: str) -> tuple[Any, ...]:
    work = tmp_path / name
    work.mkdir()
    (work / "legs.py").write_text(LEGS.format(top=TOPS[name]))
    raw = paper_arb_config(work).model_dump(mode="json")
    raw["strategies"] = [
        {"id": "legs", "kind": f"{work / 'legs.py'}:Legs", "venue": "paper", "symbol": "ETH/USDT"}
    ]
    node = await started_paper_arb_node(type(paper_arb_config(work)).model_validate(raw))
    try:
        t = small_universe().tickers["ETH/USDT"]
        quote = Quote("ETH/USDT", node.clock.now_ms(), dec(t.bid), dec(t.bid_size), dec(t.ask),
                      dec(t.ask_size))  # fmt: skip
        await node.on_quote(quote)
        strat: Any = node.strategies[0]
        strat.on_ticker(quote)  # as the node calls it: in the strategy's own context
        fills = await strat.task
        balances = sorted(
            (b.asset, str(b.free), str(b.locked)) for b in node.portfolio.book("paper").all()
        )
        return fills, balances
    finally:
        node.close()


async def test_a_leg_sent_from_a_strategys_own_task_is_booked_in_the_nodes_context(
    tmp_path: Path,
) -> None:
    with decimal.localcontext():  # a change that leaked stays inside this test
        alone = await _leg(tmp_path, "alone")
        assert len(alone[0]) == 1 and alone[0][0][2] > 0, alone  # one fill, a fee charged
        for name in ("prec6", "inexact"):
            assert await _leg(tmp_path, name) == alone, name
