"""`--replay FILE[:SYMBOL]`: a market that follows recorded candles.

The file's first bars become history (klines already closed when the sandbox starts, ending at
start-up); the rest are played from start-up on, `speed` times faster than their own interval.
Each bar is played as four steps along its path (open, then low and high in the order a
bar of its colour most likely took, then close): at each step the house book is set around the
price and a quarter of the bar's volume prints there, so klines come out as the data says
(prices exactly, volume to the market's step) and users' orders trade against the house.
Bar times are shifted to the present; at `speed` > 1 the replayed klines run ahead of the clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from tradeguard.marketdata.errors import DataFileError
from tradeguard.marketdata.loaders import load_candles, symbol_from_path
from tradeguard.model.errors import ConfigError
from tradeguard.model.market import Candle
from tradeguard.model.money import ZERO, quantize_down
from tradeguard.sandbox.klines import Bar
from tradeguard.sandbox.motion import Depth, quote_and_print

if TYPE_CHECKING:
    from tradeguard.sandbox.server import SandboxExchange

_STEP = Decimal("0.00000001")
_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "USD", "BTC", "ETH", "BNB", "EUR")
_PARTS = 4


@dataclass(frozen=True, slots=True)
class ReplaySource:
    """One `--replay` argument: a candle file and the symbol it is listed as."""

    path: Path
    symbol: str  # e.g. ETHBTC
    base: str
    quote: str

    @classmethod
    def parse(cls, arg: str) -> ReplaySource:
        """Read `FILE` or `FILE:SYMBOL` (`ETHBTC` or `ETH/BTC`; default from the file name)."""
        path_text, _, sym = arg.rpartition(":") if ":" in arg else (arg, "", "")
        path = Path(path_text)
        try:
            unified = sym.upper() if sym else symbol_from_path(path)
        except DataFileError as exc:
            if not path.is_file():  # the name was mistyped: say so, not that it has no symbol
                what = "a directory" if path.is_dir() else "no such file"
                raise ConfigError(
                    f"sandbox --replay {arg!r}: {what}; give a candle file (.csv, .feather)"
                ) from None
            raise ConfigError(
                f"sandbox --replay {arg!r}: {exc}; or write FILE:BASE/QUOTE"
            ) from None
        if "/" in unified:
            base, quote = unified.split("/", 1)
        else:
            quote = next((q for q in _QUOTES if unified.endswith(q) and unified != q), "")
            base = unified[: -len(quote)] if quote else ""
        if not base or not quote:
            raise ConfigError(
                f"sandbox --replay {arg!r}: cannot split symbol {unified!r} into base and quote; "
                "write it as BASE/QUOTE, e.g. FILE:ETH/BTC"
            )
        return cls(path, base + quote, base, quote)


def _tick_of(bars: Sequence[Candle]) -> Decimal:
    exps = [
        min(p.normalize().as_tuple().exponent, 0)
        for b in bars[:500]
        for p in (b.open, b.high, b.low, b.close)
    ]
    return max(Decimal(1).scaleb(min(exps)), _STEP)  # type: ignore[arg-type]


def _path(bar: Candle) -> list[Decimal]:
    if bar.close >= bar.open:
        return [bar.open, bar.low, bar.high, bar.close]
    return [bar.open, bar.high, bar.low, bar.close]


class Replay:
    """One replayed market: its bars, the history already loaded, and the player."""

    def __init__(
        self, ex: SandboxExchange, source: ReplaySource, speed: Decimal, history: int
    ) -> None:
        self.ex = ex
        self.source = source
        self.speed = speed
        self.bars = load_candles(source.path, f"{source.base}/{source.quote}")
        if len(self.bars) < 2:
            raise ConfigError(f"sandbox --replay {source.path}: needs at least 2 candles")
        self.interval_ms = self.bars[0].interval_s * 1000
        self.history = max(1, min(history, len(self.bars) - 1))
        self.played = 0
        volumes = sorted(b.volume for b in self.bars[: self.history])
        median = volumes[len(volumes) // 2] if volumes else Decimal(1)
        self.depth = Depth(max(quantize_down(median, _STEP), _STEP))
        self.start_ms = 0
        self._speed_changed = asyncio.Event()

    def list_market(self, now_ms: int | None = None) -> None:
        """List the market and load the history bars, ending at `now_ms` (default the
        exchange's clock)."""
        s = self.source
        tick = _tick_of(self.bars)
        self.ex.add_market(s.symbol, s.base, s.quote, tick, _STEP, _STEP, "0")
        now = self.ex.now_ms() if now_ms is None else now_ms
        self.start_ms = now // self.interval_ms * self.interval_ms
        for j, c in enumerate(self.bars[: self.history]):
            at = self.start_ms - (self.history - j) * self.interval_ms
            bar = Bar(at, c.open, c.high, c.low, c.close, c.volume, c.volume * c.close)
            self.ex.klines.add_bar(s.symbol, bar)
        last = self.bars[self.history - 1].close
        quote_and_print(self.ex, s.symbol, last, ZERO, True, self.depth, self.start_ms)

    @property
    def shift_ms(self) -> int:
        """Milliseconds added to the file's times: a recorded bar opening at t plays as t + shift.

        Exact for a file without gaps; the player closes up a gap, so times after one drift.
        """
        return self.start_ms - self.bars[self.history].ts

    def describe(self) -> dict[str, object]:
        """What `/admin/replay` answers for this market (times in ms since the epoch)."""
        first = self.bars[self.history]
        return {
            "symbol": self.source.symbol,
            "file": str(self.source.path),
            "speed": str(self.speed),
            "interval_ms": self.interval_ms,
            "shift_ms": self.shift_ms,
            "history_bars": self.history,
            "played_bars": self.played,
            "bars": len(self.bars) - self.history,
            "first_played_recorded_ms": first.ts,
            "first_played_ms": self.start_ms,
        }

    def bar_time(self, k: int) -> int:
        """Shifted open time of the k-th bar after the history."""
        return self.start_ms + k * self.interval_ms

    def play_step(self, k: int, part: int) -> None:
        """Play one quarter of the k-th bar after the history."""
        bar = self.bars[self.history + k]
        price = _path(bar)[part]
        prev = _path(bar)[part - 1] if part else self.bars[self.history + k - 1].close
        quarter = quantize_down(bar.volume / _PARTS, _STEP)
        qty = bar.volume - quarter * (_PARTS - 1) if part == _PARTS - 1 else quarter
        at = self.bar_time(k) + part * self.interval_ms // _PARTS
        quote_and_print(self.ex, self.source.symbol, price, qty, price >= prev, self.depth, at)

    def set_speed(self, speed: Decimal) -> None:
        """Play the bars still to come `speed` times faster than real time, from now on."""
        if not Decimal("0.01") <= speed <= 10_000:
            raise ConfigError(f"replay speed {speed} is out of range; allowed 0.01..10000")
        self.speed = speed
        self._speed_changed.set()

    async def run(self) -> None:
        """Play every remaining bar in time, then stop (the book stays at the last close)."""
        loop = asyncio.get_running_loop()
        anchor_t, anchor_n = loop.time(), 0
        step_s = float(self.interval_ms) / 1000 / _PARTS / float(self.speed)
        n = 0
        self._speed_changed.clear()
        for k in range(len(self.bars) - self.history):
            for part in range(_PARTS):
                if self._speed_changed.is_set():  # set while this loop was busy or behind
                    self._speed_changed.clear()
                    anchor_t, anchor_n = loop.time(), n - 1
                    step_s = float(self.interval_ms) / 1000 / _PARTS / float(self.speed)
                while (delay := anchor_t + (n - anchor_n) * step_s - loop.time()) > 0:
                    try:
                        await asyncio.wait_for(self._speed_changed.wait(), delay)
                    except TimeoutError:
                        break
                    # A new speed: the next step comes one new step after now.
                    self._speed_changed.clear()
                    anchor_t, anchor_n = loop.time(), n - 1
                    step_s = float(self.interval_ms) / 1000 / _PARTS / float(self.speed)
                else:
                    # Behind time (a fast replay on a busy machine): still let requests in.
                    await asyncio.sleep(0)
                self.play_step(k, part)
                n += 1
            self.played = k + 1
