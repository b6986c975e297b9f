"""`tradeguard arb scan`: scan a ccxt markets/tickers snapshot for profitable cycles offline."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tradeguard.model.errors import ConfigError
from tradeguard.strategies.triangular.markets import (
    MarketDataError,
    markets_from_ccxt,
    tickers_from_ccxt,
)
from tradeguard.strategies.triangular.opportunity import Opportunity
from tradeguard.strategies.triangular.scanner import MAX_CYCLE, MIN_CYCLE, TriangularScanner

EXIT_OK, EXIT_INPUT = 0, 2


def add_arb_parser(subparsers: Any) -> None:
    """Register `arb scan` on the top-level `tradeguard` parser."""
    arb = subparsers.add_parser("arb", help="arbitrage tools")
    arb_sub = arb.add_subparsers(dest="arb_command", required=True)
    scan = arb_sub.add_parser(
        "scan",
        help="scan a markets/tickers snapshot (ccxt load_markets / fetch_tickers JSON) for cycles",
    )
    scan.add_argument("--markets", required=True, type=Path, help="ccxt load_markets() JSON file")
    scan.add_argument("--tickers", required=True, type=Path, help="ccxt fetch_tickers() JSON file")
    scan.add_argument(
        "--max-cycle",
        type=int,
        default=3,
        help=f"longest cycle in legs, {MIN_CYCLE}..{MAX_CYCLE} (default 3: triangles)",
    )
    scan.add_argument(
        "--fee-override",
        type=_percent,
        default=None,
        metavar="PCT",
        help="taker fee in percent for every market, e.g. 0.075 (default: each market's own)",
    )
    scan.add_argument("--top", type=int, default=10, help="how many cycles to print (default 10)")
    scan.add_argument(
        "--precision-mode",
        choices=["tick", "decimals"],
        default="tick",
        help="how the markets file gives precision: tick sizes (ccxt 4 default) or decimals",
    )
    scan.add_argument("--json", action="store_true", help="machine-readable output")
    scan.set_defaults(func=cmd_arb_scan)


def _percent(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number (a percent, e.g. 0.1)"
        ) from None
    if not value.is_finite() or not 0 <= value < 100:
        raise argparse.ArgumentTypeError(f"{text} is out of range [0, 100) (a percent, e.g. 0.1)")
    return value


def _read_json(path: Path, what: str) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MarketDataError(f"{path}: cannot read the {what} file ({exc.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MarketDataError(
            f"{path}: not valid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); "
            f"expected the {what} dict ccxt returns"
        ) from None


def _opportunity_json(o: Opportunity) -> dict[str, Any]:
    return {
        "path": o.path(),
        "start_asset": o.start_asset,
        "profit_pct": str(o.profit_pct),
        "max_size": str(o.max_size),
        "profit_at_size_pct": str(o.profit_at_size_pct),
        "end_amount": str(o.end_amount),
        "size_limited_by": o.size_limited_by,
        "legs": [
            {
                "symbol": leg.symbol,
                "side": leg.side.value,
                "from": leg.from_asset,
                "to": leg.to_asset,
                "price": str(leg.price),
                "fee": str(leg.fee),
            }
            for leg in o.legs
        ],
        "leg_amounts": [
            {
                "amount_in": str(a.amount_in),
                "order_amount": str(a.order_amount),
                "limit_price": str(a.limit_price),
                "amount_out": str(a.amount_out),
            }
            for a in o.leg_amounts
        ],
    }


def _size(value: Decimal) -> str:
    return f"{value:.8g}" if value else "0"


def cmd_arb_scan(args: argparse.Namespace, console: Console) -> int:
    """Load the snapshot, scan it and print the best cycles; return the exit code."""
    try:
        if args.top < 1:
            raise ConfigError(f"--top {args.top} must be at least 1")
        markets = markets_from_ccxt(
            _read_json(args.markets, "markets"),
            source=str(args.markets),
            precision_mode=args.precision_mode,
            default_taker_fee=None if args.fee_override is None else args.fee_override / 100,
        )
        tickers = tickers_from_ccxt(_read_json(args.tickers, "tickers"), source=str(args.tickers))
        scanner = TriangularScanner(
            markets, max_cycle=args.max_cycle, fee_override_pct=args.fee_override
        )
    except (MarketDataError, ConfigError) as exc:
        print(f"tradeguard arb scan: {exc}", file=sys.stderr)
        return EXIT_INPUT
    quoted = scanner.load_tickers(tickers)
    found = scanner.top(args.top)
    if args.json:
        doc = {
            "markets": len(scanner.markets),
            "markets_quoted": quoted,
            "assets": len(scanner.assets),
            "cycles": scanner.n_cycles,
            "max_cycle": scanner.max_cycle,
            "opportunities": [_opportunity_json(o) for o in found],
        }
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    console.print(
        f"{len(scanner.markets)} markets ({quoted} quoted), {len(scanner.assets)} assets, "
        f"{scanner.n_cycles} cycles of up to {scanner.max_cycle} legs"
    )
    if not found:
        console.print("no quoted cycle: every cycle misses a bid or an ask")
        return EXIT_OK
    table = Table(title=f"best {len(found)} cycles (profit after taker fees, at top of book)")
    table.add_column("#", justify="right")
    table.add_column("profit %", justify="right")
    table.add_column("legs (symbol side @ price)")
    table.add_column("max size", justify="right")
    table.add_column("limited by")
    for rank, o in enumerate(found, 1):
        legs = "\n".join(f"{leg.symbol} {leg.side.value} @ {leg.price:f}" for leg in o.legs)
        style = "green" if o.is_profitable else None
        table.add_row(
            str(rank),
            f"{o.profit_pct:.4f}",
            legs,
            f"{_size(o.max_size)} {o.start_asset}",
            o.size_limited_by,
            style=style,
        )
    console.print(table)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run `arb` on its own (same arguments as `tradeguard arb`)."""
    parser = argparse.ArgumentParser(prog="tradeguard")
    add_arb_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args, Console(highlight=False))
    return code


if __name__ == "__main__":
    sys.exit(main())
