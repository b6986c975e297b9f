"""Rescoring 1,000 mapped pairs on one book update: p50/p99 in microseconds, printed as JSON.

`python benchmarks/pm_arb.py legs` instead measures, on the two local servers, decision to both
legs acknowledged (p50/p99 in ms) over 40 completed pairs through a node's order path (risk check,
journal, signed venue request, fill) with the `arb` scenario's mispricing shown for each.

Each pair has ten-level books on both venues; one in ten has a mispricing on its top levels, the
rest cost more than $1 together. Every update replaces one book (a random pair, a random side)
and rescores the pairs on it, then asks for the best opportunity among the profitable pairs.
Target: p99 <= 50 us.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from tradeguard.strategies.cross_venue.fees import FeeModel
from tradeguard.strategies.cross_venue.market_map import parse_market_map
from tradeguard.strategies.cross_venue.scanner import PairScanner, scan_pair

PAIRS, UPDATES = 1_000, 20_000
NOW = 1_780_000_000_000


def _doc() -> dict:
    side = {"resolution_source": "s", "resolves_at": dt.date(2026, 12, 1), "void_rule": "50-50"}
    return {"pairs": [
        {"id": f"p{i}", "reviewed_by": "b", "reviewed_at": dt.date(2026, 1, 1),
         "review_expires_at": dt.date(2027, 1, 1),
         "polymarket": {**side, "market": f"m{i}", "yes_token": f"{i}y", "no_token": f"{i}n"},
         "kalshi": {**side, "ticker": f"K{i}"}}
        for i in range(PAIRS)
    ]}  # fmt: skip


def _book(rng: random.Random, top: float) -> list[tuple[Decimal, Decimal]]:
    return [
        (Decimal(str(round(min(top + 0.01 * k, 0.99), 2))), Decimal(rng.randint(5, 200)))
        for k in range(10)
    ]


def main() -> None:
    rng = random.Random(7)
    book = parse_market_map(_doc())
    pm_f, k_f = FeeModel.default("polymarket"), FeeModel.default("kalshi")
    scanner = PairScanner([scan_pair(p, "pm", "k", pm_f, k_f) for p in book.pairs.values()])
    keys = []
    for i in range(PAIRS):
        yes = rng.uniform(0.2, 0.8)
        gap = -0.03 if i % 10 == 0 else 0.02
        for venue, sym, top in (
            ("pm", f"m{i}:YES/PUSD", yes), ("k", f"K{i}:NO/USD", 1 - yes + gap),
            ("k", f"K{i}:YES/USD", yes + 0.01), ("pm", f"m{i}:NO/PUSD", 1 - yes + 0.01),
        ):  # fmt: skip
            scanner.update_book(venue, sym, _book(rng, round(top, 2)))
            keys.append((venue, sym, round(top, 2)))
    prepared = [(k, _book(rng, k[2])) for k in rng.choices(keys, k=UPDATES)]
    rescore, best = [], []
    for (venue, sym, _), asks in prepared:
        t0 = time.perf_counter_ns()
        scanner.update_book(venue, sym, asks)
        t1 = time.perf_counter_ns()
        scanner.best(NOW, Decimal(1))
        t2 = time.perf_counter_ns()
        rescore.append((t1 - t0) / 1000)
        best.append((t2 - t1) / 1000)
    print(json.dumps({
        "benchmark": "pm_arb.rescore_one_book_update",
        "pairs": PAIRS, "updates": UPDATES, "profitable_pairs": len(scanner.scores),
        "rescore_us": _pct(rescore), "best_of_profitable_us": _pct(best),
        "target_p99_us": 50,
    }, indent=2))  # fmt: skip


def _pct(xs: list[float]) -> dict[str, float]:
    s = sorted(xs)
    return {q: round(s[int(len(s) * f) - 1], 2) for q, f in (("p50", 0.5), ("p99", 0.99))}


LEG_PAIRS = 40


async def legs_main() -> None:
    from tradeguard.config import Config
    from tradeguard.node import TradingNode
    from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
    from tradeguard.sandbox.pm_serve import (
        kalshi_demo,
        kalshi_keys,
        paired_markets,
        polymarket_demo,
        polymarket_keys,
    )  # fmt: skip
    from tradeguard.secrets import ScryptParams, Vault
    from tradeguard.strategies.cross_venue.executor import PairExecutor
    from tradeguard.strategies.cross_venue.limits import PairLimits
    from tradeguard.strategies.cross_venue.market_map import load_market_map

    tmp = Path(tempfile.mkdtemp(prefix="pm_arb_legs_"))
    k_keys, pm_keys = kalshi_keys(None), polymarket_keys(None)
    kalshi, pm = kalshi_demo(k_keys), polymarket_demo(pm_keys)
    vault = Vault(tmp / "vault.json", kdf=ScryptParams(n=2**14))
    vault.create("bench passphrase 1234567")
    vault.add("k", "kalshi", k_keys)
    vault.add("p", "polymarket", {"private_key": pm_keys["private_key"]})
    vault.lock()
    os.environ.update(
        TG_VAULT_PATH=str(tmp / "vault.json"), TG_MASTER_PASSPHRASE="bench passphrase 1234567"
    )
    await kalshi.start()
    await pm.start()
    cfg = Config.model_validate({
        "mode": "sandbox",
        "node": {"database_url": f"sqlite:///{tmp / 'tg.db'}", "kill_sentinel": str(tmp / "k"),
                 "valuation_asset": "USD", "log_level": "WARNING"},
        "venues": [
            {"name": "kalshi", "kind": "kalshi", "credentials": "k", "rest_url": kalshi.rest_url,
             "ws_url": kalshi.ws_url},
            {"name": "polymarket", "kind": "polymarket", "credentials": "p", "rest_url": pm.url},
        ],
        "data": [], "strategies": [],
        "risk": {"min_order_notional_usd": "1", "price_band_pct": "10",
                 "max_order_notional_usd": "1000", "arb_max_cycle_notional_usd": "1000",
                 "max_trades_per_day": 1000, "max_orders_per_s": 50},
    })  # fmt: skip
    node = TradingNode(cfg)
    await node.start()
    pair = load_market_map(Path(__file__).parents[1] / "examples" / "pm_map.toml").pairs[
        "fed-dec-above-4"
    ]
    gateways = {v: node._ctx.execution_gateway("bench", v) for v in ("polymarket", "kalshi")}
    fees = {"polymarket": FeeModel.default("polymarket"), "kalshi": FeeModel.default("kalshi")}
    big = Decimal(10_000_000)
    limits = PairLimits(max_trades_per_day=10_000, max_position_usd=big,
                        max_event_exposure_usd=big, max_venue_exposure_usd=big,
                        max_locked_beyond_usd=big)  # fmt: skip
    executor = PairExecutor(gateways, "bench", limits=limits, fees=fees)
    scan = scan_pair(pair, "polymarket", "kalshi", fees["polymarket"], fees["kalshi"])
    scenario = ArbScenario(pm.book, paired_markets("polymarket", pm)[:1], ArbScenarioConfig())
    acks: list[float] = []
    outcomes: dict[str, int] = {}
    try:
        for _ in range(LEG_PAIRS):
            scenario.appear(scenario.markets[0])
            kalshi.seed_book(pair.kalshi.market, [("0.44", "20")], [])  # what the last pair took
            scanner = PairScanner([scan])
            for venue, legs in (
                ("polymarket", scan.directions[0][0]),
                ("kalshi", scan.directions[0][1]),
            ):
                q = await node.venues[venue].fetch_quote(legs.symbol)  # type: ignore[attr-defined]
                await node.on_quote(q)
                scanner.update_book(venue, legs.symbol, [(q.ask, q.ask_size)])
            opp = scanner.best(node.clock.now_ms())
            if opp is None:
                raise SystemExit("no opportunity: the scenario did not misprice the pair")
            rec = await executor.execute(opp)
            outcomes[rec.outcome] = outcomes.get(rec.outcome, 0) + 1
            if rec.outcome == "completed":
                acks.append(rec.decision_to_acks_ms)
            else:
                print(rec.reason, file=sys.stderr)
            scenario.vanish(scenario.markets[0])
    finally:
        await node.stop()
        node.close()
        await pm.stop()
        await kalshi.stop()
    print(json.dumps({
        "benchmark": "pm_arb.decision_to_both_legs_acked_local_servers",
        "pairs": LEG_PAIRS, "outcomes": outcomes,
        "decision_to_acks_ms": _pct(acks) if acks else None,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:] == ["legs"]:
        asyncio.run(legs_main())
    else:
        main()
