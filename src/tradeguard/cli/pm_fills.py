"""`tradeguard pm fills clear ORDER_ID --reason TEXT`: end an order escalated for unreadable
fills once the venue has been checked by hand (node/fills_clear.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from tradeguard.cli.common import (
    EXIT_OK,
    add_source_options,
    config_from_args,
    refuse_missing_sqlite_file,
)
from tradeguard.cli.control import _text_arg, _who
from tradeguard.logsetup import printable as shown

EXAMPLE = 'example: tradeguard pm fills clear tg-1a2b3c --reason "10 YES at 0.46 on the venue"'


def _order_id_arg(text: str) -> str:
    value = text.strip()
    if not value or len(value) > 128 or not value.isascii() or not value.isprintable():
        raise argparse.ArgumentTypeError(
            f"{text[:80]!r}: a client order id of 1 to 128 printable ASCII characters"
        )
    return value


def add_pm_fills_parser(pm_sub: Any) -> None:
    """Register `pm fills clear` under the `pm` command group."""
    fills = pm_sub.add_parser(
        "fills", help="orders escalated for unreadable fill rows", epilog=EXAMPLE
    )
    cmds = fills.add_subparsers(dest="pm_fills_command", required=True)
    clear = cmds.add_parser(
        "clear",
        help="end an order escalated for unreadable fills (order.fills_unreadable) in the "
        "journal at the venue's status, once checked on the venue; no node may run",
        epilog=EXAMPLE,
    )
    clear.add_argument(
        "order_id", type=_order_id_arg, metavar="ORDER_ID", help="the order's client order id"
    )
    add_source_options(clear)
    clear.add_argument("--reason", required=True, type=_text_arg, help="why (recorded)")
    clear.add_argument("--by", type=_text_arg, help="who clears it (default: the OS user)")
    clear.set_defaults(func=cmd_pm_fills_clear)


def cmd_pm_fills_clear(args: argparse.Namespace) -> int:
    """Ask the venue; end the order in the journal only when it agrees."""
    from tradeguard.node import TradingNode
    from tradeguard.node.fills_clear import clear_unreadable_fills, escalated_order

    config = config_from_args(args)
    refuse_missing_sqlite_file(config.node.database_url)
    node = TradingNode(config)  # takes the writer lock: a running node is refused, named
    try:
        escalated_order(node, args.order_id)  # a wrong id is said before the venue is asked
        done = asyncio.run(
            clear_unreadable_fills(node, args.order_id, args.reason, args.by or _who())
        )
    finally:
        node.close()
    if args.json:
        print(json.dumps(done))
        return EXIT_OK
    print(
        f"{shown(done['venue'])}: order {shown(done['client_order_id'])} "
        f"({shown(done['symbol'])}) cleared: the venue reports it {done['status']} with "
        f"{done['venue_filled']} filled, {done['booked']} booked (the rest is in the venue's "
        f"balances); recorded as event order.fills_cleared by {shown(done['by'])}"
    )
    return EXIT_OK
