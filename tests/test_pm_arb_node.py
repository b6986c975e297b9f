"""The cross_venue strategy inside a node against both local servers and their arb scenario."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from pm_arb_support import book_moves_after_sizing, example_map_far_off
from tradeguard.config import Config
from tradeguard.model.events import Event, EventKind
from tradeguard.node import TradingNode
from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
from tradeguard.sandbox.pm_serve import (
    kalshi_demo,
    kalshi_keys,
    paired_markets,
    polymarket_demo,
    polymarket_keys,
)
from tradeguard.secrets import ScryptParams, Vault
from tradeguard.strategies.cross_venue.strategy import CrossVenueStrategy

PASSPHRASE = "correct horse battery staple 42"


def vault_with_both(tmp: Path, monkeypatch, k_keys: dict, pm_keys: dict) -> None:
    vault = Vault(tmp / "vault.json", kdf=ScryptParams(n=2**14))
    vault.create(PASSPHRASE)
    vault.add("kalshi-demo", "kalshi", k_keys)
    vault.add("pm-demo", "polymarket", {"private_key": pm_keys["private_key"]})
    vault.lock()
    monkeypatch.setenv("TG_VAULT_PATH", str(tmp / "vault.json"))
    monkeypatch.setenv("TG_MASTER_PASSPHRASE", PASSPHRASE)


def arb_config(tmp: Path, kalshi, pm, exec_params: dict, limits: dict) -> Config:
    return Config.model_validate({
        "mode": "sandbox",
        "node": {
            "database_url": f"sqlite:///{tmp / 'tg.db'}",
            "kill_sentinel": str(tmp / "tg.kill"),
            "valuation_asset": "USD",
        },
        "venues": [
            {"name": "kalshi", "kind": "kalshi", "credentials": "kalshi-demo",
             "rest_url": kalshi.rest_url, "ws_url": kalshi.ws_url},
            {"name": "polymarket", "kind": "polymarket", "credentials": "pm-demo",
             "rest_url": pm.url},
        ],
        "data": [],
        "strategies": [{
            "id": "pmarb", "kind": "cross_venue", "venue": "polymarket",
            "params": {"map": str(example_map_far_off(tmp)), "kalshi_venue": "kalshi",
                       "cooldown_s": 30,
                       "exec": exec_params, "limits": limits},
        }],
        "risk": {"min_order_notional_usd": "1", "price_band_pct": "10",
                 "max_order_notional_usd": "1000", "arb_max_cycle_notional_usd": "1000"},
    })  # fmt: skip


async def run_with_scenario(tmp: Path, monkeypatch, config: ArbScenarioConfig, **params):
    if params.get("book_moves"):  # the unwind's book moves after sizing: a leg to hold
        book_moves_after_sizing(monkeypatch)
    k_keys, pm_keys = kalshi_keys(None), polymarket_keys(None)
    kalshi, pm = kalshi_demo(k_keys), polymarket_demo(pm_keys)
    await kalshi.start()
    await pm.start()
    scenario = ArbScenario(pm.book, paired_markets("polymarket", pm)[:1], config)
    try:
        vault_with_both(tmp, monkeypatch, k_keys, pm_keys)
        cfg = arb_config(tmp, kalshi, pm, params.get("exec", {}), params.get("limits", {}))
        node = TradingNode(cfg)
        for venue in node.venues.values():
            venue.quote_poll_s = 0.05  # type: ignore[attr-defined]
        events: list[Event] = []
        node.bus.subscribe(events.append)
        await node.start()
        strat = node.strategies[0]
        assert isinstance(strat, CrossVenueStrategy)
        run = asyncio.create_task(node.run_live(duration_s=30))
        try:
            await asyncio.sleep(0.3)  # fair prices first: nothing to do
            assert strat.attempts == []
            scenario.appear(scenario.markets[0])
            for _ in range(400):
                if strat.attempts:
                    break
                await asyncio.sleep(0.025)
            if "during" in params:
                await params["during"](node, strat)
        finally:
            node.request_stop()
            await run
            await node.stop()
        return strat, events, node
    finally:
        await pm.stop()
        await kalshi.stop()


async def test_a_mispricing_between_the_two_servers_completes_both_legs(tmp_path, monkeypatch):
    strat, events, node = await run_with_scenario(
        tmp_path, monkeypatch, ArbScenarioConfig(size=Decimal(20))
    )
    assert len(strat.attempts) == 1
    rec = strat.attempts[0]
    assert rec.outcome == "completed", rec.reason
    assert rec.pair_id == "fed-dec-above-4" and rec.direction == 0
    first, second = rec.legs
    assert (first.venue, second.venue) == ("polymarket", "kalshi")  # the thin leg first
    assert first.filled == second.filled == 20
    assert first.avg_price == Decimal("0.38") and second.avg_price == Decimal("0.56")
    assert rec.actual_profit > 0 and rec.actual_profit == 20 - rec.capital
    assert node.portfolio.book("polymarket").total("fed-above-4pct-dec:YES") == 20
    assert node.portfolio.book("kalshi").total("KXFED-26DEC-T4.00:NO") == 20
    assert strat.book.open[0].contracts == 20
    assert strat.state()["limits"]["trades_today"] == 1
    done = [e for e in events if e.kind == EventKind.ARB_EXECUTION]
    assert done and done[-1].data["outcome"] == "completed"


async def test_second_leg_liquidity_pulled_ends_unwound_within_the_cap(tmp_path, monkeypatch):
    cap = Decimal(15)
    strat, events, node = await run_with_scenario(
        tmp_path,
        monkeypatch,
        ArbScenarioConfig(size=Decimal(2000), fail_second=True),
        exec={"max_unwind_loss_usd": str(cap)},
        limits={"max_position_usd": "200"},
    )
    rec = strat.attempts[0]
    assert len(rec.legs) >= 2, rec.reason
    first, second = rec.legs[0], rec.legs[1]
    assert first.venue == "kalshi" and first.filled > 0  # the thinner leg went first
    assert second.venue == "polymarket" and second.filled == 0
    assert "fill-or-kill" in second.reason  # sent and refused unfilled, not denied by risk
    assert rec.outcome == "unwound", rec.reason
    assert rec.legs[2].role == "unwind" and rec.legs[2].filled == first.filled
    assert Decimal(0) > rec.actual_profit >= -cap
    assert node.portfolio.book("kalshi").total("KXFED-26DEC-T4.00:NO") == 0
    assert strat.book.open == []
    done = [e for e in events if e.kind == EventKind.ARB_EXECUTION]
    assert [(e.data["outcome"], e.severity) for e in done] == [("unwound", "warning")]


async def test_second_leg_failure_beyond_the_cap_is_held_with_a_critical_alert(
    tmp_path, monkeypatch
):
    strat, events, node = await run_with_scenario(
        tmp_path,
        monkeypatch,
        ArbScenarioConfig(size=Decimal(2000), fail_second=True),
        exec={"max_unwind_loss_usd": "0.01"},
        book_moves=True,
        limits={"max_position_usd": "200"},
    )
    rec = strat.attempts[0]
    assert rec.outcome == "held", rec.reason
    held = [e for e in events if e.kind == EventKind.ARB_HELD]
    assert held and held[0].severity == "critical"
    assert held[0].data["pair_id"] == "fed-dec-above-4"
    assert node.portfolio.book("kalshi").total("KXFED-26DEC-T4.00:NO") == rec.legs[0].filled


@pytest.mark.parametrize("scenario", ["arb", "arb-fail"])
def test_named_scenarios_and_an_unknown_one(scenario: str) -> None:
    cfg = ArbScenarioConfig.named(scenario)
    assert cfg.fail_second is (scenario == "arb-fail")
    with pytest.raises(ValueError, match=r"scenario 'arbx' is not one of \['arb', 'arb-fail'\]"):
        ArbScenarioConfig.named("arbx")


async def test_a_held_leg_is_sold_again_through_the_api_with_a_new_cap(tmp_path, monkeypatch):
    from test_api_support import bearer, build_app, client
    from tradeguard.storage.arb_repository import load_arb_executions
    from tradeguard.strategies.cross_venue.held_retry import held_legs

    answers: list = []

    async def retry(node: TradingNode, strat: CrossVenueStrategy) -> None:
        app, tokens = build_app(node)
        async with client(app) as c:
            url = "/api/v1/pm/arb/held/retry"
            body = {"max_unwind_loss_usd": "500"}
            answers.append(await c.post(url, json=body, headers=bearer(tokens.trader)))
            ok = await c.post(url, json=body, headers=bearer(tokens.trader, tokens.trader_totp))
            answers.append(ok)

    strat, _events, node = await run_with_scenario(
        tmp_path,
        monkeypatch,
        ArbScenarioConfig(size=Decimal(2000), fail_second=True),
        exec={"max_unwind_loss_usd": "0.01"},
        book_moves=True,
        limits={"max_position_usd": "200"},
        during=retry,
    )
    no_totp, first = answers
    assert no_totp.status_code == 401
    assert first.status_code == 200, first.text
    [retried] = first.json()["retried"]
    assert retried["outcome"] == "unwound", retried["reason"]
    assert retried["retry_of"] == strat.attempts[0].record_id
    assert node.portfolio.book("kalshi").total("KXFED-26DEC-T4.00:NO") == 0
    assert strat.book.open == []
    sells = [o for o in node.storage.load_orders() if o.side.value == "sell"
             and o.venue == "kalshi"]  # fmt: skip
    # journaled like any order: the first unwind (nothing within 0.01 USD), then the retry
    assert sorted(o.filled for o in sells) == [0, strat.attempts[0].legs[0].filled]
    rows = load_arb_executions(node.storage, strategy_id="pmarb")
    assert held_legs(rows) == []  # nothing held any more: a next retry sends nothing


async def test_two_retries_at_once_through_the_api_sell_the_held_leg_once(tmp_path, monkeypatch):
    from test_api_support import bearer, build_app, client
    from tradeguard.storage.arb_repository import load_arb_executions

    answers: list = []

    async def retry(node: TradingNode, strat: CrossVenueStrategy) -> None:
        app, tokens = build_app(node)
        async with client(app) as c:
            url, body = "/api/v1/pm/arb/held/retry", {"max_unwind_loss_usd": "500"}
            # two people at once (one TOTP code is good for one request only)
            trader = bearer(tokens.trader, tokens.trader_totp)
            admin = bearer(tokens.admin, tokens.admin_totp)
            answers.extend(await asyncio.gather(
                c.post(url, json=body, headers=trader), c.post(url, json=body, headers=admin)
            ))  # fmt: skip

    strat, _events, node = await run_with_scenario(
        tmp_path,
        monkeypatch,
        ArbScenarioConfig(size=Decimal(2000), fail_second=True),
        exec={"max_unwind_loss_usd": "0.01"},
        book_moves=True,
        limits={"max_position_usd": "200"},
        during=retry,
    )
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    outcomes = sorted(a.json()["retried"][0]["outcome"] for a in answers)
    assert outcomes == ["skipped", "unwound"]
    sells = [o for o in node.storage.load_orders() if o.side.value == "sell"
             and o.venue == "kalshi"]  # fmt: skip
    assert sorted(o.filled for o in sells) == [0, strat.attempts[0].legs[0].filled]
    rows = load_arb_executions(node.storage, strategy_id="pmarb")
    assert [r["outcome"] for r in rows] == ["held", "unwound"]  # no second retry record


async def test_a_retry_naming_no_strategy_offers_nothing_while_one_of_them_is_not_running(
    tmp_path, monkeypatch
):
    import copy

    from test_api_support import bearer, build_app, client

    answers: list = []

    async def retry(node: TradingNode, strat: CrossVenueStrategy) -> None:
        idle = copy.copy(strat)  # a second cross-venue strategy, configured but not started
        idle.id, idle.executor = "pmarb-idle", None
        node.strategies.append(idle)
        try:
            app, tokens = build_app(node)
            async with client(app) as c:
                url, body = "/api/v1/pm/arb/held/retry", {"max_unwind_loss_usd": "500"}
                headers = bearer(tokens.trader, tokens.trader_totp)
                answers.append(await c.post(url, json=body, headers=headers))
        finally:
            node.strategies.remove(idle)

    strat, _events, node = await run_with_scenario(
        tmp_path,
        monkeypatch,
        ArbScenarioConfig(size=Decimal(2000), fail_second=True),
        exec={"max_unwind_loss_usd": "0.01"},
        book_moves=True,
        limits={"max_position_usd": "200"},
        during=retry,
    )
    [refused] = answers
    assert refused.status_code == 409, refused.text
    assert "pmarb-idle is not running" in refused.text and "nothing was retried" in refused.text
    # the running strategy's held leg was not offered: no answer describing a sale was lost
    assert (
        node.portfolio.book("kalshi").total("KXFED-26DEC-T4.00:NO")
        == strat.attempts[0].legs[0].filled
    )
    sells = [o for o in node.storage.load_orders() if o.side.value == "sell"
             and o.venue == "kalshi"]  # fmt: skip
    assert [o.filled for o in sells] == [0]  # only the start's unwind within 0.01 USD
