"""`tradeguard fills`: every execution in the journal as CSV, for accounting and tax reports.

```bash
tradeguard fills --since 2026-01-01 --until 2027-01-01 --out fills-2026.csv
```

One row per fill, oldest first, money as the exact decimal text the journal holds; read-only, so
it runs beside a trading node.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from rich.console import Console

from tradeguard.cli.common import EXIT_OK, add_source_options, open_storage
from tradeguard.model.errors import ConfigError
from tradeguard.model.fields import parse_utc
from tradeguard.model.fill import Fill
from tradeguard.model.money import plain
from tradeguard.secrets.atomic import atomic_file

COLUMNS = (
    "time_utc", "ts_ms", "venue", "symbol", "side", "price", "amount", "quote_amount", "fee",
    "fee_asset", "fee_in_quote", "liquidity", "trade_id", "venue_order_id", "client_order_id",
    "strategy_id",
)  # fmt: skip


def add_export_parser(sub: Any) -> None:
    """Register `fills`."""
    sp = sub.add_parser(
        "fills",
        help="every fill in the journal as CSV (accounting, tax reports)",
        description="Write every fill in the journal as CSV, oldest first: time, venue, symbol, "
        "side, price, amount, quote amount, fee and its asset, the fee valued in the quote, "
        "liquidity, trade and order ids, strategy.",
        epilog="example: tradeguard fills --since 2026-01-01 --until 2027-01-01 --out fills.csv",
    )
    add_source_options(sp, json_flag=False)
    sp.add_argument("--since", help="first day or moment (UTC), YYYY-MM-DD[THH:MM]")
    sp.add_argument("--until", help="end, exclusive (UTC), YYYY-MM-DD[THH:MM]")
    sp.add_argument("--venue", help="only this venue")
    sp.add_argument("--symbol", help="only this symbol, e.g. BTC/USDT")
    sp.add_argument("--out", help="write to this file (replaced whole; default: standard output)")
    sp.set_defaults(func=cmd_fills)


def fill_row(fill: Fill, strategy_id: str) -> list[str]:
    """One CSV row: decimals as the journal's exact text."""
    when = datetime.fromtimestamp(fill.ts / 1000, UTC).isoformat(timespec="milliseconds")
    return [
        when.replace("+00:00", "Z"), str(fill.ts), fill.venue, fill.symbol, fill.side.value,
        plain(fill.price), plain(fill.amount), plain(fill.price * fill.amount), plain(fill.fee),
        fill.fee_asset, plain(fill.fee_in_quote), fill.liquidity.value, fill.trade_id,
        fill.venue_order_id, fill.client_order_id, strategy_id,
    ]  # fmt: skip


def write_csv(rows: Iterable[tuple[Fill, str]], out: IO[str]) -> int:
    """Write the header and one line per fill; return how many fills."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    n = 0
    for fill, strategy_id in rows:
        writer.writerow(fill_row(fill, strategy_id))
        n += 1
    return n


def cmd_fills(args: argparse.Namespace, console: Console) -> int:
    """Export the journal's fills as CSV."""
    since, until = parse_utc(args.since, "--since"), parse_utc(args.until, "--until")
    if since is not None and until is not None and until <= since:
        raise ConfigError(f"--until {args.until} must be after --since {args.since}")
    # a usage error comes before the database; '' (an unset variable in a script) is no file
    if args.out is not None and (not args.out or Path(args.out).is_dir()):
        what = "is empty (an unset variable?)" if not args.out else "is a directory"
        raise ConfigError(f"--out {args.out!r} {what}; give a file name such as fills.csv")
    storage = open_storage(args, existing=True)
    rows = storage.fill_pages(venue=args.venue, symbol=args.symbol, since_ts=since, until_ts=until)
    if not args.out:
        n = write_csv(rows, sys.stdout)
    else:
        n = _write_file(Path(args.out), rows)
        console.print(f"{n} fill(s) written to {args.out}", highlight=False)
    if n == 0:
        print("no fills in the journal for that selection", file=sys.stderr)
    return EXIT_OK


def _write_file(path: Path, rows: Iterable[tuple[Fill, str]]) -> int:
    """Write the CSV whole or not at all: a failed export leaves no half file under `path`."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ConfigError(f"--out {str(path)!r} is a directory; give a file name such as fills.csv")
    if not folder.is_dir():
        raise ConfigError(f"--out {str(path)!r}: folder {str(folder)!r} does not exist")
    with atomic_file(path, text=True, mkdir=False) as fh:
        return write_csv(rows, fh)
