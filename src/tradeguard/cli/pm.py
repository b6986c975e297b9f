"""`tradeguard pm markets --venue NAME`: a prediction-market venue's events, outcomes and books."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, TextIO

from tradeguard.clock import Clock
from tradeguard.model.errors import ConfigError
from tradeguard.model.outcome import parse_outcome_symbol

PM_KINDS = ("kalshi", "polymarket")


def add_pm_parser(sub: Any) -> None:
    """Register `pm markets`."""
    pm = sub.add_parser(
        "pm",
        help="prediction-market venues (kalshi, polymarket)",
        description="Prediction-market venues (kalshi, polymarket).",
        epilog="example: tradeguard pm markets --venue kalshi --config my.toml",
    )
    pm_sub = pm.add_subparsers(dest="pm_command", required=True)
    markets = pm_sub.add_parser(
        "markets",
        help="list events and outcomes with best bid/ask",
        epilog="example: tradeguard pm markets --venue kalshi --config my.toml",
    )
    markets.add_argument(
        "--venue", required=True, help="a [[venues]] name of kind kalshi/polymarket"
    )
    markets.add_argument("--config", default=None, help="TOML config file")
    markets.set_defaults(func=cmd_pm_markets)
    from tradeguard.cli.pm_arb import add_pm_arb_parsers
    from tradeguard.cli.pm_arb_run import add_pm_arb_run_parser
    from tradeguard.cli.pm_fills import add_pm_fills_parser
    from tradeguard.cli.pm_settlements import add_pm_settlements_parser

    add_pm_arb_parsers(pm_sub)
    add_pm_arb_run_parser(pm_sub)
    add_pm_settlements_parser(pm_sub)
    add_pm_fills_parser(pm_sub)


def cmd_pm_markets(args: argparse.Namespace) -> int:
    from tradeguard.config import load_config

    config = load_config(args.config)
    vc = next((v for v in config.venues if v.name == args.venue), None)
    if vc is None or vc.kind not in PM_KINDS:
        known = [v.name for v in config.venues if v.kind in PM_KINDS]
        raise ConfigError(
            f"--venue {args.venue!r} is not a kalshi or polymarket venue of the config; "
            f"known: {known or 'none'}"
        )
    asyncio.run(print_markets(reading_venue(vc), sys.stdout))
    return 0


def reading_venue(vc: Any) -> Any:
    """The venue a read-only command (`pm markets`, `pm map check`) reads: a `data_only` one
    with no key (public endpoints), any other with its vault entry."""
    if vc.data_only:
        from tradeguard.venues.pm_public import build_pm_data_venue

        return build_pm_data_venue(vc, Clock())
    from tradeguard.node import vault_entry as _vault_entry
    from tradeguard.venues.pm_build import build_pm_venue

    creds = _vault_entry(vc.name, vc.credentials) if vc.credentials else None
    return build_pm_venue(vc, Clock(), creds, stream=False)


async def open_reading_venue(venue: Any) -> None:
    """Load the venue's listed markets (a trading venue connects; a data-only one only lists)."""
    connect = getattr(venue, "connect", None)
    await (connect() if connect is not None else venue.load_instruments())


async def print_markets(venue: Any, out: TextIO) -> None:
    """Print one line per market: YES and NO best bid/ask with sizes."""
    try:
        await open_reading_venue(venue)
        symbols = sorted(venue.instruments)
        quotes = {s: await venue.fetch_quote(s) for s in symbols}
        markets = sorted({parse_outcome_symbol(s)[0] for s in symbols})
        print(f"{'market':36} {'YES bid':>8} {'YES ask':>8} {'NO bid':>8} {'NO ask':>8}", file=out)
        for market in markets:
            cells = []
            for side in ("YES", "NO"):
                q = next(v for k, v in quotes.items() if k.startswith(f"{market}:{side}/"))
                cells += [f"{q.bid:.4f}"[:8], f"{q.ask:.4f}"[:8]]
            print(f"{market:36} " + " ".join(f"{c:>8}" for c in cells), file=out)
    finally:
        await venue.close()
