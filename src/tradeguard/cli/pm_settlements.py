"""`tradeguard pm settlements`: resolved markets whose positions turned into cash."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from tradeguard.cli.common import add_source_options, open_storage, page_title, ts_text


def add_pm_settlements_parser(pm_sub: Any) -> None:
    """Register `pm settlements`."""
    sp = pm_sub.add_parser(
        "settlements",
        help="list settled positions (market, resolution, contracts, cash)",
        epilog="example: tradeguard pm settlements --venue kalshi --config my.toml",
    )
    sp.add_argument("--venue", default=None, help="only this venue's settlements")
    sp.add_argument(
        "--limit", type=int, default=50, help="rows to show, newest first (1-500, default 50)"
    )
    add_source_options(sp)
    sp.set_defaults(func=cmd_pm_settlements)


def cmd_pm_settlements(args: argparse.Namespace, console: Console) -> int:
    """Print the newest settlements."""
    from tradeguard.model.errors import ConfigError
    from tradeguard.storage.settlement_log import count_settlements, load_settlements

    if not 1 <= args.limit <= 500:
        raise ConfigError(f"--limit {args.limit} is outside 1..500")
    storage = open_storage(args, existing=True)
    rows = load_settlements(storage, venue=args.venue, limit=args.limit)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    total = count_settlements(storage, venue=args.venue)
    t = Table(
        title=page_title("Settlements", len(rows), total),
        box=None,
        pad_edge=False,
        header_style="bold underline",
    )
    for col in ("time (UTC)", "venue", "market", "result", "side", "contracts", "cash"):
        t.add_column(col, no_wrap=True, justify="right" if col in ("contracts", "cash") else "left")
    for r in rows:
        t.add_row(
            ts_text(r["ts"])[5:16],
            r["venue"],
            str(r.get("market", ""))[:24],
            str(r.get("resolution", "")),
            str(r.get("outcome", "")).upper(),
            str(r.get("contracts", "")),
            f"{r.get('cash', '')} {r.get('quote', '')}",
        )
    console.print(t)
    return 0
