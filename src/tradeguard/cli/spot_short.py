"""`tradeguard spot-short clear`: clear a spot-short record the venue has settled."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from rich.console import Console

from tradeguard.cli.common import (
    EXIT_OK,
    add_source_options,
    config_from_args,
    refuse_missing_sqlite_file,
    shown,
)
from tradeguard.cli.control import _text_arg, _who


def _asset_arg(text: str) -> str:
    value = text.strip().upper()
    if not value or len(value) > 32 or not value.replace(".", "").isalnum():
        raise argparse.ArgumentTypeError(f"{text!r}: an asset symbol such as BTC (1 to 32 letters)")
    return value


def add_spot_short_parser(sub: Any) -> None:
    """Register `spot-short clear` on the top-level parser."""
    top = sub.add_parser(
        "spot-short",
        help="clear a spot-short record once the venue holds the coins again",
        epilog="example: tradeguard spot-short clear --venue binance --asset BTC "
        '--reason "bought back 0.05 BTC"',
    )
    cmds = top.add_subparsers(dest="spot_short_cmd", required=True)
    clear = cmds.add_parser(
        "clear",
        help="read the venue's balance; book it over the record only if it holds no short",
        epilog="example: tradeguard spot-short clear --venue binance --asset BTC "
        '--reason "bought back 0.05 BTC"',
    )
    add_source_options(clear)
    clear.add_argument("--venue", required=True, help="the venue named in the halt")
    clear.add_argument("--asset", required=True, type=_asset_arg, help="the asset, e.g. BTC")
    clear.add_argument("--reason", required=True, type=_text_arg, help="why (recorded)")
    clear.add_argument("--by", type=_text_arg, help="who clears it (default: the OS user)")
    clear.set_defaults(func=cmd_spot_short_clear)


def cmd_spot_short_clear(args: argparse.Namespace, console: Console) -> int:
    """Clear the record when the venue agrees; trading stays as it is until a resume."""
    from tradeguard.node import TradingNode
    from tradeguard.node.spot_short_clear import clear_spot_short

    config = config_from_args(args)
    refuse_missing_sqlite_file(config.node.database_url)
    node = TradingNode(config)  # takes the writer lock: a running node is refused, named
    try:
        done = asyncio.run(
            clear_spot_short(node, args.venue, args.asset, args.reason, args.by or _who())
        )
        state = node.risk.state.value
    finally:
        node.close()
    if args.json:
        print(json.dumps({**done, "venue": args.venue, "trading_state": state}))
        return EXIT_OK
    console.print(
        f"{shown(args.venue)} {shown(args.asset)}: spot short cleared: stored "
        f"{done['stored']}, ledger {done['ledger']}, the venue holds {done['venue_total']} "
        f"(adjustment {done['adjustment']} recorded, event ledger.spot_short_cleared); "
        f"trading stays {state} until `tradeguard resume`",
        markup=False,
    )
    return EXIT_OK
