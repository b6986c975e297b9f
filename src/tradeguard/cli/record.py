"""`tradeguard record`: capture a config's live market streams for replays and backtests."""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from tradeguard.cli.common import EXIT_OK
from tradeguard.model.errors import ConfigError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
MAX_DURATION_S = 7 * 86_400


def parse_duration(text: str) -> float:
    """Read `90s`, `30m`, `1h`, `2d` or a number of seconds; raise ConfigError if bad."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"] if m else -1.0
    if not 0 < seconds <= MAX_DURATION_S:
        raise ConfigError(
            f"record --duration {text!r}: expected a time like 90s, 30m, 1h or 2d, "
            f"above 0 and at most {MAX_DURATION_S // 86_400} days"
        )
    return seconds


def add_record_parser(sub: Any) -> None:
    p = sub.add_parser(
        "record",
        help="capture live candles, trades, quotes and order books to files",
        description="Record the live streams of the config's exchange venues (their `symbols` "
        "and the strategies' symbols) to candles/, trades/ and orderbook/ under --out: closed "
        "1m candles, public trades, best bid/ask, and book snapshots (top --book-depth levels "
        "a side, one every --book-every seconds).",
        epilog="example: tradeguard record --config sandbox.toml --duration 1h --out data/rec",
    )
    p.add_argument("--config", required=True, help="TOML config naming the venues")
    p.add_argument("--duration", default="1h", help="how long to record (90s, 30m, 1h)")
    p.add_argument("--out", default="recorded", help="output directory (default: ./recorded)")
    p.add_argument("--flush-every", type=float, default=60.0, help="seconds between file writes")
    p.add_argument(
        "--book-depth", type=int, default=10, help="book levels a side to record (0: no books)"
    )
    p.add_argument(
        "--book-every", type=float, default=1.0, help="seconds between book snapshots (1)"
    )
    p.set_defaults(func=cmd_record)


def cmd_record(args: argparse.Namespace, console: Console) -> int:
    """Record until the duration ends (or Ctrl-C), then print what was written."""
    from tradeguard.config import load_config

    duration_s = parse_duration(args.duration)
    _check_out(args.out)
    if not 1 <= args.flush_every <= 3600:
        raise ConfigError(f"record --flush-every {args.flush_every}: must be in [1, 3600] seconds")
    if not 0 <= args.book_depth <= 1000:
        raise ConfigError(f"record --book-depth {args.book_depth}: must be in [0, 1000] levels")
    if not 0.01 <= args.book_every <= 3600:
        raise ConfigError(f"record --book-every {args.book_every}: must be in [0.01, 3600] seconds")
    config = load_config(args.config)
    if not any(vc.kind == "ccxt" and vc.symbols for vc in config.venues):
        raise ConfigError(
            f"record --config {args.config}: no venue of kind 'ccxt' with `symbols` to record; "
            'add one (e.g. symbols = ["BTC/USDT"])'
        )
    books = (args.book_depth, args.book_every)
    written, counts = asyncio.run(
        _record(config, Path(args.out), duration_s, args.flush_every, books)
    )
    console.print(
        f"recorded {counts['candles']} candles, {counts['trades']} trades, "
        f"{counts['quotes']} quotes, {counts['books']} book snapshots"
    )
    for path in written:
        console.print(f"  {path}")
    return EXIT_OK


def _check_out(out: str) -> None:
    """A folder or the path of a new one: a file there (or above it) failed only at the first
    flush, a whole interval of recording later; '' (an unset variable) wrote into ./."""
    if not out:
        raise ConfigError("record --out '': empty (an unset variable?); give a folder, e.g. rec")
    path = Path(out)
    for place in (path, *path.parents):
        if place.exists() and not place.is_dir():
            raise ConfigError(
                f"record --out {out!r}: {place} is a file; give a folder (made if missing)"
            )


async def _record(
    config: Any, out: Path, duration_s: float, flush_every_s: float, books: tuple[int, float]
) -> tuple[list[Path], dict[str, int]]:
    from tradeguard.clock import Clock
    from tradeguard.marketdata.live.hub import LiveHub
    from tradeguard.marketdata.live.recorder import Recorder
    from tradeguard.marketdata.live.subscriptions import Subscription
    from tradeguard.venues.ccxt_venue import build_ccxt_venue

    configs = [vc for vc in config.venues if vc.kind == "ccxt"]
    venues = [build_ccxt_venue(vc, Clock()) for vc in configs]
    subs = []
    for vc in configs:
        theirs = [s.symbol for s in config.strategies if s.venue == vc.name]
        for sym in dict.fromkeys([*vc.symbols, *theirs]):
            subs += [
                Subscription("candles", vc.name, sym, "1m"),
                Subscription("trades", vc.name, sym),
                Subscription("quotes", vc.name, sym),
            ]
            if books[0]:
                subs.append(Subscription("book", vc.name, sym, depth=books[0]))
    recorder = Recorder(out, max(books[0], 1), books[1])
    hub = LiveHub({v.name: v.market_data() for v in venues}, recorder)
    written: list[Path] = []
    try:
        hub.subscribe(subs)
        deadline = time.monotonic() + duration_s
        next_flush = time.monotonic() + flush_every_s
        while (now := time.monotonic()) < deadline:
            await asyncio.sleep(min(0.2, deadline - now))
            if time.monotonic() >= next_flush:
                recorder.flush()
                next_flush += flush_every_s
    finally:
        await hub.stop()
        written = recorder.flush()
        for v in venues:
            await v.close()
    return written, recorder.counts()
