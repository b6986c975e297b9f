"""`tradeguard pm arb run --config FILE`: trade the config's cross_venue strategy, then report."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TextIO

from rich.console import Console

from tradeguard.cli.common import (
    add_strategy_run_options,
    config_from_args,
    open_node,
    print_start,
    start_run_stop,
    streaming_strategy_ids,
)
from tradeguard.model.money import plain
from tradeguard.strategies.cross_venue.records import trim_text


def add_pm_arb_run_parser(pm_sub: Any) -> None:
    """Register `pm arb run` under the `pm` command group."""
    arb = pm_sub.add_parser(
        "arb",
        help="Polymarket <-> Kalshi arbitrage on the market map",
        description="Polymarket <-> Kalshi arbitrage on the market map.",
        epilog="example: tradeguard pm arb run --config examples/pm_arb_sandbox.toml --duration 60",
    )
    arb_sub = arb.add_subparsers(dest="pm_arb_command", required=True)
    run = arb_sub.add_parser(
        "run",
        help="trade the config's cross_venue strategy on both venues (sandbox or live mode; "
        "paper venues on the venues' live books: examples/pm_arb_paper.toml)",
        epilog="example: tradeguard pm arb run --config examples/pm_arb_sandbox.toml --duration 60",
    )
    add_strategy_run_options(run, "cross_venue", "print the attempts as JSON")
    run.set_defaults(func=cmd_pm_arb_run)
    from tradeguard.cli.pm_arb_retry import add_pm_arb_retry_parser

    add_pm_arb_retry_parser(arb_sub)


def cmd_pm_arb_run(args: argparse.Namespace) -> int:
    """Run the node's live loop, then print every pair attempt; return the exit code."""
    config = config_from_args(args)
    ids = streaming_strategy_ids(
        config, args.config, "cross_venue", "pm arb run", "examples/pm_arb_sandbox.toml"
    )
    node = open_node(config, args.confirm_live, args.log_format)
    try:
        print_start(Console(stderr=True, highlight=False), node)
        summary = asyncio.run(start_run_stop(node, None, args.duration_s))
        attempts = [
            a.to_json() for s in node.strategies if s.id in ids for a in getattr(s, "attempts", [])
        ]
        refused = [r for s in node.strategies if s.id in ids
                   for r in getattr(s, "nets_refused", list)()]  # fmt: skip
        settled = [d for s in node.strategies if s.id in ids for d in getattr(s, "settled", [])]
        if args.json:
            doc = {"summary": summary.to_json(), "attempts": attempts, "totals": totals(attempts),
                   "nets_refused": refused, "settlements": settled}  # fmt: skip
            print(json.dumps(doc, indent=2))
        else:
            tradeable = sum(
                len(getattr(getattr(s, "scanner", None), "pairs", {}))
                for s in node.strategies
                if s.id in ids
            )
            print_attempts(attempts, sys.stdout, tradeable, refused)
            print_settlements(settled, sys.stdout)
            note = provisional_line(summary)
            if note:
                print(note)
    finally:
        node.close()
    if node.interrupts.interrupted:  # a Ctrl-C stopped the run: it ended whole, and says so
        from tradeguard.cli.interrupted import say_stopped

        return say_stopped(["pm", "arb", "run"])
    return 0


def print_settlements(settled: list[dict[str, Any]], out: TextIO) -> None:
    """Print one line per held pair (or lone leg) this run settled, a mismatch first named."""
    for d in settled:
        flag = "MISMATCH " if d["mismatch"] else ""
        print(f"{d['path']} settled: {flag}{d['message']}", file=out)


def provisional_line(summary: Any) -> str:
    """The line saying the run's end equity is provisional and why (e.g. a leg held at the
    stop whose market no longer quotes counts nothing), or "" when it is a real figure."""
    if not summary.equity_provisional:
        return ""
    return f"End equity {plain(summary.end_equity)} is provisional: {summary.equity_provisional}"


def totals(attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """Count outcomes and add up profit and fees (USD) over the attempts."""
    outcomes: dict[str, int] = {}
    for a in attempts:
        outcomes[a["outcome"]] = outcomes.get(a["outcome"], 0) + 1
    profit = sum((Decimal(a["actual_profit"]) for a in attempts), Decimal(0))
    fees = sum((Decimal(a["fees"]) for a in attempts), Decimal(0))
    return {
        "attempts": len(attempts),
        "outcomes": outcomes,
        "actual_profit_usd": plain(profit),
        "fees_usd": plain(fees),
    }


def print_attempts(
    attempts: list[dict[str, Any]],
    out: TextIO,
    tradeable: int | None = None,
    refused: Sequence[dict[str, Any]] = (),
) -> None:
    """Print one line per attempt, a totals line (`tradeable`: pairs the run could trade),
    then the pairs refused (PAIR_NETS) as recorded before, which no attempt of the run shows."""
    if not attempts and tradeable == 0:
        print("No pair was attempted: no mapped pair could be traded (refused by the map, or "
              "its markets not listed open; see the warnings above).", file=out)  # fmt: skip
    elif not attempts and refused:
        print("No new attempt recorded: the pairs refused as recorded before are counted below "
              "(PAIR_NETS); no other pair cleared min_roi_pct.", file=out)  # fmt: skip
    elif not attempts:
        print("No pair was attempted (no mapped pair cleared min_roi_pct).", file=out)
    for a in attempts:
        legs = ", ".join(
            f"{leg['role']} {leg['venue']} {leg['symbol']} {leg['filled']}@{leg['avg_price']}"
            for leg in [*a["legs"], *a["unwinds"]]
        )
        why = f" ({a['reason']})" if a["reason"] else ""
        if a.get("trimmed"):  # why the size is smaller than the pair's
            why += f"; {trim_text(a['trimmed'])}"
        print(
            f"{a['pair_id']} d{a['direction']} {a['outcome']}: {a['contracts']} contracts, edge "
            f"{a['expected_edge']} -> {a['actual_edge']} USD, profit {a['actual_profit']} USD; "
            f"{legs}{why}",
            file=out,
        )
    t = totals(attempts)
    outcomes = ", ".join(f"{n} {o}" for o, n in sorted(t["outcomes"].items())) or "none"
    print(
        f"Pairs: {t['attempts']} ({outcomes}); profit {t['actual_profit_usd']} USD, "
        f"fees {t['fees_usd']} USD",
        file=out,
    )
    for r in refused:
        print(f"{r['pair_id']}: refused (PAIR_NETS) {r['repeats']} more times since record "
              f"{r['record_id']}, the contracts held the same", file=out)  # fmt: skip
