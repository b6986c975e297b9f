"""Cross-venue arbitrage in paper mode: paper Kalshi and Polymarket venues fed by data-only
venues reading both local servers' public books; no private call reaches either server."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pm_arb_support import example_map_far_off
from tradeguard.cli.doctor import audit_database
from tradeguard.config import Config
from tradeguard.model.enums import Side
from tradeguard.model.events import Event, EventKind
from tradeguard.model.outcome import kalshi_fee, polymarket_fee
from tradeguard.node import TradingNode
from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
from tradeguard.sandbox.pm_serve import (
    kalshi_demo,
    kalshi_keys,
    paired_markets,
    polymarket_demo,
    polymarket_keys,
)
from tradeguard.sandbox.testing import eventually
from tradeguard.strategies.cross_venue.strategy import CrossVenueStrategy

D = Decimal
K_NO = "KXFED-26DEC-T4.00:NO"
PM_YES = "fed-above-4pct-dec:YES"


def paper_config(tmp: Path, kalshi: Any, pm: Any, exec_params: dict, limits: dict) -> Config:
    return Config.model_validate({
        "mode": "sandbox",
        "node": {"database_url": f"sqlite:///{tmp / 'tg.db'}",
                 "kill_sentinel": str(tmp / "tg.kill"), "valuation_asset": "USD"},
        "venues": [
            {"name": "kalshi-data", "kind": "kalshi", "data_only": True,
             "rest_url": kalshi.rest_url},
            {"name": "pm-data", "kind": "polymarket", "data_only": True, "rest_url": pm.url},
            {"name": "kalshi", "kind": "paper", "exchange": "kalshi",
             "data_venue": "kalshi-data", "balances": {"USD": "1000"}},
            {"name": "polymarket", "kind": "paper", "exchange": "polymarket",
             "data_venue": "pm-data", "balances": {"PUSD": "1000"}},
        ],
        "data": [],
        "strategies": [{
            "id": "pmarb", "kind": "cross_venue", "venue": "polymarket",
            "params": {"map": str(example_map_far_off(tmp)), "kalshi_venue": "kalshi",
                       "cooldown_s": 30,
                       "settle_check_s": 0.2, "exec": exec_params, "limits": limits},
        }],
        "risk": {"min_order_notional_usd": "1", "price_band_pct": "10",
                 "max_order_notional_usd": "1000", "arb_max_cycle_notional_usd": "1000"},
    })  # fmt: skip


async def run_paper(tmp: Path, size: Decimal, pull_second: bool = False, **params: Any) -> Any:
    """Start both servers, show one mispricing, run the paper node until one attempt ends."""
    kalshi, pm = kalshi_demo(kalshi_keys(None)), polymarket_demo(polymarket_keys(None))
    await kalshi.start()
    await pm.start()
    scenario = ArbScenario(
        pm.book, paired_markets("polymarket", pm)[:1], ArbScenarioConfig(size=size)
    )
    try:
        cfg = paper_config(tmp, kalshi, pm, params.get("exec", {}), params.get("limits", {}))
        node = TradingNode(cfg)
        for venue in node.data_venues.values():
            venue.quote_poll_s = 0.05
        if pull_second:
            pull_after_first_leg(node, pm, scenario)
        events: list[Event] = []
        node.bus.subscribe(events.append)
        await node.start()
        strat = node.strategies[0]
        assert isinstance(strat, CrossVenueStrategy)
        run = asyncio.create_task(node.run_live(duration_s=30))
        try:
            await asyncio.sleep(0.3)
            assert strat.attempts == []  # fair prices: nothing to do
            # The book stream is up before the mispricing shows: REST polls alone can see it
            # and end the attempt first, and on a busy machine the stream had not connected.
            await eventually(lambda: any(c["path"] == "/ws/market" for c in pm.requests), 30)
            scenario.appear(scenario.markets[0])
            await eventually(lambda: bool(strat.attempts), timeout_s=10)
        finally:
            node.request_stop()
            await run
        return strat, events, node, kalshi, pm
    except BaseException:
        await pm.stop()
        await kalshi.stop()
        raise


def pull_after_first_leg(node: TradingNode, pm: Any, scenario: ArbScenario) -> None:
    """The cheap Polymarket ask goes the moment the first (Kalshi) paper leg has filled, and the
    second leg is sent only once the paper venue's stream has shown it gone."""
    paper_k, paper_pm = node.venues["kalshi"], node.venues["polymarket"]
    submit = paper_k.submit

    async def first_then_pull(order: Any) -> Any:
        report = await submit(order)
        if order.side is Side.BUY and scenario.showing:
            market = scenario.markets[0]
            scenario.vanish(market)
            await eventually(lambda: _best_ask(paper_pm, f"{PM_YES}/PUSD") > D("0.40"))
        return report

    paper_k.submit = first_then_pull  # type: ignore[method-assign]


def _best_ask(paper: Any, symbol: str) -> Decimal:
    book = paper._markets[symbol].book
    asks = book.asks(1) if book is not None else []
    return asks[0][0] if asks else D(1)


async def stop_all(node: TradingNode, kalshi: Any, pm: Any) -> None:
    await node.stop()
    await pm.stop()
    await kalshi.stop()


def no_private_calls(kalshi: Any, pm: Any) -> None:
    k_calls, pm_calls = list(kalshi.requests), list(pm.requests)
    assert k_calls and pm_calls  # both were read
    assert [c for c in k_calls + pm_calls if c["signed"]] == []
    assert {c["method"] for c in k_calls + pm_calls} == {"GET"}
    assert not [c for c in k_calls if "/portfolio/" in c["path"] or c["path"].endswith("/ws/v2")]
    public_pm = ("/markets", "/book", "/ws/market")
    others = [c["path"] for c in pm_calls if c["path"] not in public_pm]
    assert [p for p in others if not p.startswith("/clob-markets/")] == []  # fee info: public
    assert any(c["path"] == "/ws/market" for c in pm_calls)  # the public book channel


async def test_a_paper_arb_fills_both_legs_at_the_live_books_with_each_venues_fees(tmp_path):
    strat, events, node, kalshi, pm = await run_paper(tmp_path, D(20))
    try:
        rec = strat.attempts[0]
        assert rec.outcome == "completed", rec.reason
        assert rec.mode == "PAPER" and rec.pair_id == "fed-dec-above-4"
        first, second = rec.legs
        assert (first.venue, second.venue) == ("polymarket", "kalshi")  # the thin leg first
        assert first.filled == second.filled == 20
        # the servers' books: the moved Polymarket ask and Kalshi's NO ask (1 - YES bid)
        assert first.avg_price == D("0.38") and second.avg_price == D("0.56")
        pm_fee, k_fee = (
            polymarket_fee(D(20), D("0.38"), D("0.02"), D(1)),
            kalshi_fee(D(20), D("0.56")),
        )
        assert (first.fee, second.fee) == (pm_fee, k_fee)
        assert rec.fees == pm_fee + k_fee
        pm_book, k_book = node.portfolio.book("polymarket"), node.portfolio.book("kalshi")
        assert pm_book.total(PM_YES) == 20 and k_book.total(K_NO) == 20
        assert pm_book.total("PUSD") == 1000 - D("7.6") - pm_fee
        assert k_book.total("USD") == 1000 - D("11.2") - k_fee
        stored = {b.asset: b.total for b in node.storage.load_balances("kalshi")}
        assert stored[K_NO] == 20  # journaled
        audit = audit_database(node.storage, node.config)  # `tradeguard doctor`'s audit
        assert audit.ok, audit.describe()  # pair legs belong to no position, as in the node
        done = [e for e in events if e.kind == EventKind.ARB_EXECUTION]
        assert done and done[-1].data["outcome"] == "completed"
        assert done[-1].data["message"].startswith("[PAPER] pair fed-dec-above-4: completed")
        no_private_calls(kalshi, pm)
        # the event happens: YES on both venues; the Polymarket YES pays 1, the Kalshi NO 0
        await _resolve(kalshi, pm)
        fills = await _settle(node)
        assert {(f.venue, f.symbol, f.price, f.amount) for f in fills} == {
            ("polymarket", f"{PM_YES}/PUSD", D(1), 20),
            ("kalshi", f"{K_NO}/USD", D(0), 20),
        }
        assert node.portfolio.book("polymarket").total("PUSD") == 1000 - D("7.6") - pm_fee + 20
        assert node.portfolio.book("kalshi").total("USD") == 1000 - D("11.2") - k_fee
        for name, asset in (("polymarket", PM_YES), ("kalshi", K_NO)):  # paid out on paper too
            balances = await node.venues[name].fetch_balances()
            paper = {b.asset: b.total for b in balances if b.total}
            assert asset not in paper
            assert paper == {b.asset: b.total for b in node.portfolio.book(name).nonzero()}
        assert await _settle(node) == []  # once
        settled = strat.check_settlements()  # the strategy learnt both resolutions from fills
        assert [e.kind for e in settled] == [EventKind.ARB_SETTLED] and strat.book.open == []
        assert settled[0].severity != "critical"  # both sides resolved alike
    finally:
        await stop_all(node, kalshi, pm)


async def _resolve(kalshi: Any, pm: Any) -> None:
    async with aiohttp.ClientSession() as s:
        r = await s.post(f"{kalshi.base_url}/admin/resolve",
                         json={"ticker": "KXFED-26DEC-T4.00", "result": "yes"})  # fmt: skip
        assert r.status == 200, await r.text()
        r = await s.post(f"{pm.url}/admin/resolve",
                         json={"condition_id": "fed-above-4pct-dec", "result": "yes"})  # fmt: skip
        assert r.status == 200, await r.text()


async def _settle(node: TradingNode) -> list[Any]:
    from tradeguard.execution.settlement import settle_resolved

    return await settle_resolved(node)


async def test_second_paper_leg_without_liquidity_unwinds_the_first(tmp_path):
    strat, events, node, kalshi, pm = await run_paper(
        tmp_path, D(2000), pull_second=True,
        exec={"max_unwind_loss_usd": "15"}, limits={"max_position_usd": "200"},
    )  # fmt: skip
    try:
        rec = strat.attempts[0]
        first, second = rec.legs[0], rec.legs[1]
        assert first.venue == "kalshi" and first.filled > 0  # the thinner leg went first
        assert second.venue == "polymarket" and second.filled == 0
        assert rec.outcome == "unwound", rec.reason
        assert rec.legs[2].role == "unwind" and rec.legs[2].filled == first.filled
        assert D(0) > rec.actual_profit >= -15
        assert node.portfolio.book("kalshi").total(K_NO) == 0
        assert strat.book.open == []
        done = [e for e in events if e.kind == EventKind.ARB_EXECUTION]
        assert [(e.data["outcome"], e.severity) for e in done] == [("unwound", "warning")]
        no_private_calls(kalshi, pm)
    finally:
        await stop_all(node, kalshi, pm)


def _doc(**paper: Any) -> dict[str, Any]:
    return {
        "mode": "sandbox",
        "venues": [
            {
                "name": "kd",
                "kind": "kalshi",
                "data_only": True,
                "rest_url": "http://127.0.0.1:1/trade-api/v2",
            },
            {"name": "pd", "kind": "polymarket", "data_only": True},
            {"name": "paper", "kind": "paper", "exchange": "kalshi", "data_venue": "kd", **paper},
        ],
    }


def test_config_errors_name_the_venue_and_the_fix() -> None:
    Config.model_validate(_doc())  # the right pairing passes
    with pytest.raises(ValueError, match=r"venue 'paper': exchange='kalshi' but "
                       r"data_venue='pd' is of kind 'polymarket'"):  # fmt: skip
        Config.model_validate(_doc(data_venue="pd"))
    with pytest.raises(ValueError, match=r"exchange='binance' but data_venue='kd' is of kind"):
        Config.model_validate(_doc(exchange="binance"))
    with pytest.raises(ValueError, match=r"instruments are listed, but a paper venue on kalshi"):
        Config.model_validate(_doc(instruments=[
            {"symbol": "X:YES/USD", "price_tick": "0.01", "amount_step": "1"}
        ]))  # fmt: skip
    doc = _doc()
    doc["venues"][0]["credentials"] = "kalshi-demo"
    with pytest.raises(ValueError, match=r"venue 'kd': data_only = true is for a venue of kind "
                       r"ccxt, kalshi or polymarket without credentials"):  # fmt: skip
        Config.model_validate(doc)


def test_a_data_venue_that_is_a_trading_venue_is_refused_with_the_fix() -> None:
    doc = _doc()
    doc["venues"][0].update(data_only=False, credentials="kalshi-demo")
    with pytest.raises(ValueError, match=r"venue 'paper': data_venue='kd' is a kalshi trading "
                       r"venue; .*set data_only = true on 'kd'"):  # fmt: skip
        Config.model_validate(doc)
