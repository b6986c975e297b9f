"""What a replay commits so that a resumed run continues from exactly its last commit.

The replay state is one key/value row written with every commit of a replay: the cursor (the
last candle committed, and how many candles of its timestamp were done), the run figures, every
strategy's state, and the equity-curve samples taken since the stored curve was last written.
The equity curve itself is kept as "ts:equity;" text, so a commit appends a few samples rather
than rewriting two thousand.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from itertools import takewhile
from typing import Any

from tradeguard.model.errors import ConfigError
from tradeguard.model.market import Candle

REPLAY_STATE_KEY = "replay.state"
# written with the cursor: the order its count is of (a cursor without it may be by open time)
CURSOR_ORDER = "close"
CURVE_KEEP = 2000  # equity-curve points stored
CURVE_FOLD = 32  # samples a commit carries before they join the stored curve


def load_replay_state(storage: Any) -> dict[str, Any] | None:
    """Return the replay state of the last commit, or None when no replay committed."""
    raw = storage.kv_get(REPLAY_STATE_KEY)
    data = json.loads(raw) if isinstance(raw, str) else raw
    return data if isinstance(data, dict) else None


def save_replay_state(storage: Any, state: dict[str, Any], ts: int) -> None:
    """Write the replay state (plain JSON types only) as one encoded string."""
    # One string is the storage layer's fast path: no walk over every list item.
    storage.kv_set(REPLAY_STATE_KEY, json.dumps(state, separators=(",", ":")), ts)


def resume_index(
    candles: Sequence[Candle], cursor_ts: int, done_at_ts: int, by_close: bool = True
) -> int:
    """Index of the first candle after the cursor (candle ts, candles of that ts done).

    `candles` are in replay order (`replay_order`: close time, then span), where open times
    are in order only for one timeframe: the cursor's candle is the `done_at_ts`-th opening at
    `cursor_ts`, among the candles closing from `cursor_ts` to a longest span later.

    A cursor stored without its order (`by_close` False: `CURSOR_ORDER` was not written) may be
    of a replay by open time, whose done candles close order may not hold as a prefix; it is
    taken up only where both orders agree on them (`_open_order_agrees`), else ConfigError.
    A cursor without its count (`done_at_ts` 0: the oldest saves) had every candle opening at
    or before it done: taken up where those come first in replay order, else ConfigError."""
    if done_at_ts:
        closes, longest = _closes(candles)
        lo, hi = _closing_window(closes, longest, cursor_ts)
        n = 0
        for i in range(lo, hi):
            if candles[i].ts == cursor_ts:
                n += 1
                if n == done_at_ts:
                    if not by_close and not _open_order_agrees(candles, lo, i + 1, hi, n):
                        raise _open_order_error(cursor_ts, done_at_ts)
                    return i + 1
        return bisect_left([c.ts for c in candles], cursor_ts) + done_at_ts  # data not found
    return _through(candles, cursor_ts)  # a cursor written without the count


def _open_order_agrees(candles: Sequence[Candle], lo: int, end: int, hi: int, n: int) -> bool:
    """Whether `candles[:end]` (in close order; `lo`..`hi` the closing window of the cursor's
    open time) are what a replay by open time (ties in file order) had done at the cursor:
    every candle opening before the cursor's time, `n` of those opening at it, none after.
    The `n` are the first in file order where the candles opening at that time span alike (close
    order keeps file order among them); of other spans, only all of them."""
    ts = candles[end - 1].ts
    if any(candles[j].ts > ts for j in range(lo, end)):
        return False  # done in close order, not yet by open time
    if any(candles[j].ts < ts for j in range(end, hi)):
        return False  # done by open time, not yet in close order
    at = [c.interval_s for c in candles[lo:hi] if c.ts == ts]
    return n == len(at) or len(set(at)) == 1


def _through(candles: Sequence[Candle], cursor_ts: int) -> int:
    """Index past every candle opening at or before `cursor_ts`, when those come first in
    `candles` (one timeframe, or where no bar opening by then closes after one opening later);
    else ConfigError: resuming there would skip or repeat candles."""
    end = 0
    for c in candles:
        end += c.ts <= cursor_ts
    if any(candles[j].ts > cursor_ts for j in range(end)):
        when = datetime.fromtimestamp(cursor_ts / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        raise ConfigError(
            f"replay state: the stored cursor (open time {cursor_ts}, {when} UTC) carries no "
            "count of the candles done at it (a save from before counts were stored): every "
            "candle opening by then was done, and in the replay's close order bars of a longer "
            "span opening by then close after bars opening later, so no resume point holds "
            "exactly those. Start the replay again from its first candle with a new database "
            "(database_url)"
        )
    return end


def _open_order_error(cursor_ts: int, done_at_ts: int) -> ConfigError:
    when = datetime.fromtimestamp(cursor_ts / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return ConfigError(
        f"replay state: the stored cursor (open time {cursor_ts}, {when} UTC, {done_at_ts} "
        "candle(s) of it done) records no order; it may be of a replay by open time, before "
        "bars of more than one span were taken by close time, and around it the two orders "
        "differ on which candles were done: resuming could skip or repeat candles. Start the "
        "replay again from its first candle with a new database (database_url)"
    )


def done_at(candles: Sequence[Candle], i: int) -> int:
    """How many candles opening at candle i's time are done once candle i is (in replay order:
    those before it closing at or after that time)."""
    ts, n, j = candles[i].ts, 1, i - 1
    while j >= 0 and (c := candles[j]).ts + c.interval_s * 1000 >= ts:
        n += c.ts == ts
        j -= 1
    return n


def traded_candles(
    candles: Sequence[Candle], end: int, wanted: dict[str, int]
) -> dict[str, Candle]:
    """The candle of each symbol of `wanted` opening at its time there, the last such among
    `candles[:end]` (in replay order); a symbol without one is left out."""
    closes, longest = _closes(candles)
    found: dict[str, Candle] = {}
    for symbol, ts in wanted.items():
        lo, hi = _closing_window(closes, longest, ts)
        for i in range(min(hi, end) - 1, lo - 1, -1):
            c = candles[i]
            if c.ts == ts and c.symbol == symbol:
                found[symbol] = c
                break
    return found


def _closes(candles: Sequence[Candle]) -> tuple[list[int], int]:
    """The close times of `candles` and their longest span (ms)."""
    closes = [c.ts + c.interval_s * 1000 for c in candles]
    return closes, max((c.interval_s for c in candles), default=0) * 1000


def _closing_window(closes: list[int], longest: int, ts: int) -> tuple[int, int]:
    """The index range of the candles (in replay order, closing at `closes`) closing from `ts`
    to a longest span after it: every candle opening at `ts` is among them."""
    return bisect_left(closes, ts), bisect_right(closes, ts + longest)


def curve_points(text: str) -> Iterator[tuple[int, Decimal]]:
    """Parse "ts:equity;" text into (ts, equity) points."""
    for point in text.split(";"):
        if point:
            t, e = point.split(":")
            yield int(t), Decimal(e)


class CurveLog:
    """The stored equity curve and the samples not yet in it."""

    def __init__(self) -> None:
        self.text = ""
        self.count = 0
        self.tail: list[str] = []
        self.tail_ts = 0

    def load(self, stored: Any, tail: str, curve: Any) -> None:
        """Take back the stored curve and a commit's tail; append their points to `curve`."""
        if isinstance(stored, list):  # written as a list of pairs by an older version
            stored = "".join(f"{t}:{e};" for t, e in stored)
        if isinstance(stored, str):
            self.text, self.count = stored, stored.count(";")
            curve.extend(curve_points(stored))
        last = self.tail_ts = curve[-1][0] if curve else 0
        for t, e in curve_points(tail):
            if t > last:
                curve.append((t, e))
                self.tail.append(f"{t}:{e};")
                self.tail_ts = t

    def take(self, curve: Any) -> None:
        """Note the samples of `curve` newer than the last one noted."""
        since = self.tail_ts
        newer = list(takewhile(lambda p: p[0] > since, reversed(curve)))
        if self.tail and len(curve) > len(newer):
            # the sample noted last, updated in place since (another market's candle closing
            # at its time), perhaps before newer samples came
            t, e = curve[-1 - len(newer)]
            if t == since:
                self.tail[-1] = f"{t}:{e!s};"
        if newer:
            self.tail += [f"{t}:{e!s};" for t, e in reversed(newer)]
            self.tail_ts = newer[0][0]

    def fold_due(self, force: bool = False) -> bool:
        """Tell whether the tail should join the stored curve now."""
        return len(self.tail) > 1 and (force or len(self.tail) >= CURVE_FOLD)

    def fold(self) -> str:
        """Move the tail but its last sample into the stored text (the last CURVE_KEEP points);
        return the text. The last sample stays in the tail (written with each commit): another
        market's candle closing at its time still updates it in place."""
        folded, self.tail = self.tail[:-1], self.tail[-1:]
        text = self.text + "".join(folded)
        n = self.count + len(folded)
        if n > CURVE_KEEP + CURVE_FOLD * 4:
            text = text.split(";", n - CURVE_KEEP)[-1]
            n = CURVE_KEEP
        self.text, self.count = text, n
        return text

    def unfold(self, text: str, count: int, folded: list[str]) -> None:
        """Undo a `fold` whose write did not commit: its samples wait in the tail again, before
        the ones noted since, for the next fold to write."""
        self.text, self.count = text, count
        self.tail = folded + self.tail

    def tail_text(self) -> str:
        return "".join(self.tail)
