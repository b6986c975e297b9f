"""`tradeguard serve` over the database a `pm arb run` left a held Kalshi leg in: the API (with
no strategy streaming the outcome markets) values the held contracts as the node that traded
did and as `tradeguard status` shows them, never at 0 (one equity on every surface)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from decimal import Decimal
from typing import Any

from rich.console import Console

from test_api_support import bearer, build_app, client
from test_pm_arb_held_shrink import NO, _held_by_a_run, rig  # noqa: F401
from tradeguard.cli.api import _serve
from tradeguard.cli.main import main
from tradeguard.model.outcome import Outcome
from tradeguard.node import TradingNode
from tradeguard.sandbox.binary_book import BinaryBook, BinaryOrder

D = Decimal
BOUND_S = 60


def _held(node: TradingNode, asset: str) -> Decimal:
    return sum((b.total for b in node.portfolio.all_balances() if b.venue == "kalshi"
                and b.asset == asset), D(0))  # fmt: skip


async def _left_held(tmp_path: Any, kalshi: Any, pm: Any) -> tuple[Any, Decimal, Any]:
    """Run a node until a cross-venue cycle leaves a Kalshi leg held, stop it; return its
    config, the contracts held and its own figures."""
    node, _events = await asyncio.wait_for(_held_by_a_run(tmp_path, kalshi, pm), 4 * BOUND_S)
    cfg, held, traded = node.config, _held(node, NO), node.figures()
    await asyncio.wait_for(node.stop(), BOUND_S)
    node.close()
    return cfg, held, traded


def _empty_book(kalshi: Any) -> None:
    """Every order gone from the Kalshi sandbox: each market's book bids nothing."""
    kalshi.book = BinaryBook()
    for market in kalshi.markets:
        kalshi.book.add_market(market)


async def test_serve_values_a_held_outcome_leg_as_the_trading_node_and_status_do(
    tmp_path,
    rig,  # noqa: F811
    capsys,
):
    kalshi, pm, _ = rig
    cfg, held, traded = await _left_held(tmp_path, kalshi, pm)
    assert held > 0 and traded.equity < traded.start_equity  # a held leg, the cycle's cost

    capsys.readouterr()
    assert main(["status", "--json", "--db", cfg.node.database_url]) == 0
    status = json.loads(capsys.readouterr().out)
    assert D(status["figures"]["equity"]) == traded.equity

    served = TradingNode(cfg)  # as `tradeguard serve` builds it: no strategy runs
    await asyncio.wait_for(served.start(), BOUND_S)
    try:
        app, tokens = build_app(served)
        async with client(app) as http:
            r = await http.get("/api/v1/equity", headers=bearer(tokens.viewer))
        assert r.status_code == 200, r.text
        body = r.json()
        live = body["points"][-1]
        # was 19880.50 (207 NO contracts at 0: a 0.5975 % drawdown against a 0.02825 % max)
        assert D(str(live["equity"])) == traded.equity == D(status["figures"]["equity"])
        assert live["drawdown_pct"] == body["max_drawdown_pct"]
        cash = _held(served, "USD")
        mark = served.portfolio.marks[f"{NO}/USD"]
        assert D("0") < mark < D("1")
        assert served.portfolio.equity("kalshi") == cash + held * mark
    finally:
        await asyncio.wait_for(served.stop(), BOUND_S)
        served.close()


async def test_serve_names_a_held_contract_whose_book_has_no_price(
    tmp_path,
    rig,  # noqa: F811
):
    kalshi, pm, _ = rig
    cfg, _held_now, _traded = await _left_held(tmp_path, kalshi, pm)
    _empty_book(kalshi)  # the held market's book bids nothing

    served = TradingNode(cfg)
    await asyncio.wait_for(served.start(), BOUND_S)
    try:
        app, tokens = build_app(served)
        async with client(app) as http:
            r = await http.get("/api/v1/equity", headers=bearer(tokens.viewer))
        assert r.status_code == 200, r.text
        assert r.json()["unpriced"] == [NO]  # counted as nothing, and said so
        assert f"{NO}/USD" not in served.portfolio.marks
    finally:
        await asyncio.wait_for(served.stop(), BOUND_S)
        served.close()


async def test_serve_refreshes_a_held_contracts_mark_as_its_book_moves(
    tmp_path,
    rig,  # noqa: F811
):
    kalshi, pm, _ = rig
    cfg, held, _traded = await _left_held(tmp_path, kalshi, pm)
    cfg.node.reference_prices_interval_s = 0.2

    served = TradingNode(cfg)  # `tradeguard serve`'s own loop, as the command runs it
    serving = asyncio.create_task(_serve(served, "127.0.0.1", 0, Console(quiet=True)))
    try:
        symbol = f"{NO}/USD"
        for _ in range(BOUND_S * 20):
            if symbol in served.portfolio.marks or serving.done():
                break
            await asyncio.sleep(0.05)
        first = served.portfolio.marks[symbol]
        # the held market's book moves: NO bid 0.30, NO ask 0.40 (a YES bid at 0.60)
        ticker = NO.split(":")[0]
        _empty_book(kalshi)
        for i, (outcome, price) in enumerate(((Outcome.NO, "0.30"), (Outcome.YES, "0.60"))):
            kalshi.book.submit(BinaryOrder(f"mm-{i}", "mm", ticker, outcome, True, D(price),
                                           D(100)))  # fmt: skip
        for _ in range(BOUND_S * 20):
            if served.portfolio.marks[symbol] == D("0.35") or serving.done():
                break
            await asyncio.sleep(0.05)
        # was: the mark read at start stood for good (first, a stale valuation)
        assert (first, served.portfolio.marks[symbol]) == (first, D("0.35"))
        cash = _held(served, "USD")
        assert served.portfolio.equity("kalshi") == cash + held * D("0.35")
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(serving, BOUND_S)
        served.close()
