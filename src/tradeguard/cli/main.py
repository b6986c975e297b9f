"""The `tradeguard` command line: one parser, one sub-command per module of this package."""

from __future__ import annotations

import argparse
import atexit
import errno
import gc
import importlib
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any, NoReturn

EXIT_ERROR, EXIT_CONFIG = 1, 2  # the values of tradeguard.cli.common, without importing it

DESCRIPTION = """\
Trade one config on one order path: risk engine, order journal, venue.

examples:
  tradeguard run --until-end              replay the bundled BTC month on paper
  tradeguard status                       trading state and strategy figures
  tradeguard config check FILE            validate a config without trading
  tradeguard sandbox                      a local Binance-compatible exchange (--dialect kraken)
"""


# Which module registers which top-level command. A command imports only its own module (and
# what that imports), so `tradeguard backtest` never loads the sandbox servers or the API;
# `tradeguard --help` (no command named) loads them all. tests/test_cli_lazy.py pins the table.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "add_run_parser"),
    "status": ("views", "add_view_parsers"),
    "orders": ("views", "add_view_parsers"),
    "positions": ("views", "add_view_parsers"),
    "balances": ("views", "add_view_parsers"),
    "fills": ("export", "add_export_parser"),
    "doctor": ("doctor", "add_doctor_parser"),
    "backup": ("backup", "add_backup_parsers"),
    "restore": ("backup", "add_backup_parsers"),
    "config": ("config_cmd", "add_config_parser"),
    "kill": ("control", "add_control_parsers"),
    "resume": ("control", "add_control_parsers"),
    "spot-short": ("spot_short", "add_spot_short_parser"),
    "transfer": ("transfer", "add_transfer_parser"),
    "serve": ("api", "add_api_parsers"),
    "token": ("api", "add_api_parsers"),
    "keys": ("keys", "add_keys_parser"),
    "sandbox": ("sandbox", "add_sandbox_parser"),
    "strategy": ("strategy", "add_strategy_parser"),
    "arb": ("arb", "add_arb_parser"),
    "pm": ("pm", "add_pm_parser"),
    "bot": ("bots", "add_bot_parser"),
    "chain": ("chain", "add_chain_parser"),
    "record": ("record", "add_record_parser"),
    "calendar": ("calendar", "add_calendar_parser"),
    "backtest": ("backtest", "add_backtest_parsers"),
    "sweep": ("backtest", "add_backtest_parsers"),
}


# Each command's line in `tradeguard --help`, as its module registers it. The top-level help and
# the usage errors (no command, an unknown one) come from a parser holding only these lines, so
# they load no command module; tests/test_cli_lazy.py checks that its text is the full parser's.
SUMMARIES: dict[str, str] = {
    "run": "run the node (paper replay of the bundled data by default)",
    "status": "trading state and strategy figures",
    "orders": "orders from the journal, newest first",
    "positions": "open (or all) positions, newest first",
    "balances": "balances per venue",
    "fills": "every fill in the journal as CSV (accounting, tax reports)",
    "doctor": "audit the ledger: balances and positions against fills",
    "backup": "write an encrypted, consistent backup of the database and the vault",
    "restore": "restore a backup into a database, then audit the ledger",
    "config": "configuration tools",
    "kill": "halt trading and cancel every open order on every venue",
    "resume": "leave HALTED (asks for confirmation; recorded)",
    "spot-short": "clear a spot-short record once the venue holds the coins again",
    "transfer": "book a deposit (+) or withdrawal (-) made on a venue while the node was down",
    "serve": "serve the API and dashboard (intents only from HTTP)",
    "token": "API tokens: create, list, revoke, TOTP setup",
    "keys": "manage encrypted exchange credentials",
    "sandbox": "run a local exchange speaking Binance's (or Kraken's) spot API (127.0.0.1 only)",
    "strategy": "strategies of your own; pause or resume one",
    "arb": "arbitrage tools",
    "pm": "prediction-market venues (kalshi, polymarket)",
    "bot": "signal bots: add, list, enable, disable, token",
    "chain": "run a local EVM with WETH9, Uniswap V2 and demo pools (JSON-RPC on 127.0.0.1)",
    "record": "capture live candles, trades, quotes and order books to files",
    "calendar": "token-unlock calendars (docs/token_unlock.md)",
    "backtest": "replay data through a config in a fresh run directory; metrics and a report",
    "sweep": "run a parameter grid as independent backtests on Ray (or a process pool)",
}


def _top_parser() -> tuple[argparse.ArgumentParser, Any]:
    p = argparse.ArgumentParser(
        prog="tradeguard", description=DESCRIPTION, formatter_class=argparse.RawTextHelpFormatter
    )
    return p, p.add_subparsers(dest="command", required=True)


def summary_parser() -> argparse.ArgumentParser:
    """The top-level parser with each command's help line only (no command module loaded): its
    help and usage errors are the full parser's."""
    p, sub = _top_parser()
    for command in COMMANDS:
        sub.add_parser(command, help=SUMMARIES[command], add_help=False)
    return p


def _parser_for(argv: Sequence[str]) -> argparse.ArgumentParser:
    command = _command_of(argv)
    if command is None:
        # No command first: `--help`, no arguments or an unknown command end here (help or a
        # usage error); a command after a top-level option falls through to the full parser.
        summary_parser().parse_known_args(argv)
    return build_parser(command)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Return the `tradeguard` parser: every command, or only the module registering `command`."""
    p, sub = _top_parser()
    registrars = [COMMANDS[command]] if command in COMMANDS else list(COMMANDS.values())
    for module, func in dict.fromkeys(registrars):
        getattr(importlib.import_module(f"tradeguard.cli.{module}"), func)(sub)
    return p


def _command_of(argv: Sequence[str]) -> str | None:
    """The command word of `argv` (its first argument, the top level having no options)."""
    return argv[0] if argv and argv[0] in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    thresholds = gc.get_threshold()
    gc.set_threshold(200_000, *thresholds[1:])  # the command's modules load (see cli/__init__)
    try:
        parser = _parser_for(argv)
    except KeyboardInterrupt as exc:  # a Ctrl-C as the command's modules load: no traceback
        return _say_interrupted(argv, exc)
    finally:
        spare_young(argv)
        gc.set_threshold(*thresholds)
    try:
        args = _parse(parser, argv)
        from tradeguard.logsetup import guard_last_resort  # not needed by --help, usage errors

        guard_last_resort()
    except KeyboardInterrupt as exc:  # before the command installs its own Ctrl-C handling
        return _say_interrupted(argv, exc)
    console = LazyConsole()
    try:
        func = args.func
        takes_console = func.__code__.co_argcount >= 2
        code: int = func(args, console) if takes_console else func(args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        quiet_broken_pipe()
        return 0
    except KeyboardInterrupt as exc:
        return _say_interrupted(argv, exc)
    except Exception as exc:
        if _raised_by(exc, "tradeguard.cli.common", "StartupStopped"):
            return _say_startup_stopped(argv, exc)
        # tradeguard's errors (model/errors.py, loaded by every command, not by `--help`)
        if _raised_by(exc, "tradeguard.model.errors", "ConfigError"):
            print(f"tradeguard: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        if _raised_by(exc, "tradeguard.model.errors", "TradeguardError"):
            print(f"tradeguard: {exc}", file=sys.stderr)
            return EXIT_ERROR
        if _raised_by(exc, "tradeguard.secrets.entry_rules", "VaultInputError"):
            print(f"tradeguard: {exc}", file=sys.stderr)  # what was given is refused
            return EXIT_CONFIG
        if any(
            _raised_by(exc, f"tradeguard.secrets.{module}", name)
            for module, name in _SECRETS_ERRORS
        ):
            print(f"tradeguard: {exc}", file=sys.stderr)
            return EXIT_ERROR
        if _raised_by(exc, "sqlalchemy.exc", "SQLAlchemyError"):
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            print(f"tradeguard: database error: {reason}", file=sys.stderr)
            return EXIT_ERROR
        if isinstance(exc, OSError) and (exc.filename is not None or exc.errno in _NET_ERRNOS):
            # A path or an address the user gave that the system refused: say which and why.
            print(f"tradeguard: {_os_error_text(exc)}", file=sys.stderr)
            return EXIT_ERROR
        fault = _strategy_fault(exc)
        if fault is not None:  # a strategy file's own error: the user's input
            print(f"tradeguard: {fault}", file=sys.stderr)
            return EXIT_CONFIG
        raise


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse `argv`; words no parser took are reported by the command they were given to (its
    usage and name, and the option a misspelt one most likely meant), not by the top level,
    whose usage names the command alone and none of its options."""
    leaf = _command_parser(parser, argv)
    if leaf is not parser:  # the top level answers as argparse does (tests/test_cli_lazy.py)
        _unknown_before_commands(leaf, argv)
    args, extras = parser.parse_known_args(argv)
    if extras:
        leaf = _command_parser(parser, argv)
        guess = _option_meant(leaf, extras)
        leaf.error(
            f"unrecognized arguments: {' '.join(extras)}"
            + (f" (did you mean {guess}?)" if guess else "")
        )
    return args


def _unknown_before_commands(leaf: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """On a command with commands of its own (`backtest` and `backtest compare`), argparse takes
    a misspelt option's value for one of them ("invalid choice: 'x.toml' (choose from
    'compare')"): name the option instead, as `_parse` does elsewhere."""
    subs = [a for a in leaf._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return
    options = [o for a in leaf._actions for o in a.option_strings]
    valued = {o for a in leaf._actions if a.nargs != 0 for o in a.option_strings}
    for i, word in enumerate(argv):
        if word in subs[0].choices and not (i and argv[i - 1] in valued):
            return  # what follows is that command's to judge
        name = word.split("=", 1)[0]
        if name.startswith("--") and not any(o.startswith(name) for o in options):
            value = argv[i + 1 : i + 2] if "=" not in word else []
            extras = [word, *(v for v in value if not v.startswith("-"))]
            guess = _option_meant(leaf, extras)
            leaf.error(
                f"unrecognized arguments: {' '.join(extras)}"
                + (f" (did you mean {guess}?)" if guess else "")
            )


def _command_parser(
    parser: argparse.ArgumentParser, argv: Sequence[str]
) -> argparse.ArgumentParser:
    """The parser of the (sub-)command `argv` names: `bot list` in `bot list --confg x`."""
    for word in argv:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            break
        if word not in subs[0].choices:
            break  # an option before the command word is the level above's
        parser = subs[0].choices[word]
    return parser


def _option_meant(parser: argparse.ArgumentParser, extras: Sequence[str]) -> str | None:
    """The option of `parser` closest to the first unknown `--option` of `extras`, if any is."""
    import difflib

    options = [
        o
        for a in parser._actions
        if a.help != argparse.SUPPRESS  # hidden: refused (`--token`) or not for people
        for o in a.option_strings
        if o.startswith("--")
    ]
    for word in extras:
        if word.startswith("--"):
            close = difflib.get_close_matches(word.split("=", 1)[0], options, n=1, cutoff=0.7)
            return close[0] if close else None
    return None


def _strategy_fault(exc: BaseException) -> str | None:
    """The line naming the strategy `exc` came out of, if a strategy was ever loaded."""
    if "tradeguard.strategies.base" not in sys.modules:
        return None
    from tradeguard.strategies.faults import strategy_fault

    return strategy_fault(exc)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # a stand-in, or closed
        return False


def _say_interrupted(argv: Sequence[str], exc: KeyboardInterrupt) -> int:
    """Say in one line what a Ctrl-C stopped and what it leaves safe; return 130."""
    from tradeguard.cli.interrupted import interrupted_line

    # stderr itself, not a progress bar's stand-in for it (rich's, left in place by a bar the
    # Ctrl-C stopped as it started: its lines wait for a console that may never write them)
    err = getattr(sys.stderr, "rich_proxied_file", sys.stderr)
    # On a terminal the line starts a line of its own: the terminal echoed `^C` where the
    # cursor stood, and the Ctrl-C may have come between a line's text and its newline.
    start = "\n" if _is_terminal(err) else ""
    try:
        print(start + interrupted_line(argv, _interrupted_in(exc)), file=err, flush=True)
    except BrokenPipeError:  # `2>&1 | tee`: the same Ctrl-C ended the reader
        quiet_broken_pipe()
    _ignore_more_ctrl_c()
    return 130


def _ignore_more_ctrl_c() -> None:
    """The process ends with 130 and its line said: a Ctrl-C typed as it ends (closing its
    database, the interpreter's shutdown, which gives SIGINT its default handler back) killed
    it by the signal instead, or printed a traceback from that cleanup."""
    if _WHOLE_PROCESS and threading.current_thread() is threading.main_thread():
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _say_startup_stopped(argv: Sequence[str], exc: Any) -> int:
    """Say in one line that a stop came during a start-up that failed; return its code."""
    from tradeguard.cli.interrupted import startup_stopped_line

    try:
        print(startup_stopped_line(argv, exc.ctrl_c, exc.failure), file=sys.stderr, flush=True)
    except BrokenPipeError:  # `2>&1 | tee`: the same Ctrl-C ended the reader
        quiet_broken_pipe()
    if exc.ctrl_c:
        _ignore_more_ctrl_c()
    return int(exc.code)


def _interrupted_in(exc: BaseException) -> str | None:
    """The strategy callback Ctrl-C came in, if a strategy was ever loaded."""
    if "tradeguard.strategies.base" not in sys.modules:
        return None
    from tradeguard.strategies.faults import interrupted_in

    return interrupted_in(exc)


def run() -> NoReturn:
    """The console script: run the command line, then end the process with its exit code."""
    global _WHOLE_PROCESS
    _WHOLE_PROCESS = True
    code = main()
    # Everything alive now goes with the process: frozen, it is spared the cyclic collector's
    # last pass at shutdown (0.1 s of CPU after a backtest, for nothing).
    gc.freeze()
    if _command_of(sys.argv[1:]) in QUICK_EXIT and threading.active_count() == 1:
        _exit_now(code)
    sys.exit(code)  # the interpreter's shutdown also waits for threads still running


_WHOLE_PROCESS = False  # set by the console script: the process is the command's alone


def spare_young(argv: Sequence[str] | None = None) -> None:
    """Before a quiet collector's threshold is lowered again in a quick-exit command's own
    process: freeze what is alive (it lives as long as the process, which `run` freezes at
    its end anyway), so the next allocation does not start a young collection over the tens
    of thousands of objects the quiet threshold let pile up (~5-10 ms of CPU each time).
    Anywhere else (`main` called from other code, other commands) it does nothing."""
    argv = sys.argv[1:] if argv is None else argv
    if _WHOLE_PROCESS and _command_of(argv) in QUICK_EXIT:
        gc.freeze()


def whole_process() -> bool:
    """Tell whether the command runs as the console script, the process its own (it may then
    fork helpers); `main` called from other code leaves that code's process alone."""
    return _WHOLE_PROCESS


# Commands that end without the interpreter's teardown: what they write is closed before they
# return (a file left open for the teardown to flush would lose its buffer).
QUICK_EXIT = frozenset({"backtest"})


def _exit_now(code: int) -> NoReturn:
    """End the process as `sys.exit` would, without tearing the interpreter down object by
    object (every module, candle and order freed one at a time: ~20 ms of CPU after a
    backtest, for memory the system takes back anyway). The exit handlers still run, and
    stdout and stderr are flushed."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            pass  # the reader went away: as `main` does, quietly
        except (OSError, ValueError):
            code = code or 120  # what the interpreter exits with when this flush fails
    os._exit(code)


_NET_ERRNOS = frozenset({errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES})


def _os_error_text(exc: OSError) -> str:
    if exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    if exc.errno == errno.EADDRINUSE:
        return f"cannot listen: {exc.strerror or exc} (another process holds the port; pick --port)"
    return f"cannot listen: {exc.strerror or exc}"


# Errors of the secrets room (which imports nothing of ours): each one line, exit 1.
_SECRETS_ERRORS = (
    ("vault", "VaultError"),
    ("credentials", "CredentialError"),
    ("backup_file", "BackupFileError"),
)


def _raised_by(exc: BaseException, module: str, name: str) -> bool:
    """Tell whether `exc` is `module.name`; a module never imported cannot have raised it."""
    loaded = sys.modules.get(module)
    kind = getattr(loaded, name, None) if loaded is not None else None
    return isinstance(kind, type) and isinstance(exc, kind)


class LazyConsole:
    """The commands' console, made on first use: a command that prints only JSON (`backtest
    --json`) never loads rich (~30 ms of a backtest process)."""

    __slots__ = ("_made",)

    def __init__(self) -> None:
        self._made: Any = None

    def real(self) -> Any:
        """The rich Console itself (made now if it was not yet)."""
        if self._made is None:
            self._made = _console()
        return self._made

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)


def real_console(console: Any) -> Any:
    """The rich Console behind `console` (a `LazyConsole` or a Console already)."""
    return console.real() if isinstance(console, LazyConsole) else console


def _console() -> Any:
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # Rich would exit 1 here; `main` ends every broken pipe the same quiet way.
            raise BrokenPipeError

    return _Console(stderr=False, highlight=False)


def quiet_broken_pipe() -> None:
    """The reader went away (`| head`, or a `2>&1 | tee` the same Ctrl-C ended): stop quietly,
    as `cat` does. Python flushes stdout and stderr again at exit (a failed flush prints
    "Exception ignored" and exits 120), and what is still logged goes to stderr: stdout, and
    stderr when its reader is gone too, now point at /dev/null, so nothing can fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
        if _reader_gone(sys.stderr):
            os.dup2(devnull, sys.stderr.fileno())
    finally:
        os.close(devnull)


def _reader_gone(stream: Any) -> bool:
    """Tell whether `stream` is a pipe (or socket) whose reading end is closed."""
    import select

    try:
        poller = select.poll()
        poller.register(stream.fileno(), select.POLLOUT)
        events = poller.poll(0)
    except (AttributeError, OSError, ValueError):  # no descriptor (a test's StringIO), closed
        return False
    return any(mask & (select.POLLERR | select.POLLHUP) for _, mask in events)
