"""Operator commands: the kill switch and resume."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from typing import Any

from rich.console import Console

from tradeguard.cli.common import (
    add_source_options,
    config_from_args,
    json_default,
    open_storage,
    refuse_missing_sqlite_file,
    shown,
)
from tradeguard.logsetup import printable
from tradeguard.model.text import escaped, one_line_error

RESUME_PHRASE = "RESUME"


MAX_REASON = 200  # as the API's kill and resume bodies and `strategy pause --reason`


def _text_arg(text: str) -> str:
    """A recorded --reason or --by: 1 to MAX_REASON characters once trimmed. An empty one made
    `resume` end in a traceback; a pasted log file was stored and printed whole."""
    value = text.strip()
    if not value or len(value) > MAX_REASON:
        raise argparse.ArgumentTypeError(
            f"must hold 1 to {MAX_REASON} characters (got {len(value)})"
        )
    # The kill file holds a request a line (a second line saying `flatten` flattened a halt),
    # and a byte that is not UTF-8 (read as a lone surrogate) could be written nowhere. The
    # rule is the API's for a reason or a tag.
    lone = next((i for i, c in enumerate(value) if "\ud800" <= c <= "\udfff"), None)
    if lone is not None:
        raise argparse.ArgumentTypeError(
            f"not UTF-8: character {lone} is {value[lone]!a}; give one line of UTF-8 text"
        )
    error = one_line_error(value)
    if error is not None:
        raise argparse.ArgumentTypeError(f"not one line of text: {error}")
    return value


def add_control_parsers(sub: Any) -> None:
    """Register `kill` and `resume` on the top-level parser."""
    kill = sub.add_parser(
        "kill",
        help="halt trading and cancel every open order on every venue",
        epilog='example: tradeguard kill --flatten --reason "exchange incident"',
    )
    add_source_options(kill)
    kill.add_argument(
        "--flatten", action="store_true", help="also close positions with reduce-only market orders"
    )
    kill.add_argument(
        "--reason",
        type=_text_arg,
        default="operator kill switch",
        help=f"why trading stops (recorded; 1 to {MAX_REASON} characters)",
    )
    kill.set_defaults(func=cmd_kill)

    res = sub.add_parser(
        "resume",
        help="leave HALTED (asks for confirmation; recorded)",
        epilog='example: tradeguard resume --reason "incident closed" --yes',
    )
    add_source_options(res)
    res.add_argument(
        "--reason",
        type=_text_arg,
        required=True,
        help=f"why trading may resume (recorded; 1 to {MAX_REASON} characters)",
    )
    res.add_argument("--by", type=_text_arg, help="who resumes (default: the OS user)")
    res.add_argument(
        "--yes",
        action="store_true",
        help=f"confirm without the prompt (same as typing {RESUME_PHRASE})",
    )
    res.set_defaults(func=cmd_resume)


def _node(args: argparse.Namespace) -> Any:
    from tradeguard.node import TradingNode

    return TradingNode(config_from_args(args))


def cmd_kill(args: argparse.Namespace, console: Console) -> int:
    from tradeguard.storage.lock import WriterLockHeld

    # A typo'd path must not become a new database that "halted" no running node.
    refuse_missing_sqlite_file(config_from_args(args).node.database_url)
    try:
        node = _node(args)
    except WriterLockHeld as exc:
        return _kill_running_node(args, console, exc)
    try:
        report = asyncio.run(_kill(node, args))
    finally:
        node.close()
    if args.json:
        print(json.dumps(report, indent=2, default=json_default))
    else:
        print_kill_report(console, report)
    return 0 if not report["failed"] else 1


def print_kill_report(console: Console, report: dict[str, Any]) -> None:
    """Print what a kill did: cancelled orders, closes left working, failures."""
    console.print(f"[bold red]HALTED[/] — {shown(report['reason'])}")
    console.print(f"orders cancelled: {len(report['cancelled'])}")
    # ids and position names come from venues (orders placed by hand, market symbols):
    # shown escaped, never passed to the terminal to act on
    for cid in report["cancelled"]:
        console.print(f"  cancelled {shown(cid)}")
    console.print(f"positions closed: {len(report['closed_positions'])}")
    for c in report.get("closing", []):
        working = ", ".join(map(str, c["working"]))
        console.print(f"  {shown(c['position'])}: {shown(c['amount'])} left to the close "
                      f"already working ({shown(working)})")  # fmt: skip
    if report.get("closing"):
        console.print("  what those closes leave once they end, the running node flattens "
                      "(`follow_up` in `tradeguard status --json`)")  # fmt: skip
    for f in report["failed"]:
        console.print(f"  [red]failed[/] {shown(f['id'])}: {shown(f['reason'])}")
    console.print("Trading stays HALTED across restarts until `tradeguard resume`.")


def _kill_running_node(args: argparse.Namespace, console: Console, held: Any) -> int:
    """Another node writes the database: ask it to halt through its kill sentinel file."""
    from pathlib import Path

    from tradeguard.node.stats import KILL_SENTINEL_KEY
    from tradeguard.risk.kill import sentinel_line

    config = config_from_args(args)
    # The path the running node resolved from its own folder, not from this one.
    watched = open_storage(args).kv_get(KILL_SENTINEL_KEY)
    sentinel = Path(watched if isinstance(watched, str) else config.node.kill_sentinel)
    line = sentinel_line(args.flatten, args.reason, _who())
    # appended in one write: two kills asked before the node takes the file are one kill that
    # flattens if either asked it, never one request's text replacing the other's
    sentinel.parent.mkdir(parents=True, exist_ok=True)  # `run/tg.kill`: nobody made `run`
    with sentinel.open("a", encoding="utf-8") as file:
        file.write(line)
    message = (
        f"a running node writes the database ({held.holder}): asked it to halt through its kill "
        f"sentinel {sentinel}; it halts within node.kill_poll_interval_s = "
        f"{config.node.kill_poll_interval_s} s"
    )
    if args.json:
        print(json.dumps({"sentinel": str(sentinel), "message": message}))
    else:
        console.print(message, markup=False)
    return 0


async def _kill(node: Any, args: argparse.Namespace) -> dict[str, Any]:
    # HALTED (persisted) before the start: a start may send orders of its own (the unwind of an
    # arbitrage leg a crash cut), and none may go out once a kill is asked for.
    request = node.kill_switch.trigger(args.reason, _who(), args.flatten)
    try:  # a start that fails closes the venues it connected before failing too
        await node.start()
        report: dict[str, Any] = await node.kill(
            reason=args.reason, by=_who(), flatten=args.flatten, request=request
        )
    finally:
        await node.stop()
    return report


def _who() -> str:
    """The login name (LOGNAME, USER: any text), recorded as `--by` is: one line of text, each
    control character written as its escape."""
    try:
        return escaped(getpass.getuser())
    except Exception:
        return f"uid {os.getuid()}"


def _risk_engine(args: argparse.Namespace) -> tuple[Any, Any]:
    """The stored risk engine alone: resuming needs neither venues nor the vault."""
    from tradeguard.clock import Clock, SimulatedClock
    from tradeguard.node import STATS_KEY, StorageStateStore
    from tradeguard.risk.engine import RiskEngine

    config = config_from_args(args)
    storage = open_storage(args, existing=True)
    clock: Clock = Clock()
    if config.mode.value in ("paper", "backtest"):
        # A replay's day is the data's day, as the node's clock would say.
        stats = storage.kv_get(STATS_KEY) or {}
        clock = SimulatedClock(int(stats.get("last_ts") or 0))

    def audit(event: Any) -> None:
        with storage.transaction():
            storage.append_events([event])

    return storage, RiskEngine(config.risk, clock, StorageStateStore(storage), audit)


def _resume_lock(args: argparse.Namespace) -> Any:
    """Take the writer lock: a running node keeps its own state and would write it back."""
    from tradeguard.storage.db import mask_url
    from tradeguard.storage.lock import WriterLockHeld, acquire_writer_lock

    url = config_from_args(args).node.database_url
    refuse_missing_sqlite_file(url)  # before the lock, whose file would be left behind
    try:
        return acquire_writer_lock(url)
    except WriterLockHeld as exc:
        raise WriterLockHeld(
            f"a running node writes {mask_url(url)} ({exc.holder}) and keeps its own trading "
            "state: resume it through its API (POST /api/v1/resume) or stop it first",
            exc.holder,
        ) from None


def cmd_resume(args: argparse.Namespace, console: Console) -> int:
    # A running node (or a missing database) refuses the resume whatever is typed: say so
    # before asking for RESUME. The lock is let go over the prompt, so a node may start then.
    probe = _resume_lock(args)
    if probe is not None:
        probe.release()
    if not args.yes:
        if not sys.stdin.isatty():
            console.print(
                f"resume needs confirmation: pass --yes or type {RESUME_PHRASE} at the prompt"
            )
            return 2  # a usage error: no terminal to ask on and no --yes
        # Read plainly, not through input(): readline misses a Ctrl-C typed as the prompt
        # appears and waits on; and an ended input must end the prompt's line.
        try:
            sys.stdout.write(f"Type {RESUME_PHRASE} to let trading resume: ")
            sys.stdout.flush()
            line = sys.stdin.readline()
        except KeyboardInterrupt:
            print(file=sys.stderr)
            raise
        except UnicodeDecodeError:  # a backspace over an accented letter, another encoding
            console.print(
                "not confirmed (what was typed is not UTF-8 text); trading stays as it is"
            )
            return 1
        if not line.endswith("\n"):
            print(file=sys.stderr)
            console.print("not confirmed (the input ended); trading stays as it is")
            return 1
        answer = line.strip()
        if answer != RESUME_PHRASE:
            console.print("not confirmed; trading stays as it is")
            return 1
    from tradeguard.risk.engine import ResumeRefused

    lock = _resume_lock(args)
    storage, risk = _risk_engine(args)
    try:
        by = args.by or _who()
        before = risk.state.value
        try:
            risk.resume(by, args.reason)
            ok, message = True, f"trading resumed ({before} -> ACTIVE) by {by}: {args.reason}"
            if risk.state.value != "ACTIVE":  # a halt owed beneath the one lifted holds it
                ok, message = False, (f"trading stays {risk.state.value} ({risk.state_by}: "
                                      f"{risk.state_reason})")  # fmt: skip
        except ResumeRefused as exc:
            ok, message = False, str(exc)
        state = risk.state.value
    finally:
        storage.db.dispose()
        if lock is not None:
            lock.release()
    if args.json:
        print(json.dumps({"resumed": ok, "message": message, "state": state}))
    else:
        console.print(printable(message), markup=False)
    return 0 if ok else 1
