"""`tradeguard serve` over the database of a paper cross-venue run (paper Kalshi and
Polymarket venues fed by data-only venues): the held outcome legs are valued at their books'
prices as the node that traded valued them, never at 0; a closed market's stored price shows
its age and turns stale past node.reference_price_max_age_s, the same on the API and status."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
from decimal import Decimal
from typing import Any

from rich.console import Console

from test_api_support import PASSPHRASE, bearer, client
from test_pm_arb_paper import K_NO, PM_YES, run_paper
from tradeguard.api.app import create_app
from tradeguard.api.auth import Role, TokenStore
from tradeguard.cli.api import _serve
from tradeguard.cli.main import main
from tradeguard.execution.reference_prices import MARKS_KEY
from tradeguard.node import TradingNode

D = Decimal
BOUND_S = 60


async def _served_equity(cfg: Any) -> tuple[dict[str, Any], TradingNode]:
    served = TradingNode(cfg)  # as `tradeguard serve` builds it: no strategy runs
    await asyncio.wait_for(served.start(), BOUND_S)
    store = TokenStore(served.db, served.storage)
    _, token = store.create(f"viewer-{len(store.list())}", Role.VIEWER)  # one per serve
    app = create_app(served, tokens=store, passphrase=PASSPHRASE)
    async with client(app) as http:
        r = await http.get("/api/v1/equity", headers=bearer(token))
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


async def test_a_closed_markets_saved_price_shows_its_age_and_turns_stale_on_every_surface(
    tmp_path, capsys
):
    strat, _events, node, kalshi, pm = await run_paper(tmp_path, D(20))
    served = None
    try:
        assert strat.attempts[0].outcome == "completed"
        cfg = node.config
        await asyncio.wait_for(node.stop(), BOUND_S)
        node.close()
        body, served = await _served_equity(cfg)  # reads and stores both legs' prices
        fresh = body["reference_prices"][K_NO]
        assert fresh["market"] == f"kalshi-data {K_NO}/USD" and not fresh["stale"]
        assert body["stale_prices"] == []
        await asyncio.wait_for(served.stop(), BOUND_S)
        served.close()

        # The Kalshi market closes (no book, no result yet) and two hours go by: the stored
        # reading is all there is of its price
        kalshi.markets[K_NO.split(":")[0]].status = "closed"
        marks = served.storage.kv_get(MARKS_KEY)
        marks[K_NO][3] -= 2 * 3_600_000
        served.storage.kv_set(MARKS_KEY, marks)
        price = marks[K_NO][2]

        body, served = await _served_equity(cfg)
        ref = body["reference_prices"][K_NO]
        # was: no read time, no age, and the price taken as fresh for good
        assert ref["stale"] and ref["price"] == price and ref["age_s"] >= 7200
        assert body["stale_prices"] == [K_NO] and body["unpriced"] == []
        cash = served.portfolio.book("kalshi").total("USD")
        assert served.portfolio.equity("kalshi") == cash + 20 * D(price)  # flagged, still counted
        served._checkpoint(served.clock.now_ms())  # as a trading node's: what status reads
        await asyncio.wait_for(served.stop(), BOUND_S)
        served.close()
        served = None

        capsys.readouterr()
        assert main(["status", "--json", "--db", cfg.node.database_url]) == 0
        status = json.loads(capsys.readouterr().out)["valuation"]["reference_prices"][K_NO]
        assert status["stale"] and status["read_ms"] == ref["read_ms"]
        assert main(["status", "--db", cfg.node.database_url]) == 0
        text = " ".join(capsys.readouterr().out.split())
        assert f"Stale price: {K_NO} at {price} (kalshi-data {K_NO}/USD), read 2.0 h" in text
    finally:
        if served is not None:
            await asyncio.wait_for(served.stop(), BOUND_S)
            served.close()
        await pm.stop()
        await kalshi.stop()


async def test_status_after_serve_shows_the_prices_serve_read(tmp_path, capsys):
    strat, _events, node, kalshi, pm = await run_paper(tmp_path, D(20))
    try:
        assert strat.attempts[0].outcome == "completed"
        cfg = node.config
        await asyncio.wait_for(node.stop(), BOUND_S)
        node.close()
        served = TradingNode(cfg)  # `tradeguard serve` itself, stopped by a SIGINT
        console = Console(file=io.StringIO())
        task = asyncio.create_task(_serve(served, "127.0.0.1", 0, console))  # any free port
        for _ in range(BOUND_S * 20):  # the legs' prices read at start: serve is up
            if served._reference is not None and served._reference.ages():
                break
            await asyncio.sleep(0.05)
        read = served._reference.ages() if served._reference is not None else {}
        assert K_NO in read, read
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.wait_for(task, BOUND_S)
        served.close()
        capsys.readouterr()
        assert main(["status", "--json", "--db", cfg.node.database_url]) == 0
        valuation = json.loads(capsys.readouterr().out)["valuation"]
        # was: the trading run's last checkpoint, which names no reference price
        assert valuation["reference_prices"][K_NO]["read_ms"] == read[K_NO]["read_ms"], valuation
        assert valuation["reference_prices"][K_NO]["stale"] is False, valuation
    finally:
        await pm.stop()
        await kalshi.stop()
