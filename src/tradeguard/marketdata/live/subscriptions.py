"""What a strategy asks of live market data: candles at a timeframe, an L2 book, trades, quotes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

KINDS = ("candles", "book", "trades", "quotes")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
MAX_BOOK_DEPTH = 1000


def timeframe_s(timeframe: str) -> int:
    """Return the seconds of a timeframe like `1m`, `15m`, `4h`, `1d`; raise ValueError if bad."""
    text = timeframe.strip()
    unit = _UNIT_S.get(text[-1:]) if text else None
    count = text[:-1]
    # ASCII digits, a few of them: int() reads other scripts' digits and refuses '²' on its own
    ok = count.isascii() and count.isdigit() and len(count) <= 9
    if unit is None or not ok or int(count) <= 0:
        raise ValueError(
            f"timeframe={timeframe!r}: expected a count and a unit s/m/h/d/w, e.g. '1m' or '4h'"
        )
    return int(count) * unit


def timeframe_of(interval_s: int) -> str:
    """Return the shortest timeframe text for `interval_s` seconds (300 -> '5m')."""
    for unit, secs in sorted(_UNIT_S.items(), key=lambda kv: -kv[1]):
        if interval_s % secs == 0:
            return f"{interval_s // secs}{unit}"
    raise ValueError(f"interval_s={interval_s}: must be a positive whole number of seconds")


@dataclass(frozen=True, slots=True)
class Subscription:
    """One live stream a strategy needs on one venue.

    `timeframe` is for candles, `depth` (levels per side) for books; `warmup` is how many closed
    candles of history the strategy wants before the first live one.
    """

    kind: str
    venue: str
    symbol: str
    timeframe: str = ""
    depth: int = 0
    warmup: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"subscription kind={self.kind!r}: must be one of {list(KINDS)}")
        if self.kind == "candles":
            timeframe_s(self.timeframe)
        if self.kind == "book" and not 1 <= self.depth <= MAX_BOOK_DEPTH:
            raise ValueError(
                f"book subscription {self.symbol}: depth={self.depth} must be in "
                f"[1, {MAX_BOOK_DEPTH}] levels per side"
            )
        if not 0 <= self.warmup <= 100_000:
            raise ValueError(f"subscription warmup={self.warmup}: must be in [0, 100000] candles")

    @property
    def interval_s(self) -> int:
        return timeframe_s(self.timeframe) if self.kind == "candles" else 0


@dataclass(slots=True)
class SymbolNeeds:
    """Everything wanted of one symbol on one venue, merged over strategies."""

    venue: str
    symbol: str
    intervals: dict[int, int]  # candle interval_s -> warm-up candles (the largest asked)
    depth: int = 0
    trades: bool = False
    quotes: bool = False

    def wants(self, kind: str) -> bool:
        return {
            "candles": bool(self.intervals),
            "book": self.depth > 0,
            "trades": self.trades,
            "quotes": self.quotes,
        }[kind]


def merge(subscriptions: Iterable[Subscription]) -> dict[tuple[str, str], SymbolNeeds]:
    """Merge subscriptions per (venue, symbol): one stream of each kind serves every strategy."""
    out: dict[tuple[str, str], SymbolNeeds] = {}
    for sub in subscriptions:
        needs = out.get((sub.venue, sub.symbol))
        if needs is None:
            needs = out[(sub.venue, sub.symbol)] = SymbolNeeds(sub.venue, sub.symbol, {})
        if sub.kind == "candles":
            iv = sub.interval_s
            needs.intervals[iv] = max(needs.intervals.get(iv, 0), sub.warmup)
        elif sub.kind == "book":
            needs.depth = max(needs.depth, sub.depth)
        elif sub.kind == "trades":
            needs.trades = True
        else:
            needs.quotes = True
    return out
