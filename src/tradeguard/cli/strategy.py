"""`tradeguard strategy …`: write a strategy template; pause or resume one strategy's entries.

Pause and resume write the stored paused set (kv_state), as `bot enable` writes the bot table:
they work beside a running node, which rereads the set every second on live streams; a replay
reads it when it starts.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from tradeguard.cli.common import EXIT_OK, add_source_options, config_from_args, open_storage
from tradeguard.cli.control import _text_arg
from tradeguard.model.errors import ConfigError
from tradeguard.model.text import escaped
from tradeguard.strategies.template import write_template


def add_strategy_parser(sub: Any) -> None:
    """Register `strategy new`, `strategy pause` and `strategy resume`."""
    st = sub.add_parser(
        "strategy",
        help="strategies of your own; pause or resume one",
        description="Strategies of your own; pause or resume one.",
        epilog="example: tradeguard strategy new my_breakout --dir strategies",
    )
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
    for name, verb in (("pause", "stop"), ("resume", "restart")):
        sp = st_sub.add_parser(
            name,
            help=f"{verb} one strategy's new entries (its exits keep running; recorded)",
            epilog=f'example: tradeguard strategy {name} ma --reason "unlock week" --config c.toml',
        )
        sp.add_argument("strategy_id", metavar="ID", help="the strategy's id in the config")
        sp.add_argument(
            "--reason", required=True, type=_text_arg, help="why (recorded in the audit log)"
        )
        sp.add_argument("--by", default=None, type=_text_arg, help="who (default: the OS user)")
        add_source_options(sp)
        sp.set_defaults(func=cmd_strategy_pause, pause=name == "pause")


def cmd_strategy_new(args: argparse.Namespace, console: Console) -> int:
    """Write the template and say how to run it."""
    if args.dir.exists() and not args.dir.is_dir():
        raise ConfigError(f"--dir {args.dir}: not a directory; give the folder to write into")
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


def cmd_strategy_pause(args: argparse.Namespace, console: Console) -> int:
    """Store a pause (or its end) for one configured strategy and record who and why."""
    from tradeguard.model.events import Event
    from tradeguard.node.pause import MAX_REASON, store_pause, stored_pauses

    reason = args.reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise ConfigError(f"--reason must hold 1 to {MAX_REASON} characters (got {len(reason)})")
    config = config_from_args(args)
    storage = open_storage(args)
    sid, by, now = args.strategy_id, args.by or _who(), int(time.time() * 1000)
    try:
        stored = stored_pauses(storage)
        known = sorted({s.id for s in config.strategies} | set(stored))
        if sid not in known:
            raise ConfigError(f"no strategy {sid!r} to pause or resume; known: {known}")
        entry = {"by": by, "reason": reason, "ts": now} if args.pause else None
        kind = "strategy.paused" if args.pause else "strategy.resumed"
        with storage.transaction():
            store_pause(storage, sid, entry)
            data = {"strategy": sid, "by": by, "reason": reason, "was_paused": sid in stored}
            storage.append_events([Event(kind, now, data, strategy_id=sid, severity="warning")])
    finally:
        storage.db.dispose()
    if args.json:
        print(json.dumps({"id": sid, "paused": bool(args.pause), "was_paused": sid in stored}))
    elif args.pause:
        console.print(f"Strategy {sid!r} paused: no new entries; its exits keep running.")
    else:
        console.print(f"Strategy {sid!r} resumed: it may open positions again.")
    return EXIT_OK


def _who() -> str:
    """The login name (LOGNAME, USER: any text), recorded as `--by` is: one line of text, each
    control character written as its escape."""
    try:
        return escaped(getpass.getuser())
    except Exception:
        return f"uid {os.getuid()}"
