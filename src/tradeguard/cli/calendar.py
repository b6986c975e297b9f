"""`tradeguard calendar check|shift`: validate an unlock calendar, or move it onto a replay.

A sandbox replaying recorded candles (`tradeguard sandbox --replay FILE --speed N`) plays each
bar at its recorded time plus a shift (printed at start-up, served at `/admin/replay`).
`calendar shift` adds the same shift to every unlock of a calendar, so a rehearsal sees the
unlocks where they were relative to the recorded prices.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from rich.console import Console

from tradeguard.cli.bounded_get import FetchError, bounded_get
from tradeguard.cli.common import EXIT_OK, whole_number
from tradeguard.model.errors import ConfigError, TradeguardError
from tradeguard.strategies.token_unlock.calendar import (
    CalendarError,
    UnlockEvent,
    calendar_csv,
    load_calendar,
    shift_events,
)

_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_SCHEMES = ("http", "https")
FETCH_DEADLINE_S = 5.0  # the whole answer, not each read: a sandbox answers in milliseconds
MAX_SHIFT_MS = 100 * 365 * 86_400_000  # a century either way; beyond, dates stop existing


_shift_ms = whole_number(
    -MAX_SHIFT_MS, MAX_SHIFT_MS, "ms", f"-{MAX_SHIFT_MS:,}..{MAX_SHIFT_MS:,} ms (a century)"
)


def _unlocks(n: int) -> str:
    return f"{n} unlock" if n == 1 else f"{n} unlocks"


def add_calendar_parser(sub: Any) -> None:
    """Register `calendar check` and `calendar shift`."""
    cal = sub.add_parser(
        "calendar",
        help="token-unlock calendars (docs/token_unlock.md)",
        description="Token-unlock calendars (docs/token_unlock.md).",
        epilog="example: tradeguard calendar check examples/unlock_calendar.csv",
    )
    cal_sub = cal.add_subparsers(dest="calendar_command", required=True)
    check = cal_sub.add_parser(
        "check",
        help="validate a calendar; every bad row on its own line",
        epilog="example: tradeguard calendar check examples/unlock_calendar.csv",
    )
    check.add_argument("file", type=Path, help="a .csv or .json unlock calendar")
    check.set_defaults(func=cmd_calendar_check)
    shift = cal_sub.add_parser(
        "shift",
        help="write a copy with every unlock moved by a replay's time shift",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: tradeguard calendar shift examples/unlock_calendar.csv "
        "--sandbox http://127.0.0.1:8765 --out rehearsal_calendar.csv",
    )
    shift.add_argument("file", type=Path, help="the calendar to shift (.csv or .json)")
    shift.add_argument("--out", type=Path, required=True, help="the shifted calendar (.csv)")
    by = shift.add_mutually_exclusive_group(required=True)
    by.add_argument(
        "--by-ms", type=_shift_ms, metavar="MS", help="add MS milliseconds to every time"
    )
    by.add_argument(
        "--sandbox", metavar="URL", help="take the shift from a replaying sandbox's /admin/replay"
    )
    shift.add_argument(
        "--symbol", default=None, help="with --sandbox: the replayed market to follow (ETHBTC)"
    )
    shift.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    shift.set_defaults(func=cmd_calendar_shift)


def _load(path: Path) -> list[UnlockEvent]:
    try:
        return load_calendar(path)
    except CalendarError as exc:
        raise ConfigError(str(exc)) from None


def cmd_calendar_check(args: argparse.Namespace, console: Console) -> int:
    """Validate the file; print a one-line summary per token."""
    events = _load(args.file)
    console.print(f"{args.file}: {_unlocks(len(events))}, no bad rows", markup=False)
    for token in sorted({e.token for e in events}):
        mine = [e for e in events if e.token == token]
        console.print(
            f"  {token:<8} {_unlocks(len(mine))}, {mine[0].when} to {mine[-1].when}", markup=False
        )
    return EXIT_OK


def cmd_calendar_shift(args: argparse.Namespace, console: Console) -> int:
    """Write the shifted calendar and say by how much."""
    events = _load(args.file)
    if args.out.exists() and not args.overwrite:
        raise ConfigError(f"--out {args.out} exists; pass --overwrite to replace it")
    if args.out.suffix.lower() != ".csv":
        raise ConfigError(f"--out {args.out}: the shifted calendar is written as .csv")
    if args.sandbox is not None:
        shift_ms, source = sandbox_shift(args.sandbox, args.symbol)
    else:
        if args.symbol is not None:
            raise ConfigError("--symbol goes with --sandbox (it picks the replayed market)")
        shift_ms, source = args.by_ms, "--by-ms"
    try:
        moved = shift_events(events, shift_ms, f"shifted {shift_ms} ms")
    except (OverflowError, ValueError):
        raise ConfigError(
            f"{source} {shift_ms}: moves an unlock time outside years 1-9999"
        ) from None
    comment = (
        f"{args.file} shifted by {shift_ms} ms ({source}) for a rehearsal on a replay.\n"
        "Each note keeps the original time. Not real unlock times."
    )
    _write(args.out, calendar_csv(moved, comment))
    load_calendar(args.out)  # what was written reads back
    console.print(
        f"wrote {args.out}: {len(moved)} unlocks moved by {shift_ms} ms ({source}); "
        f"first {moved[0].token} at {moved[0].when}",
        markup=False,
    )
    return EXIT_OK


def sandbox_shift(url: str, symbol: str | None) -> tuple[int, str]:
    """Return (shift_ms, where from) read from a loopback sandbox's `/admin/replay`."""
    try:
        parts: SplitResult | None = urlsplit(url)
        host = parts.hostname if parts and parts.port != -1 else None  # .port checks the port
    except ValueError:  # an unclosed IPv6 bracket, a port out of range or not a number
        parts, host = None, None
    plain = url.isascii() and url.isprintable() and " " not in url  # no controls, no spaces
    if not plain or parts is None or host not in _LOOPBACK or parts.scheme not in _SCHEMES:
        raise ConfigError(
            f"--sandbox {url!r}: expected the sandbox's loopback URL, e.g. http://127.0.0.1:8765"
        )
    if parts.username is not None:
        raise ConfigError(f"--sandbox {url!r}: the sandbox takes no user name or password")
    base = f"{parts.scheme}://{parts.netloc}"
    replays = _read_replays(url, base)
    if symbol is not None:
        want = symbol.replace("/", "").upper()
        replays = [r for r in replays if r[0] == want]
        if not replays:
            raise ConfigError(f"--symbol {symbol}: the sandbox at {base} does not replay it")
    shifts = {shift for _, shift in replays}
    if not shifts:
        raise ConfigError(
            f"--sandbox {url!r}: the sandbox replays no file (start it with --replay)"
        )
    if len(shifts) > 1:
        listed = ", ".join(f"{name} {shift}" for name, shift in replays)
        raise ConfigError(
            f"--sandbox {url!r}: the replayed files are shifted differently ({listed}); "
            "pick one with --symbol"
        )
    names = ",".join(name for name, _ in replays)
    return shifts.pop(), f"sandbox {base} replaying {names}"


def _read_replays(url: str, base: str) -> list[tuple[str, int]]:
    """(symbol, shift_ms) of each file the sandbox at `base` replays. A server that does not
    answer within FETCH_DEADLINE_S, redirects elsewhere, or answers something else than a
    sandbox's replay list, is a failure outside the input (exit 1); the URL itself was checked
    by the caller (exit 2)."""
    where = f"{base}/admin/replay"
    try:
        status, body = bounded_get(where, deadline_s=FETCH_DEADLINE_S, max_bytes=1_000_000)
        if status != 200:
            raise FetchError(f"HTTP {status}")
    except FetchError as exc:
        raise TradeguardError(
            f"--sandbox {url!r}: cannot read {where} ({exc}); is "
            "`tradeguard sandbox --replay ...` running there?"
        ) from None
    try:
        if len(body) > 1_000_000:
            raise ValueError("over 1,000,000 bytes")
        replays = json.loads(body.decode())["replays"]
        out = []
        for r in replays:
            name, shift = r["symbol"], r["shift_ms"]
            shown = isinstance(name, str) and name.isascii() and name.isprintable()
            if not shown or not 0 < len(name) <= 40 or type(shift) is not int:
                raise ValueError(f"a replay entry {str(r)[:120]!r}")
            out.append((name, shift))
        return out
    except RecursionError:  # '[[[[...' nested deeper than the decoder goes
        raise TradeguardError(
            f"--sandbox {url!r}: {where} did not answer a sandbox's replay list (JSON nested too "
            "deep); is that a `tradeguard sandbox --replay ...`?"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise TradeguardError(
            f"--sandbox {url!r}: {where} did not answer a sandbox's replay list ({exc}); "
            "is that a `tradeguard sandbox --replay ...`?"
        ) from None


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
