"""`tradeguard strategy new NAME`: write a commented strategy of one's own to start from."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from tradeguard.cli.common import EXIT_OK
from tradeguard.model.errors import ConfigError
from tradeguard.strategies.template import write_template


def add_strategy_parser(sub: Any) -> None:
    """Register `strategy new`."""
    st = sub.add_parser("strategy", help="strategies of your own")
    st_sub = st.add_subparsers(dest="strategy_command", required=True)
    new = st_sub.add_parser(
        "new",
        help="write a commented strategy template (docs/strategies.md)",
        epilog="example: tradeguard strategy new my_breakout --dir strategies",
    )
    new.add_argument("name", help="strategy name: letters, digits and underscores")
    new.add_argument(
        "--dir", type=Path, default=Path("strategies"), help="folder to write it in (./strategies)"
    )
    new.add_argument("--overwrite", action="store_true", help="replace an existing file")
    new.set_defaults(func=cmd_strategy_new)


def cmd_strategy_new(args: argparse.Namespace, console: Console) -> int:
    """Write the template and say how to run it."""
    try:
        path = write_template(args.name, args.dir, overwrite=args.overwrite)
    except (ValueError, FileExistsError) as exc:
        raise ConfigError(str(exc)) from None
    cls = path.read_text(encoding="utf-8").split("\nclass ", 1)[1].split("(", 1)[0]
    console.print(f"wrote {path}", markup=False)
    console.print(
        "run it with a config holding:\n"
        "  [[strategies]]\n"
        f'  id = "{path.stem}"\n'
        f'  kind = "{path.as_posix()}:{cls}"\n'
        '  venue = "paper"\n'
        '  symbol = "BTC/USDT"',
        markup=False,
    )
    return EXIT_OK
