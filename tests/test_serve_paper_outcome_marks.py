"""`tradeguard serve` over the database of a paper cross-venue run (paper Kalshi and
Polymarket venues fed by data-only venues, which list no reference market): the held outcome
legs are valued at their books' prices as the node that traded valued them, never at 0."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from test_api_support import bearer, build_app, client
from test_pm_arb_paper import K_NO, PM_YES, run_paper
from tradeguard.node import TradingNode

D = Decimal
BOUND_S = 60


async def _served_equity(cfg: Any) -> tuple[dict[str, Any], TradingNode]:
    served = TradingNode(cfg)  # as `tradeguard serve` builds it: no strategy runs
    await asyncio.wait_for(served.start(), BOUND_S)
    app, tokens = build_app(served)
    async with client(app) as http:
        r = await http.get("/api/v1/equity", headers=bearer(tokens.viewer))
    assert r.status_code == 200, r.text
    return r.json(), served


async def test_serve_values_paper_outcome_legs_at_their_books(tmp_path):
    strat, _events, node, kalshi, pm = await run_paper(tmp_path, D(20))
    served = None
    try:
        assert strat.attempts[0].outcome == "completed"
        cfg, traded = node.config, node.figures()
        legs = {
            "polymarket": node.portfolio.book("polymarket").total(PM_YES),
            "kalshi": node.portfolio.book("kalshi").total(K_NO),
        }
        assert legs == {"polymarket": 20, "kalshi": 20}
        await asyncio.wait_for(node.stop(), BOUND_S)
        node.close()

        body, served = await _served_equity(cfg)
        live = D(str(body["points"][-1]["equity"]))
        assert body["unpriced"] == []
        assert live == traded.equity  # was the legs at 0: 2000 less their value
        for venue, (asset, quote) in {"polymarket": (PM_YES, "PUSD"),
                                      "kalshi": (K_NO, "USD")}.items():  # fmt: skip
            mark = served.portfolio.mark_of(venue, f"{asset}/{quote}")[0]
            assert mark is not None and D(0) < mark < D(1)
    finally:
        if served is not None:
            await asyncio.wait_for(served.stop(), BOUND_S)
            served.close()
        await pm.stop()
        await kalshi.stop()
