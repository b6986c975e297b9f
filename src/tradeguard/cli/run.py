"""`tradeguard run`: replay (paper, backtest) or trade (sandbox, live) one config."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from tradeguard.cli.common import (
    EXIT_OK,
    add_source_options,
    add_trading_options,
    config_from_args,
    figure,
    money,
    open_node,
    print_start,
    start_run_stop,
    ts_text,
)
from tradeguard.cli.main import quiet_broken_pipe, real_console, whole_process
from tradeguard.model.money import quote_of


def add_run_parser(sub: Any) -> None:
    """Register `run` on the top-level parser."""
    run = sub.add_parser(
        "run",
        help="run the node (paper replay of the bundled data by default)",
        description="Run the node: replay data (paper, backtest) or trade (sandbox, live).",
        epilog="example: tradeguard run --until-end",
    )
    add_source_options(run)
    run.add_argument("--until-end", action="store_true", help="replay to the end of data and exit")
    add_trading_options(run, "sandbox/live: stop after S seconds (default: until Ctrl-C)")
    run.set_defaults(func=cmd_run)


def _interrupted(signum: int, frame: Any) -> None:
    """The first Ctrl-C stops the replay where it is; more, typed while it closes the node and
    says its line, are ignored (one landing there skipped the rest of that cleanup)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    """Run the node and print its summary."""
    before = signal.getsignal(signal.SIGINT) if whole_process() else None
    code = _run_and_sum_up(args, console)
    # Ended: SIGINT's handler as it was before the run took it (the replay's own raised
    # KeyboardInterrupt into what ran after), unless a Ctrl-C that stopped it was said and
    # more are ignored to the process's end.
    if before is not None and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, before)
    return code


def _run_and_sum_up(args: argparse.Namespace, console: Console) -> int:
    if whole_process():
        # A Ctrl-C as the node opens stops it there, and more typed while what it opened is
        # closed are ignored (one landing in that cleanup logged a traceback). A live or
        # sandbox run takes SIGINT for its loop once it starts.
        signal.signal(signal.SIGINT, _interrupted)
    config = config_from_args(args)
    node = open_node(config, args.confirm_live, args.log_format)
    info = Console(stderr=True, highlight=False) if args.json else console
    try:
        print_start(info, node)
        # Only a replay has candles to count: a live or sandbox run trades until stopped.
        replay = node.mode.value in ("paper", "backtest")
        if whole_process():
            # Ctrl-C stops the replay where it is, as in a backtest: asyncio.run would take it
            # as a request to cancel at the next await, which a strategy callback that blocks
            # never reaches (the uncommitted unit rolls back; a new run resumes from the last).
            # A live or sandbox run gets Python's own back until its loop takes SIGINT.
            signal.signal(signal.SIGINT, _interrupted if replay else signal.default_int_handler)
        try:
            summary = _run_with_bar(args, console, node, replay)
        except KeyboardInterrupt:
            if replay:
                _say_where(node)
            raise
        try:
            if args.json:
                print(json.dumps(summary.to_json(), indent=2))
            else:
                print_summary(console, summary, node)
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader went away (`2>&1 | tee run.log`: the Ctrl-C that stopped the run ended
            # tee too). The run ended whole all the same, and its exit code says how.
            quiet_broken_pipe()
    finally:
        node.close()
    if node.interrupts.interrupted:  # a Ctrl-C stopped the run: it ended whole, and says so
        from tradeguard.cli.interrupted import say_stopped

        return say_stopped(["run"])
    return EXIT_OK


def _run_with_bar(args: argparse.Namespace, console: Console, node: Any, replay: bool) -> Any:
    """Run the node with a replay's progress bar (gone once the run ends); return its summary."""
    from rich.progress import TimeRemainingColumn

    from tradeguard.cli.bar import progress_bar

    def run(progress: Any) -> Any:
        return asyncio.run(
            start_run_stop(node, progress, args.duration_s, serve_after=not args.until_end)
        )

    if args.json or not console.is_terminal or not replay:  # a bar that would not show
        return run(lambda done, total: None)
    with progress_bar(real_console(console), "replay", TimeRemainingColumn()) as progress:
        return run(progress)


def _say_where(node: Any) -> None:
    """A replay Ctrl-C interrupted: where it stood (its progress bar went with it)."""
    done, total = node._replay_progress
    if not total:
        return  # interrupted before its data was read
    try:
        print(
            f"replay interrupted at candle {done:,} of {total:,} (its last checkpoint); "
            "the next run resumes from its last commit",
            file=sys.stderr,
        )
    except BrokenPipeError:  # `2>&1 | tee`: the same Ctrl-C ended the reader
        quiet_broken_pipe()


def _stopped_row(s: Any) -> list[tuple[str, str]]:
    """A replay stopped before the end of its data: where (a next run resumes there)."""
    done, total = getattr(s, "candles_done", 0), getattr(s, "candles_total", 0)
    if not total or done >= total:
        return []
    return [("Stopped at", f"candle {done:,} of {total:,} (a next run resumes there)")]


def _tied(start: Decimal, end: Decimal) -> tuple[str, str, str]:
    """Start and end equity and the total P&L at one number of places, the most any of them
    shows alone (a P&L below 1 keeps 4 significant digits), so the printed figures add up: an
    account in BTC printed `1.23 → 1.23` over a P&L of `0.0001212`."""
    places = max(len(figure(v).partition(".")[2]) for v in (start, end, end - start))
    step = Decimal(1).scaleb(-places)
    first, last = start.quantize(step), end.quantize(step)
    return money(first, places), money(last, places), money(last - first, places)


def print_summary(console: Console, s: Any, node: Any) -> None:
    """Print the run summary and the last closed trades."""
    t = Table(title=f"Run summary ({s.mode}{', resumed' if s.resumed else ''})", show_header=False)
    # A live or sandbox run counts the quotes and closed candles it handled, not a replay's.
    events = "Candles replayed" if s.mode in ("paper", "backtest") else "Market events"
    mark = " (provisional)" if s.equity_provisional else ""
    start, end, pnl = _tied(s.start_equity, s.end_equity)
    cur = f" {s.currency}" if getattr(s, "currency", "") else ""  # every money figure's unit
    rows = [
        ("Period", f"{ts_text(s.first_ts)} → {ts_text(s.last_ts)} UTC"),
        (f"{events} (this run)", f"{s.events:,}"),
        (f"{events} (all runs)", f"{s.events_total:,}"),
        *_stopped_row(s),
        ("Orders / fills", f"{s.orders:,} / {s.fills:,}"),
        ("Denied by risk", f"{s.denied:,}"),
        (
            "Closed trades (won / lost)",
            f"{s.closed_trades} ({s.winning_trades} / {s.losing_trades})",
        ),
        ("Realized P&L (net of fees)", f"{figure(s.realized_pnl)}{cur}"),
        ("Unrealized P&L", f"{figure(s.unrealized_pnl)}{cur}"),
        ("Fees paid", f"{figure(s.fees)}{cur}"),
        ("Equity start → end", f"{start} → {end}{cur}{mark}"),
        ("Total P&L", f"{pnl}{cur}{mark}"),
        *([("End equity provisional", s.equity_provisional)] if s.equity_provisional else []),
        ("Max drawdown", f"{money(s.max_drawdown_pct, 3)} %"),
        ("Trading state", s.trading_state),
        ("Elapsed", f"{s.elapsed_s:.2f} s"),
    ]
    for k, v in rows:
        t.add_row(k, v)
    console.print(t)
    trades = node.storage.load_position_rows(status="closed", limit=8)
    if trades:
        tt = Table(title="Last closed trades", box=None, pad_edge=False,
                   header_style="bold underline")  # fmt: skip
        # each P&L in its pair's quote: named once in the header when the pairs share one
        # (a unit on every row cut the row short of 80 columns), else on each row
        quotes = {quote_of(r["symbol"]) for r in trades}
        shared = quotes.pop() if len(quotes) == 1 else ""
        pnl_head = f"P&L {shared}".rstrip()
        for col in ("symbol", "side", "entry", "exit", pnl_head, "P&L %", "closed (UTC)"):
            tt.add_column(col, no_wrap=True)
        for r in trades:
            tt.add_row(
                r["symbol"],
                r["side"],
                figure(r["entry_price"]),
                figure(r["exit_price"]),
                figure(r["pnl"])
                if shared
                else f"{figure(r['pnl'])} {quote_of(r['symbol'])}".rstrip(),
                money(r["pnl_pct"]),
                ts_text(r["exit_ts"])[:16],  # to the minute: the table fits 80 columns
            )
        console.print(tt)
    print_denials(console, s, node)
    console.print("Inspect with: tradeguard status | orders | positions | balances (--json)")


def print_denials(console: Console, s: Any, node: Any, scan: int = 2000) -> None:
    """Print why this run's orders were denied: per code, how often and its latest reason (a
    strategy's mistake, a float amount say, shows here and not only in the audit log)."""
    if not s.denied:
        return
    seen: dict[str, tuple[int, str]] = {}
    for event in node.storage.load_events(kind_prefix="risk.denied", since_ts=s.first_ts,
                                          limit=scan):  # fmt: skip
        code = str(event.data.get("code") or "?")
        count, reason = seen.get(code, (0, str(event.data.get("reason") or "")))
        seen[code] = (count + 1, reason)
    if not seen:
        return
    console.print("Denied by risk, per code (count, latest reason):")
    for code, (count, reason) in sorted(seen.items(), key=lambda kv: -kv[1][0]):
        # a terminal wraps the reason at its width; a pipe gets it whole on one line
        console.print(
            f"  {code} ×{count}: {reason}", soft_wrap=not console.is_terminal, markup=False
        )
