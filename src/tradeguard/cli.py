"""The `tradeguard` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from tradeguard.model.errors import ConfigError, TradeguardError

EXIT_OK, EXIT_ERROR, EXIT_CONFIG = 0, 1, 2


def _ts(ms: int | None) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _money(v: Any, places: int = 2) -> str:
    if v is None:
        return "-"
    d = Decimal(str(v))
    return f"{d.quantize(Decimal(1).scaleb(-places)):,}"


def _config_from_args(args: argparse.Namespace) -> Any:
    from tradeguard.config import load_config

    config = load_config(getattr(args, "config", None))
    db = getattr(args, "db", None)
    if db:
        config.node.database_url = db
    return config


def _storage(args: argparse.Namespace) -> Any:
    from tradeguard.storage.db import Database
    from tradeguard.storage.repository import Storage

    config = _config_from_args(args)
    db = Database(config.node.database_url)
    db.migrate()
    return Storage(db)


# run --------------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    config = _config_from_args(args)
    node = _open_node(config, args.confirm_live, args.log_format)
    info = Console(stderr=True, highlight=False) if args.json else console
    try:
        _print_start(info, node)
        with Progress(
            TextColumn("replay"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
            TimeRemainingColumn(), console=console, transient=True,
            disable=args.json or not console.is_terminal,
        ) as bar:  # fmt: skip
            task = bar.add_task("replay", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            summary = asyncio.run(
                _start_run_stop(node, progress, args.duration_s, serve_after=not args.until_end)
            )
        if args.json:
            print(json.dumps(summary.to_json(), indent=2))
        else:
            _print_summary(console, summary, node)
    finally:
        node.close()
    return EXIT_OK


def _open_node(config: Any, confirm_live: bool, log_format: str | None) -> Any:
    """Pass the trading-mode gate, set up logging, announce live trading, build the node."""
    from tradeguard.logsetup import setup_logging
    from tradeguard.node import TradingNode
    from tradeguard.venues.modes import check_mode, live_banner

    check_mode(config, confirm_live, dict(os.environ))
    setup_logging(log_format or config.node.log_format, config.node.log_level)
    if config.mode.value == "live":
        print(live_banner(config), file=sys.stderr)
    return TradingNode(config)


def _print_start(info: Console, node: Any) -> None:
    config = node.config
    if node.resumed:
        info.print(
            f"[bold]Resuming[/] from the stored state in {config.node.database_url}"
            f" (trading state {node.risk.state.value})."
        )
    else:
        info.print(f"Starting a {config.mode.value} run; database {config.node.database_url}.")


async def _start_run_stop(
    node: Any, progress: Any, duration_s: float | None = None, serve_after: bool = False
) -> Any:
    """Start the node (and its API when enabled), run it, keep serving if asked, stop."""
    from tradeguard.model.enums import TradingMode

    server = None
    if node.config.api.enabled:
        from tradeguard.api.server import ApiServer

        server = ApiServer(node)
        await server.start()
        print(f"API and dashboard on {server.url}", file=sys.stderr)
    await node.start()
    try:
        if node.mode in (TradingMode.SANDBOX, TradingMode.LIVE):
            return await node.run_live(duration_s=duration_s)
        summary = await node.run(until_end=True, progress=progress)
        if server is not None and serve_after:
            print("replay finished; serving until Ctrl-C", file=sys.stderr)
            while True:
                await asyncio.sleep(3600)
        return summary
    finally:
        await node.stop()
        if server is not None:
            await server.stop()


def _print_summary(console: Console, s: Any, node: Any) -> None:
    t = Table(title=f"Run summary ({s.mode}{', resumed' if s.resumed else ''})", show_header=False)
    rows = [
        ("Period", f"{_ts(s.first_ts)} → {_ts(s.last_ts)} UTC"),
        ("Candles replayed (this run)", f"{s.events:,}"),
        ("Candles replayed (all runs)", f"{s.events_total:,}"),
        ("Orders / fills", f"{s.orders:,} / {s.fills:,}"),
        ("Denied by risk", f"{s.denied:,}"),
        (
            "Closed trades (won / lost)",
            f"{s.closed_trades} ({s.winning_trades} / {s.losing_trades})",
        ),
        ("Realized P&L (net of fees)", _money(s.realized_pnl)),
        ("Unrealized P&L", _money(s.unrealized_pnl)),
        ("Fees paid", _money(s.fees)),
        ("Equity start → end", f"{_money(s.start_equity)} → {_money(s.end_equity)}"),
        ("Total P&L", _money(s.total_pnl)),
        ("Max drawdown", f"{_money(s.max_drawdown_pct, 3)} %"),
        ("Trading state", s.trading_state),
        ("Elapsed", f"{s.elapsed_s:.2f} s"),
    ]
    for k, v in rows:
        t.add_row(k, v)
    console.print(t)
    trades = node.storage.load_position_rows(status="closed", limit=8)
    if trades:
        tt = Table(title="Last closed trades")
        for col in ("symbol", "side", "entry", "exit", "P&L", "P&L %", "closed (UTC)"):
            tt.add_column(col)
        for r in trades:
            tt.add_row(
                r["symbol"],
                r["side"],
                _money(r["entry_price"]),
                _money(r["exit_price"]),
                _money(r["pnl"]),
                _money(r["pnl_pct"]),
                _ts(r["exit_ts"]),
            )
        console.print(tt)
    console.print(
        "Inspect with: tradeguard status | orders | positions | balances  (--json for scripts)"
    )


# read commands ------------------------------------------------------------------------------------
def cmd_status(args: argparse.Namespace, console: Console) -> int:
    from tradeguard.node import RISK_STATE_KEY, STATS_KEY

    storage = _storage(args)
    risk = storage.kv_get(RISK_STATE_KEY) or {}
    stats = storage.kv_get(STATS_KEY) or {}
    runs = storage.load_run_states()
    out = {
        "trading_state": risk.get("state", "ACTIVE"),
        "halt_reason": risk.get("halt_reason") or risk.get("reason"),
        "stats": stats,
        "kill": storage.kv_get("kill.last_report"),
        "strategies": [_run_json(r) for r in runs],
    }
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return EXIT_OK
    console.print(
        f"Trading state: [bold]{out['trading_state']}[/]"
        + (f" ({out['halt_reason']})" if out["halt_reason"] else "")
    )
    t = Table(title="Strategies")
    for col in ("id", "status", "trades", "won", "lost", "total P&L", "last signal", "last trade"):
        t.add_column(col)
    for r in runs:
        t.add_row(
            r.strategy_id,
            r.status,
            str(r.total_trades),
            str(r.winning_trades),
            str(r.losing_trades),
            _money(r.total_pnl),
            _ts(r.last_signal_ts),
            _ts(r.last_trade_ts),
        )
    console.print(t)
    return EXIT_OK


def _run_json(r: Any) -> dict[str, Any]:
    import dataclasses

    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in dataclasses.asdict(r).items()}


def cmd_orders(args: argparse.Namespace, console: Console) -> int:
    storage = _storage(args)
    orders = storage.load_orders(open_only=args.open, limit=args.limit)
    if args.json:
        print(json.dumps([_order_json(o) for o in orders], indent=2))
        return EXIT_OK
    t = Table(title=f"Orders ({len(orders)})")
    for col in (
        "client id",
        "strategy",
        "symbol",
        "side",
        "type",
        "amount",
        "price",
        "filled",
        "avg price",
        "status",
        "updated",
    ):
        t.add_column(col)
    for o in orders:
        t.add_row(
            o.client_order_id,
            o.strategy_id,
            o.symbol,
            o.side.value,
            o.type.value,
            str(o.amount),
            str(o.price or "-"),
            str(o.filled),
            _money(o.avg_price),
            o.status.value,
            _ts(o.updated_ts),
        )
    console.print(t)
    return EXIT_OK


def _order_json(o: Any) -> dict[str, Any]:
    return {
        "client_order_id": o.client_order_id, "venue_order_id": o.venue_order_id,
        "strategy_id": o.strategy_id, "venue": o.venue, "symbol": o.symbol,
        "side": o.side.value, "type": o.type.value, "amount": str(o.amount),
        "price": str(o.price) if o.price is not None else None, "status": o.status.value,
        "filled": str(o.filled), "avg_price": str(o.avg_price), "fee": str(o.fee),
        "reason": o.reason, "signal": o.signal, "created_ts": o.created_ts,
        "updated_ts": o.updated_ts,
    }  # fmt: skip


def cmd_positions(args: argparse.Namespace, console: Console) -> int:
    storage = _storage(args)
    rows = storage.load_position_rows(status=None if args.all else "open", limit=args.limit)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return EXIT_OK
    t = Table(title="Positions" + (" (all)" if args.all else " (open)"))
    for col in ("symbol", "strategy", "side", "status", "qty", "entry", "exit", "P&L", "P&L %"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            r["symbol"],
            r["strategy_id"],
            r["side"],
            r["status"],
            str(r["quantity"]),
            _money(r["entry_price"]),
            _money(r.get("exit_price")),
            _money(r.get("pnl")),
            _money(r.get("pnl_pct")),
        )
    console.print(t)
    return EXIT_OK


def cmd_balances(args: argparse.Namespace, console: Console) -> int:
    storage = _storage(args)
    bals = storage.load_balances()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "venue": b.venue,
                        "asset": b.asset,
                        "free": str(b.free),
                        "locked": str(b.locked),
                        "total": str(b.total),
                    }
                    for b in bals
                ],
                indent=2,
            )
        )
        return EXIT_OK
    t = Table(title="Balances")
    for col in ("venue", "asset", "free", "locked", "total"):
        t.add_column(col)
    for b in bals:
        t.add_row(b.venue, b.asset, str(b.free), str(b.locked), str(b.total))
    console.print(t)
    return EXIT_OK


def cmd_config_check(args: argparse.Namespace, console: Console) -> int:
    from tradeguard.config import load_config

    config = load_config(args.file)
    console.print(
        f"{args.file}: valid ({config.mode.value} mode, {len(config.venues)} venue(s), "
        f"{len(config.strategies)} strateg{'y' if len(config.strategies) == 1 else 'ies'})"
    )
    return EXIT_OK


# parser -------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tradeguard", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser, json_flag: bool = True) -> None:
        sp.add_argument("--config", help="TOML config file (default: built-in paper config)")
        sp.add_argument("--db", help="database URL (overrides node.database_url)")
        if json_flag:
            sp.add_argument("--json", action="store_true", help="machine-readable output")

    run = sub.add_parser("run", help="run the node (paper replay of the bundled data by default)")
    common(run)
    run.add_argument("--until-end", action="store_true", help="replay to the end of data and exit")
    run.add_argument("--log-format", choices=["text", "json"], help="log line format")
    run.add_argument(
        "--duration-s",
        type=float,
        default=None,
        help="sandbox/live: stop after this many seconds (default: until Ctrl-C)",
    )
    run.add_argument(
        "--confirm-live",
        action="store_true",
        help="required (or TG_CONFIRM_LIVE=yes) to trade real money in mode 'live'",
    )
    run.set_defaults(func=cmd_run)

    for name, func, helptext in (
        ("status", cmd_status, "trading state, breakers and strategy figures"),
        ("orders", cmd_orders, "orders from the journal"),
        ("positions", cmd_positions, "open (or all) positions"),
        ("balances", cmd_balances, "balances per venue"),
    ):
        sp = sub.add_parser(name, help=helptext)
        common(sp)
        sp.set_defaults(func=func)
        if name in ("orders", "positions"):
            sp.add_argument("--limit", type=int, default=50)
        if name == "orders":
            sp.add_argument("--open", action="store_true", help="only open orders")
        if name == "positions":
            sp.add_argument("--all", action="store_true", help="include closed positions")

    cfg = sub.add_parser("config", help="configuration tools")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True)
    chk = cfg_sub.add_parser("check", help="validate a config file without running")
    chk.add_argument("file")
    chk.set_defaults(func=cmd_config_check)

    _optional_parsers(sub)
    return p


def _optional_parsers(sub: Any) -> None:
    """Register commands that live with their features."""
    from tradeguard.control import add_control_parsers

    add_control_parsers(sub)
    for module, fn in (
        ("tradeguard.api.cli", "add_api_parsers"),
        ("tradeguard.secrets.cli", "add_keys_parser"),
        ("tradeguard.sandbox.cli", "add_sandbox_parser"),
        ("tradeguard.strategies.triangular.cli", "add_arb_parser"),
        ("tradeguard.doctor", "add_doctor_parser"),
    ):
        mod = __import__(module, fromlist=[fn])
        getattr(mod, fn)(sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console(stderr=False, highlight=False)
    try:
        func = args.func
        takes_console = func.__code__.co_argcount >= 2
        code: int = func(args, console) if takes_console else func(args)
        return code
    except ConfigError as exc:
        print(f"tradeguard: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except TradeguardError as exc:
        print(f"tradeguard: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("tradeguard: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
