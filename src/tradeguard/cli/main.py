"""The `tradeguard` command line: one parser, one sub-command per module of this package."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from tradeguard.cli.common import EXIT_CONFIG, EXIT_ERROR
from tradeguard.model.errors import ConfigError, TradeguardError
from tradeguard.secrets.credentials import CredentialError
from tradeguard.secrets.vault import VaultError

DESCRIPTION = """\
Trade one config on one order path: risk engine, order journal, venue.

examples:
  tradeguard run --until-end              replay the bundled BTC month on paper
  tradeguard status                       trading state and strategy figures
  tradeguard config check FILE            validate a config without trading
  tradeguard sandbox                      a local Binance-compatible exchange
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the `tradeguard` parser with every command registered."""
    from tradeguard.cli.api import add_api_parsers
    from tradeguard.cli.arb import add_arb_parser
    from tradeguard.cli.backtest import add_backtest_parsers
    from tradeguard.cli.bots import add_bot_parser
    from tradeguard.cli.calendar import add_calendar_parser
    from tradeguard.cli.chain import add_chain_parser
    from tradeguard.cli.config_cmd import add_config_parser
    from tradeguard.cli.control import add_control_parsers
    from tradeguard.cli.doctor import add_doctor_parser
    from tradeguard.cli.keys import add_keys_parser
    from tradeguard.cli.pm import add_pm_parser
    from tradeguard.cli.record import add_record_parser
    from tradeguard.cli.run import add_run_parser
    from tradeguard.cli.sandbox import add_sandbox_parser
    from tradeguard.cli.strategy import add_strategy_parser
    from tradeguard.cli.views import add_view_parsers

    p = argparse.ArgumentParser(
        prog="tradeguard", description=DESCRIPTION, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)
    add_run_parser(sub)
    add_view_parsers(sub)
    add_doctor_parser(sub)
    add_config_parser(sub)
    add_control_parsers(sub)
    add_api_parsers(sub)
    add_keys_parser(sub)
    add_sandbox_parser(sub)
    add_strategy_parser(sub)
    add_arb_parser(sub)
    add_pm_parser(sub)
    add_bot_parser(sub)
    add_calendar_parser(sub)
    add_chain_parser(sub)
    add_record_parser(sub)
    add_backtest_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    console = _Console(stderr=False, highlight=False)
    try:
        func = args.func
        takes_console = func.__code__.co_argcount >= 2
        code: int = func(args, console) if takes_console else func(args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except ConfigError as exc:
        print(f"tradeguard: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (TradeguardError, VaultError, CredentialError) as exc:
        print(f"tradeguard: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"tradeguard: database error: {reason}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("tradeguard: interrupted", file=sys.stderr)
        return 130


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # Rich would exit 1 here; `main` ends every broken pipe the same quiet way.
        raise BrokenPipeError


def _quiet_broken_pipe() -> int:
    """The reader went away (`| head`): stop quietly, as `cat` does."""
    # Python flushes stdout again at exit; point it at /dev/null so that flush cannot fail.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 0
