"""`tradeguard arb scan` (offline, from a ccxt snapshot) and `tradeguard arb run` (trading)."""

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

from tradeguard.cli.common import (
    add_strategy_run_options,
    config_from_args,
    json_default,
    open_node,
    print_hanging,
    print_start,
    shown,
    start_run_stop,
    streaming_strategy_ids,
)
from tradeguard.model.errors import ConfigError, VenueError
from tradeguard.model.money import plain_significant
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
    arb = subparsers.add_parser(
        "arb",
        help="arbitrage tools",
        description="Arbitrage tools.",
        epilog="example: tradeguard arb snapshot --config examples/triangular_sandbox.toml",
    )
    arb_sub = arb.add_subparsers(dest="arb_command", required=True)
    scan = arb_sub.add_parser(
        "scan",
        help="scan a markets/tickers snapshot (ccxt load_markets / fetch_tickers JSON) for cycles",
        epilog="example: tradeguard arb scan --markets markets.json --tickers tickers.json",
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

    snap = arb_sub.add_parser(
        "snapshot",
        help="write markets.json and tickers.json from a configured ccxt venue, for `arb scan`",
        epilog="example: tradeguard arb snapshot --config examples/triangular_sandbox.toml",
    )
    snap.add_argument("--config", required=True, help="TOML config with a ccxt venue")
    snap.add_argument(
        "--venue", default=None, help="venue name in the config (default: its only ccxt venue)"
    )
    snap.add_argument(
        "--out-dir", type=Path, default=Path("."), metavar="DIR",
        help="where to write markets.json and tickers.json (default: the current directory)",
    )  # fmt: skip
    snap.set_defaults(func=cmd_arb_snapshot)

    run = arb_sub.add_parser(
        "run",
        help="trade the config's triangular strategy on its venue (sandbox or live mode)",
        epilog="example: tradeguard arb run --config examples/triangular_sandbox.toml",
    )
    add_strategy_run_options(run, "triangular", "machine-readable output")
    run.set_defaults(func=cmd_arb_run)


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
    except UnicodeDecodeError as exc:
        raise MarketDataError(
            f"{path}: the {what} file is not UTF-8 text (byte {exc.start}); expected JSON"
        ) from None
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
    return plain_significant(value, 8)


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


def cmd_arb_snapshot(args: argparse.Namespace, console: Console) -> int:
    """Fetch the venue's markets and tickers (public data, no keys) and write them as JSON."""
    import asyncio

    for place in (args.out_dir, *args.out_dir.parents):  # found after the fetch, exit 1
        if place.exists() and not place.is_dir():
            raise ConfigError(f"--out-dir {args.out_dir}: {place} is a file; give a folder")
    config = config_from_args(args)
    ccxt_venues = [v for v in config.venues if v.kind == "ccxt"]
    names = [v.name for v in ccxt_venues]
    if args.venue is not None:
        ccxt_venues = [v for v in ccxt_venues if v.name == args.venue]
    if len(ccxt_venues) != 1:
        wanted = f"--venue {args.venue}" if args.venue else "one ccxt venue (or pass --venue)"
        raise ConfigError(f"{args.config}: needs {wanted}; its ccxt venues are {names or 'none'}")
    markets, tickers = asyncio.run(_fetch_snapshot(ccxt_venues[0]))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, doc in (("markets.json", markets), ("tickers.json", tickers)):
        (args.out_dir / name).write_text(
            json.dumps(doc, indent=1, default=json_default), encoding="utf-8"
        )
    console.print(
        f"wrote {len(markets)} markets and {len(tickers)} tickers of venue {ccxt_venues[0].name} "
        f"to {args.out_dir / 'markets.json'} and {args.out_dir / 'tickers.json'}; scan them with "
        f"`tradeguard arb scan --markets {args.out_dir / 'markets.json'} --tickers "
        f"{args.out_dir / 'tickers.json'}`",
        soft_wrap=True,
    )
    return EXIT_OK


async def _fetch_snapshot(vc: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    from tradeguard.venues.ccxt_venue import ccxt_client_factory

    client = ccxt_client_factory(
        vc.exchange, None, sandbox=vc.sandbox, rest_url=vc.rest_url, ws_url=vc.ws_url
    )()
    try:
        markets = await client.load_markets()
        symbols = list(vc.symbols) or None
        tickers = await client.fetch_tickers(symbols)
    except Exception as exc:  # ccxt's network and exchange errors share no narrower base
        raise VenueError(
            vc.name,
            f"cannot fetch markets and tickers from {vc.exchange}: "
            f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}",
        ) from None
    finally:
        await client.close()
    if vc.symbols:
        markets = {k: v for k, v in markets.items() if k in set(vc.symbols)}
    return dict(markets), dict(tickers)


def cmd_arb_run(args: argparse.Namespace, console: Console) -> int:
    """Run the node's live loop, then print the cycles it executed; return the exit code."""
    import asyncio

    from tradeguard.storage.arb_repository import load_arb_executions

    config = config_from_args(args)
    ids = streaming_strategy_ids(
        config, args.config, "triangular", "arb run", "examples/triangular_sandbox.toml"
    )
    node = open_node(config, args.confirm_live, args.log_format)
    try:
        print_start(Console(stderr=True, highlight=False) if args.json else console, node)
        seen = {r["id"] for r in load_arb_executions(node.storage)}
        journaled = node.storage.count_orders()
        summary = asyncio.run(start_run_stop(node, None, args.duration_s))
        rows = [
            r
            for r in load_arb_executions(node.storage)
            if r["id"] not in seen and r["strategy_id"] in ids
        ]
        cycles = [_cycle_json(r) for r in rows]
        totals = _totals(cycles)
        if args.json:
            doc = {"summary": summary.to_json(), "cycles": cycles, "totals": totals}
            print(json.dumps(doc, indent=2))
        else:
            _print_cycles(console, cycles, totals, summary, summary.orders - journaled)
    finally:
        node.close()
    if node.interrupts.interrupted:  # a Ctrl-C stopped the run: it ended whole, and says so
        from tradeguard.cli.interrupted import say_stopped

        return say_stopped(["arb", "run"])
    return EXIT_OK


def _cycle_json(row: dict[str, Any]) -> dict[str, Any]:
    legs = row.get("legs") or {}
    cycle = row.get("cycle") or {}
    sent = [*legs.get("legs", ()), *legs.get("unwinds", ())]
    return {
        "id": row["id"],
        "ts": row["ts"],
        "strategy_id": row["strategy_id"],
        "path": cycle.get("path", ""),
        "start_asset": row["start_asset"],
        "outcome": row["outcome"],
        "size": legs.get("size", "0"),
        "expected_profit_pct": _text(row.get("expected_profit_pct")),
        "actual_profit_pct": legs.get("actual_profit_pct", "0"),
        "actual_profit": _text(row.get("actual_profit")),
        "fees": _text(row.get("fees")),
        "latency_ms": row.get("latency_ms"),
        "orders": sum(1 for leg in sent if leg.get("client_order_id")),
        "reason": legs.get("reason", ""),
    }


def _text(value: Any) -> str:
    return "0" if value is None else str(value)


def _totals(cycles: list[dict[str, Any]]) -> dict[str, Any]:
    outcomes: dict[str, int] = {}
    profit: dict[str, Decimal] = {}
    fees: dict[str, Decimal] = {}
    for c in cycles:
        outcomes[c["outcome"]] = outcomes.get(c["outcome"], 0) + 1
        asset = c["start_asset"]
        profit[asset] = profit.get(asset, Decimal(0)) + Decimal(c["actual_profit"])
        fees[asset] = fees.get(asset, Decimal(0)) + Decimal(c["fees"])
    traded = [c["latency_ms"] for c in cycles if c["orders"] and c["latency_ms"] is not None]
    return {
        "cycles": len(cycles),
        "outcomes": outcomes,
        "orders": sum(c["orders"] for c in cycles),
        "actual_profit": {a: str(v) for a, v in profit.items()},
        "fees": {a: str(v) for a, v in fees.items()},
        "mean_latency_ms": round(sum(traded) / len(traded), 1) if traded else None,
    }


def _print_cycles(
    console: Console,
    cycles: list[dict[str, Any]],
    totals: dict[str, Any],
    summary: Any,
    orders_this_run: int,
) -> None:
    if cycles:
        _print_cycle_table(console, cycles)
    else:
        console.print("No cycle was attempted (no opportunity cleared the thresholds).")
    outcomes = ", ".join(f"{n} {o}" for o, n in sorted(totals["outcomes"].items())) or "none"
    profit = ", ".join(
        f"{_size(Decimal(v))} {shown(a)}" for a, v in totals["actual_profit"].items()
    )
    fees = ", ".join(f"{_size(Decimal(v))} {shown(a)}" for a, v in totals["fees"].items())
    latency = totals["mean_latency_ms"]
    print_hanging(
        console,
        f"Cycles: {totals['cycles']} ({outcomes}); orders {totals['orders']}; "
        f"actual profit {profit or '0'}; fees {fees or '0'}; "
        f"mean latency {'-' if latency is None else f'{latency} ms'}",
    )
    # A resumed run's journal and denial count hold every run; the cycles above are this one's.
    run = (
        f"Run (resumed): {orders_this_run} orders journaled this run ({summary.orders} in the "
        f"journal), {summary.denied} denied by risk in all runs"
        if summary.resumed
        else f"Run: {summary.orders} orders journaled, {summary.denied} denied by risk"
    )
    print_hanging(
        console,
        f"{run}, trading state {summary.trading_state}, {summary.elapsed_s:.1f} s. "
        "Inspect with: tradeguard orders | balances --config ...",
    )


def _print_cycle_table(console: Console, cycles: list[dict[str, Any]]) -> None:
    """The cycles in 80 columns: figures never cut, the path on one line, reasons below."""
    table = Table(title=f"Cycles ({len(cycles)})")
    for col, justify in (
        ("#", "right"), ("path", "left"), ("outcome", "left"), ("exp. %", "right"),
        ("act. %", "right"), ("profit", "right"), ("ms", "right"),
    ):  # fmt: skip
        fold = col == "path"  # a five-leg path may not fit: fold it, never cut it
        table.add_column(col, justify=justify, no_wrap=not fold, overflow="fold")  # type: ignore[arg-type]
    for c in cycles:
        style = {"completed": "green", "held": "red", "unwound": "yellow"}.get(c["outcome"])
        table.add_row(
            str(c["id"]),
            shown(c["path"].replace(" -> ", ">")),  # the venue's asset names
            c["outcome"],
            f"{Decimal(c['expected_profit_pct']):.4f}",
            f"{Decimal(c['actual_profit_pct']):.4f}",
            f"{_size(Decimal(c['actual_profit']))} {shown(c['start_asset'])}",
            str(c["latency_ms"]),
            style=style,
        )
    console.print(table)
    for c in cycles:
        if c["reason"]:
            print_hanging(console, f"  #{c['id']} {shown(c['reason'][:300])}", indent=6)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `arb` on its own (same arguments as `tradeguard arb`)."""
    parser = argparse.ArgumentParser(prog="tradeguard")
    add_arb_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args, Console(highlight=False))
    return code


if __name__ == "__main__":
    sys.exit(main())
