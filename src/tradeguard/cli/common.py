"""Helpers every `tradeguard` command shares: formatting, config loading, opening a node."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from tradeguard.model.errors import ConfigError

if TYPE_CHECKING:  # a command that prints only JSON never loads rich (see main.LazyConsole)
    from rich.console import Console

EXIT_OK, EXIT_ERROR, EXIT_CONFIG = 0, 1, 2
EXIT_INTERRUPTED = 130  # a Ctrl-C stopped the command
MAX_DURATION_S = 366 * 86_400  # --duration: a year at most
P = ParamSpec("P")
T = TypeVar("T")


def ts_text(ms: int | None) -> str:
    """Format epoch milliseconds as `YYYY-MM-DD HH:MM:SS` (UTC), or `-`."""
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def money(v: Any, places: int = 2) -> str:
    """Format a money value with thousands separators and `places` decimals, or `-`."""
    if v is None:
        return "-"
    from tradeguard.model.money import fmt

    return fmt(Decimal(str(v)), places)


def whole_number(low: int, high: int, unit: str = "", allowed: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number in low..high (a bad one is reported as usage, exit 2);
    `allowed` words the range in the message (default `low..high unit`)."""
    what = f"whole number of {unit}" if unit else "whole number"
    shown = allowed or f"{low:,}..{high:,}{f' {unit}' if unit else ''}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {what}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range; allowed {shown}")
        return value

    return parse


port_number = whole_number(0, 65535, allowed="0..65535")  # 0 picks a free port


def seconds(text: str) -> float:
    """Parse a duration in seconds: a finite number above 0 (argparse reports a bad one)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= MAX_DURATION_S:
        raise argparse.ArgumentTypeError(
            f"{text} is out of range; allowed above 0 up to {MAX_DURATION_S:,} seconds "
            "(leave it out to run until Ctrl-C)"
        )
    return value


def figure(v: Any, significant: int = 4) -> str:
    """Like `money`, but a value below 1 keeps `significant` digits (trailing zeros beyond two
    decimals dropped): 0.00005791 BTC for an ADA/BTC price, where `money` would print 0.00."""
    if v is None:
        return "-"
    from tradeguard.model.money import fmt_figure

    return fmt_figure(Decimal(str(v)), significant)


def add_source_options(sp: argparse.ArgumentParser, json_flag: bool = True) -> None:
    """Add `--config`, `--db` and (optionally) `--json` to a command."""
    sp.add_argument("--config", help="TOML config file (default: built-in paper config)")
    sp.add_argument("--db", help="database URL (overrides node.database_url)")
    if json_flag:
        sp.add_argument("--json", action="store_true", help="machine-readable output")


def add_strategy_run_options(sp: argparse.ArgumentParser, kind: str, json_help: str) -> None:
    """Options of a command that runs one kind of streaming strategy (`arb run`, `pm arb run`)."""
    sp.add_argument("--config", required=True, help=f"TOML config with a {kind} strategy")
    sp.add_argument("--db", help="database URL (overrides node.database_url)")
    add_trading_options(sp, "stop after S seconds (default: until Ctrl-C)")
    sp.add_argument("--json", action="store_true", help=json_help)


def add_trading_options(sp: argparse.ArgumentParser, duration_help: str) -> None:
    """Add --duration (with the old --duration-s spelling), --confirm-live and --log-format."""
    sp.add_argument(
        "--duration", dest="duration_s", type=seconds, default=None, metavar="S", help=duration_help
    )
    sp.add_argument("--duration-s", dest="duration_s", type=seconds, help=argparse.SUPPRESS)
    sp.add_argument(
        "--confirm-live",
        action="store_true",
        help="required (or TG_CONFIRM_LIVE=yes) to trade real money in mode 'live'",
    )
    sp.add_argument("--log-format", choices=["text", "json"], help="log line format")


def streaming_strategy_ids(
    config: Any, source: str, kind: str, command: str, example: str
) -> list[str]:
    """Return the enabled strategies of `kind`; refuse a config without one or not streaming."""
    from tradeguard.model.enums import TradingMode

    ids = [s.id for s in config.strategies if s.enabled and s.kind == kind]
    if not ids:
        raise ConfigError(
            f"{source}: no enabled strategy of kind {kind!r}; add a [[strategies]] entry with "
            f'kind = "{kind}" (see {example})'
        )
    if config.mode not in (TradingMode.SANDBOX, TradingMode.LIVE):
        raise ConfigError(
            f"{source}: mode = {config.mode.value!r}, but {command} trades on venue streams; "
            'set mode = "sandbox" (local servers, testnet, or paper venues on an exchange\'s '
            'live data through data_venue) or mode = "live"'
        )
    return ids


def config_from_args(args: argparse.Namespace) -> Any:
    """Load the config named by `--config` (or the built-in one) with `--db` applied."""
    from tradeguard.config import load_config

    config = load_config(getattr(args, "config", None))
    apply_db(config, getattr(args, "db", None))
    return config


def apply_db(config: Any, db: str | None) -> None:
    """Point `config` at the database `--db` names (None: leave it); refuse a bad one naming
    it (its password masked) and what a good one looks like."""
    from pydantic import ValidationError

    from tradeguard.storage.db import mask_url

    if db is None:
        return
    if not db.strip():
        raise ConfigError(
            "--db '': empty; give a database URL such as sqlite:///path/to/file.db "
            "(or leave --db out to use the config's node.database_url)"
        )
    try:
        config.node.database_url = db
    except ValidationError as exc:
        why = str(exc.errors()[0].get("msg", "not a database URL")).removeprefix("Value error, ")
        raise ConfigError(f"--db {mask_url(db)!r}: {why}") from None


def open_storage(args: argparse.Namespace, existing: bool = False) -> Any:
    """Open (and migrate) the database the arguments point at; `existing`: refuse a new file."""
    from tradeguard.storage.db import Database
    from tradeguard.storage.repository import Storage

    config = config_from_args(args)
    if existing:
        refuse_missing_sqlite_file(config.node.database_url)
    db = Database(config.node.database_url)
    db.migrate()
    return Storage(db)


def json_default(value: Any) -> str:
    """Encode what `json.dumps` cannot: a Decimal as plain digits (never 1E-7), else its text."""
    from decimal import Decimal

    from tradeguard.model.money import plain

    return plain(value) if isinstance(value, Decimal) else str(value)


def missing_sqlite_file(url: str) -> Path | None:
    """Return the absolute path of the SQLite file `url` names if it does not exist."""
    from tradeguard.storage.db import normalize_url

    parsed = normalize_url(url)
    name = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or name in ("", ":memory:") or "uri" in parsed.query:
        return None
    path = Path(name).expanduser().absolute()
    return None if path.exists() else path


def refuse_missing_sqlite_file(url: str) -> None:
    """Raise StorageError naming the path when `url` is a SQLite file that does not exist.

    A command that reads or updates a node's database would make an empty one and act on it.
    """
    from tradeguard.storage.errors import StorageError

    path = missing_sqlite_file(url)
    if path is not None:
        raise StorageError(
            f"no database file at {path} (a relative sqlite path is taken from the current "
            "folder); check --db or the config's node.database_url"
        )


def open_node(config: Any, confirm_live: bool, log_format: str | None) -> Any:
    """Pass the trading-mode gate, set up logging, announce live trading, build the node."""
    from tradeguard.logsetup import setup_logging
    from tradeguard.node import TradingNode
    from tradeguard.venues.modes import check_mode, live_banner

    check_mode(config, confirm_live, dict(os.environ))
    setup_logging(log_format or config.node.log_format, config.node.log_level)
    if config.mode.value == "live":
        print(live_banner(config), file=sys.stderr)
    return TradingNode(config)


def print_start(info: Console, node: Any) -> None:
    """Say whether the run starts fresh or resumes, and where it stores its state."""
    from rich.markup import escape

    config = node.config
    url = escape(str(config.node.database_url))
    if node.resumed:
        print_hanging(
            info,
            f"[bold]Resuming[/] from the stored state in {url}"
            f" (trading state {node.risk.state.value}).",
        )
    else:
        print_hanging(info, f"Starting a {config.mode.value} run; database {url}.")


class StartupStopped(Exception):
    """A start-up that failed after a stop was asked for (Ctrl-C: `ctrl_c`, or SIGTERM): the
    command ends as that stop said (130 after a Ctrl-C, else 0), in one line saying start-up
    did not finish and nothing was traded, not as the failure would (exit 1)."""

    def __init__(self, ctrl_c: bool, failure: Exception) -> None:
        from tradeguard.logsetup import printable

        lines = str(failure).strip().splitlines()
        self.ctrl_c = ctrl_c
        self.code = 130 if ctrl_c else 0
        self.failure = printable(lines[0] if lines else type(failure).__name__)
        super().__init__(self.failure)


async def start_run_stop(
    node: Any, progress: Any, duration_s: float | None = None, serve_after: bool = False
) -> Any:
    """Start the node (and its API when enabled), run it, keep serving if asked, stop."""
    from tradeguard.model.enums import TradingMode

    live = node.mode in (TradingMode.SANDBOX, TradingMode.LIVE)
    hold_default_executor()
    from tradeguard.node.checkpoint import take_back_states

    # a Ctrl-C that stopped an earlier run of the node, and what it abandoned, are not this
    # one's; nor is a state store that failed in it, and the orders that dropped unsent
    saves = node.state_saves
    dropped = saves.begin() if saves is not None else []
    take_back_states(node, node.interrupts.begin() + dropped)
    # from here on: a stop asked for during start-up ends the run once it starts
    give_back = _stop_on_signals(node) if live else None
    try:
        with ctrl_c_reach():  # a Ctrl-C the main thread slept through wakes it
            return await _start_and_run(node, progress, duration_s, serve_after, live)
    finally:
        if give_back is not None:
            give_back()  # SIGTERM and SIGINT as they were: the event loop may run on
        # A stop this run took ends here, used or not (a start-up that failed after a
        # SIGTERM): a later run of the node in this process is not ended by it.
        node._stop_requested = False


_HELD_LOOPS: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def hold_default_executor() -> None:
    """`asyncio.to_thread` and DNS look-ups on this event loop: threads that never take the main
    thread's Ctrl-C. Once per loop: a second run on it keeps the pool it has (one put in its
    place would leave the first's threads idle, never shut down)."""
    loop = asyncio.get_running_loop()
    if loop not in _HELD_LOOPS:
        loop.set_default_executor(HeldThreadPool())
        _HELD_LOOPS.add(loop)


class HeldThreadPool(ThreadPoolExecutor):
    """An event loop's default executor whose threads start with Ctrl-C, SIGTERM and alarms
    blocked (`ctrl_c_reach.signals_held`): a thread is created as a call is submitted. Each
    call runs with them taken (`ctrl_c_reach.run_unheld`): a process it starts (a strategy's
    helper) inherits its thread's mask, and stops on Ctrl-C and SIGTERM as it would anywhere."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        from tradeguard.ctrl_c_reach import run_unheld, signals_held

        with signals_held():
            return super().submit(run_unheld, fn, *args, **kwargs)


def ctrl_c_reach() -> contextlib.AbstractContextManager[object]:
    """The console script's guard that a Ctrl-C reaches the main thread (taken after the event
    loop's own wakeup socket, which it feeds); `main` called from other code: nothing."""
    from tradeguard.cli.main import whole_process

    if not whole_process():
        return contextlib.nullcontext()
    from tradeguard.ctrl_c_reach import ReachMainThread

    return ReachMainThread()


async def _start_and_run(
    node: Any, progress: Any, duration_s: float | None, serve_after: bool, live: bool
) -> Any:
    server = None
    if node.config.api.enabled:
        from tradeguard.api.server import ApiServer

        server = ApiServer(node)
        await server.start()
        print(f"API and dashboard on {server.url}", file=sys.stderr)
    try:
        await node.start()
    except BaseException as exc:
        # a venue down at start: the server's tasks would be cancelled at the loop's close
        # and print their tracebacks above the one-line reason; the venues connected before
        # it (their HTTP sessions, their user streams) and the alert senders are closed too
        try:
            await node.stop()
        finally:
            if server is not None:
                await server.stop()
        if isinstance(exc, Exception) and node._stop_requested:  # it ends as the stop said
            raise StartupStopped(node.interrupts.interrupted, exc) from exc
        raise
    try:
        if live:
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


def _stop_on_signals(node: Any) -> Callable[[], None]:
    # SIGTERM (a service manager) and the first Ctrl-C end the live loop the same way, with its
    # last checkpoint and summary (a replay killed any way resumes from its last commit). Taken
    # before start-up: one that comes while the node starts (the start-up reconciliation, the
    # first market data) lets start-up finish and ends the loop as it begins. The Ctrl-C's
    # handler runs even while a strategy callback blocks the loop, and abandons one still
    # running after a bound (node.interrupt). A second Ctrl-C quits at once ("interrupted",
    # exit 130); the next start reconciles.
    # Returns what gives both signals back.
    loop = asyncio.get_running_loop()
    node.interrupts.install()
    before = signal.getsignal(signal.SIGTERM)
    try:
        loop.add_signal_handler(signal.SIGTERM, node.request_stop)
    except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
        return node.interrupts.uninstall

    def give_back() -> None:
        node.interrupts.uninstall()
        loop.remove_signal_handler(signal.SIGTERM)  # leaves SIG_DFL: the one before instead
        if before is not None:
            signal.signal(signal.SIGTERM, before)

    return give_back


def page_title(name: str, shown: int, total: int | None) -> str:
    """Title a table `name (50 of 548)` when paged, else `name (548)`."""
    if total is not None and total > shown:
        return f"{name} ({shown} of {total:,})"
    return f"{name} ({shown})"


SCREEN_COLUMNS = 80  # what status lines are laid out for, however wide the terminal
PIPE_COLUMNS = 100_000  # what a table may take into a pipe or a file: whole lines


FOLD_KEPT = 8  # columns a folding cell (an order's id, its symbol) keeps however narrow the screen


def print_wide(console: Console, renderable: Any) -> None:
    """Print `renderable` (a table) at the terminal's width; into a pipe or a file, at its own
    width, so that no row is cut or folded at the 80 columns a pipe would be given. A terminal
    too narrow for a table's whole figures and `FOLD_KEPT` columns of each folding cell gets it
    at the width it needs (the terminal wraps the lines): an order's id is never dropped to
    make room, nor a figure cut."""
    if console.is_terminal:
        need = _needed_width(console, renderable)
        if need <= console.width:
            console.print(renderable)
            return
        _print_at(console, renderable, need)
        return
    from rich.measure import Measurement

    real = getattr(console, "real", lambda: console)()
    wide = real.options.update(max_width=PIPE_COLUMNS)
    _print_at(console, renderable, Measurement.get(real, wide, renderable).maximum)


def _print_at(console: Console, renderable: Any, width: int) -> None:
    # a print's width is capped at the console's: the console takes the table's for it
    real = getattr(console, "real", lambda: console)()
    kept, real.width = real.width, max(width, 1)
    try:
        real.print(renderable, crop=False)
    finally:
        real.width = kept


def _needed_width(console: Console, renderable: Any) -> int:
    """The narrowest width at which a table shows each unfolded cell whole and each folding
    one on at least `FOLD_KEPT` columns (0 for anything but a table: it takes any width)."""
    from rich.table import Table

    if not isinstance(renderable, Table):
        return 0
    options = console.options.update(max_width=PIPE_COLUMNS)
    need = renderable._extra_width
    for column in renderable.columns:
        most = renderable._measure_column(console, options, column).maximum
        pad = renderable._get_padding_width(column._index)
        need += most if column.no_wrap else min(most, FOLD_KEPT + pad)
    return need


def print_hanging(console: Console, markup: str, indent: int = 4) -> None:
    """Print `markup` folded at 80 columns (or the terminal's width, when narrower), the lines
    after the first indented, so that a long line never runs on from column 0; into a pipe or
    a file, as one whole line (a reader such as `grep` sees it at once)."""
    from rich.text import Text

    if not console.is_terminal:
        console.print(Text.from_markup(markup), soft_wrap=True)
        return
    width = max(20, min(console.width, SCREEN_COLUMNS)) - indent
    lines = Text.from_markup(markup).wrap(console, width)
    for i, line in enumerate(lines):
        if i:
            line = Text(" " * indent) + line
        console.print(line, soft_wrap=True)


def shown(value: Any) -> str:
    """`value` as console markup that shows it as it is: brackets escaped, and control and
    format characters written as escapes (text from outside never drives the terminal)."""
    from rich.markup import escape

    from tradeguard.logsetup import printable

    return escape(printable(str(value)))


def unknown_name(what: str, name: str, known: list[str], hint: str, limit: int = 10) -> ConfigError:
    """Return the usage error for a typed name that does not exist, listing up to `limit` known."""
    names = sorted(known)
    listing = ", ".join(names[:limit]) if names else "none yet"
    if len(names) > limit:
        listing += f" and {len(names) - limit} more"
    typed = repr(name[:64]) + ("..." if len(name) > 64 else "")
    return ConfigError(f"unknown {what} {typed}; known: {listing}; {hint}")
