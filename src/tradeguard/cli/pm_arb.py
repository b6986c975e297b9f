"""`tradeguard pm map check FILE`: every mapped pair checked against both venues."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from tradeguard.clock import Clock
from tradeguard.model.errors import ConfigError, VenueError
from tradeguard.model.instrument import Instrument
from tradeguard.strategies.cross_venue.market_map import MappedPair, load_market_map


def add_pm_arb_parsers(pm_sub: Any) -> None:
    """Register `pm map check` under the `pm` command group."""
    pm_map = pm_sub.add_parser(
        "map",
        help="the curated Polymarket <-> Kalshi market map",
        description="The curated Polymarket <-> Kalshi market map.",
        epilog="example: tradeguard pm map check examples/pm_map.toml --config pm.toml",
    )
    map_sub = pm_map.add_subparsers(dest="pm_map_command", required=True)
    check = map_sub.add_parser(
        "check",
        help="check every mapped pair against both venues (listed, open, tokens, ticks, sizes)",
        epilog="example: tradeguard pm map check examples/pm_map.toml --config pm.toml",
    )
    check.add_argument("file", help="market map TOML file")
    check.add_argument("--config", required=True, help="TOML config with both venues")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument(
        "--at",
        type=_moment,
        default=None,
        metavar="TIME",
        help="check as of this UTC time (e.g. 2026-12-01T00:00:00Z) instead of now: reviews "
        "and resolution times are compared with it",
    )
    check.set_defaults(func=cmd_pm_map_check)


def _moment(text: str) -> int:
    """Parse --at: an ISO date or date-time (UTC unless it says otherwise) into ms."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date or date-time such as 2026-12-01T00:00:00Z"
        ) from None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)


@dataclass(slots=True)
class PairCheck:
    """What the check found for one pair: problems block trading, notes inform."""

    pair_id: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Tell whether the pair may be traded."""
        return not self.problems


def check_pair(
    pair: MappedPair,
    pm: dict[str, Instrument],
    kalshi: dict[str, Instrument],
    pm_token: Callable[[str], str],
    now_ms: int,
) -> PairCheck:
    """Check one pair against both venues' listed (open) markets; never by title."""
    out = PairCheck(pair.id)
    why = pair.refusal(now_ms)
    if why:
        out.problems.append(why)
    for outcome, token in (("YES", pair.polymarket.yes_token), ("NO", pair.polymarket.no_token)):
        symbol = f"{pair.polymarket.market}:{outcome}/PUSD"
        inst = pm.get(symbol)
        if inst is None:
            out.problems.append(f"polymarket: {symbol} is not listed as an open market")
            continue
        listed = pm_token(symbol)
        if listed != token:
            out.problems.append(
                f"polymarket: {outcome.lower()}_token {token} differs from the venue's {listed}"
            )
        out.notes.append(f"polymarket {symbol}: tick {inst.price_tick}, min {inst.min_amount}")
    for outcome in ("YES", "NO"):
        symbol = f"{pair.kalshi.market}:{outcome}/USD"
        inst = kalshi.get(symbol)
        if inst is None:
            out.problems.append(f"kalshi: {symbol} is not listed as an open market")
            continue
        out.notes.append(f"kalshi {symbol}: tick {inst.price_tick}, min {inst.min_amount}")
    gap = abs(pair.polymarket.resolves_at_ms - pair.kalshi.resolves_at_ms) // 1000
    out.notes.append(
        f"resolution: polymarket {pair.polymarket.resolution_source!r}, kalshi "
        f"{pair.kalshi.resolution_source!r}; times {gap} s apart "
        f"(tolerance {pair.close_tolerance_s} s); orientation {pair.orientation}"
    )
    return out


def cmd_pm_map_check(args: argparse.Namespace) -> int:
    """Load the map and the config's two venues, check every pair, print what was found."""
    from tradeguard.cli.pm import reading_venue
    from tradeguard.config import load_config

    book = load_market_map(args.file)
    config = load_config(args.config)
    venues: dict[str, Any] = {}
    for kind in ("polymarket", "kalshi"):
        vc = next((v for v in config.venues if v.kind == kind), None)
        if vc is None:
            raise ConfigError(f"--config {args.config}: no venue of kind {kind!r} to check against")
        venues[kind] = reading_venue(vc)
    now = Clock().now_ms() if args.at is None else args.at
    checks = asyncio.run(_check_all(book.pairs.values(), venues, now))
    _print(checks, args.json, sys.stdout)
    return 0 if all(c.ok for c in checks) else 1


async def _check_all(pairs: Any, venues: dict[str, Any], now: int) -> list[PairCheck]:
    pm, kalshi = venues["polymarket"], venues["kalshi"]
    from tradeguard.cli.pm import open_reading_venue

    try:
        await open_reading_venue(pm)
        await open_reading_venue(kalshi)
    except VenueError as exc:
        raise ConfigError(f"cannot reach a venue to check the map: {exc}") from None
    try:
        tokens = getattr(pm, "_tokens", {})

        def token_of(symbol: str) -> str:
            # trading venue: symbol -> (token id, neg risk); data-only venue: symbol -> token id
            found = tokens.get(symbol, "-")
            return found if isinstance(found, str) else str(found[0])

        return [check_pair(p, pm.instruments, kalshi.instruments, token_of, now) for p in pairs]
    finally:
        await pm.close()
        await kalshi.close()


def _print(checks: list[PairCheck], as_json: bool, out: TextIO) -> None:
    if as_json:
        doc = [{"pair": c.pair_id, "ok": c.ok, "problems": c.problems, "notes": c.notes}
               for c in checks]  # fmt: skip
        print(json.dumps(doc, indent=2), file=out)
        return
    for c in checks:
        print(f"{'ok     ' if c.ok else 'REFUSED'} {c.pair_id}", file=out)
        for line in c.problems:
            print(f"  problem: {line}", file=out)
        for line in c.notes:
            print(f"  {line}", file=out)
    bad = sum(1 for c in checks if not c.ok)
    print(f"{len(checks)} pairs: {len(checks) - bad} tradeable, {bad} refused", file=out)
