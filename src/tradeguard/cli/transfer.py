"""`tradeguard transfer`: book a deposit or withdrawal made on a venue while the node was down."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from decimal import Decimal, InvalidOperation
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

MAX_PLACES = 18  # a wei

EXAMPLE = 'example: tradeguard transfer --venue kraken --asset BTC --amount 0.5 --reason "deposit"'


# an asset as the ledger names it: a coin or token as the venue spells it (BTC, wstETH) or an
# outcome contract (Kalshi `TICKER:YES`, Polymarket `slug:NO`)
_LEDGER_ASSET = re.compile(r"[A-Za-z0-9._-]{1,120}(:(YES|NO))?")


def _ledger_asset_arg(text: str) -> str:
    """The asset as the ledger audit's halt names it, kept as written (the venue's balance is
    matched to it exactly); a coin typed all in lower case is taken upper-cased (btc: BTC)."""
    value = text.strip()
    if not _LEDGER_ASSET.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{text!r}: an asset as the halt names it, e.g. BTC, wstETH or MARKET:YES (1 to "
            "120 letters, digits, '.', '_', '-', and :YES or :NO for an outcome contract)"
        )
    return value.upper() if ":" not in value and value.islower() else value


def _amount_arg(text: str) -> Decimal:
    try:
        # digits 0-9 only: Decimal reads any script's digits ("５０" is 50) and "1_0" as 10
        plain = text.strip().isascii() and "_" not in text
        value = Decimal(text.strip()) if plain else Decimal("NaN")
    except InvalidOperation:
        value = Decimal("NaN")
    # no asset moves finer than a wei (18 places): a finer amount is a typo, and one of a
    # billion places could not even be written out in the refusal
    if (
        not value.is_finite()
        or value == 0
        or value.copy_abs() >= Decimal("1e18")  # exact: no context (a caller's may trap)
        or int(value.as_tuple().exponent) < -MAX_PLACES
    ):
        raise argparse.ArgumentTypeError(
            f"{text!r}: a non-zero amount below 10^18 with at most {MAX_PLACES} decimal places "
            "(negative for a withdrawal), e.g. 0.5"
        )
    return value


def add_transfer_parser(sub: Any) -> None:
    """Register `transfer` on the top-level parser."""
    p = sub.add_parser(
        "transfer",
        help="book a deposit (+) or withdrawal (-) made on a venue while the node was down",
        epilog=EXAMPLE,
    )
    add_source_options(p)
    p.add_argument("--venue", required=True, help="the venue named in the ledger audit's halt")
    p.add_argument(
        "--asset", required=True, type=_ledger_asset_arg,
        help="the asset, e.g. BTC (an outcome contract as the halt names it)",
    )  # fmt: skip
    p.add_argument(
        "--amount", required=True, type=_amount_arg,
        help="what was moved: positive for a deposit, negative for a withdrawal",
    )  # fmt: skip
    p.add_argument("--reason", required=True, type=_text_arg, help="why (recorded)")
    p.add_argument("--by", type=_text_arg, help="who records it (default: the OS user)")
    p.set_defaults(func=cmd_transfer)


def cmd_transfer(args: argparse.Namespace, console: Console) -> int:
    """Book the transfer when the venue's figure is the ledger plus it; the trading state
    stays as it is until a resume."""
    from tradeguard.node import TradingNode
    from tradeguard.node.transfer_record import record_transfer

    config = config_from_args(args)
    refuse_missing_sqlite_file(config.node.database_url)
    node = TradingNode(config)  # takes the writer lock: a running node is refused, named

    async def booked() -> dict[str, str]:
        alerts = node.alerts  # the transfer is announced as every outside-money event is
        if alerts is not None:
            await alerts.start()
        try:
            by = args.by or _who()
            return await record_transfer(node, args.venue, args.asset, args.amount, args.reason, by)
        finally:
            if alerts is not None:
                await alerts.stop()  # delivers what is queued (alerts.drain_timeout_s)

    try:
        done = asyncio.run(booked())
        state = node.risk.state.value
    finally:
        node.close()
    if args.json:
        print(json.dumps({**done, "venue": args.venue, "trading_state": state}))
        return EXIT_OK
    console.print(
        f"{shown(args.venue)} {shown(args.asset)}: {done['kind']} of {done['amount']} recorded: "
        f"ledger {done['ledger']} -> {done['venue_total']}, what the venue holds (event "
        f"ledger.transfer_recorded); trading stays {state} until `tradeguard resume`",
        markup=False,
    )
    return EXIT_OK
