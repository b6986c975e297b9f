"""Each live stream's figures, and the watch that calls a silent stream stale.

A stream is stale when no message came for longer than its limit (the risk engine's
`stale_data_s`; a candle stream gets one base interval more, as a venue may send a kline only
when its minute closes). Becoming stale and fresh again are both reported once, so the node can
block only that stream's symbol and unblock it on the next message. Public trades are never
called stale: a quiet tape is not missing data.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

WATCHED = frozenset({"book", "quotes", "candles"})


def _wall_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class RestFallback:
    """A stream's websocket state while the venue serves it from REST snapshots instead.

    The venue calls `down` on each failed websocket attempt and `up` on the first message the
    websocket delivers again; `changed(up)` is called when it goes down and when it comes back.
    """

    since_ms: int = 0  # when the websocket went down (0: it is up)
    attempts: int = 0  # reconnect attempts since then
    error: str = ""
    changed: Callable[[bool], None] | None = field(default=None, repr=False)
    # told of a symbol's message the stream does not pass on (its book unchanged): liveness
    # is by arrival, so a quiet market's stream is not called stale
    arrived: Callable[[str], None] | None = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        return self.since_ms > 0

    def down(self, exc: BaseException) -> None:
        self.attempts += 1
        self.error = f"{type(exc).__name__}: {exc}"[:200]
        if not self.since_ms:
            self.since_ms = _wall_ms()
            if self.changed is not None:
                self.changed(False)

    def up(self) -> None:
        if self.since_ms:
            self.since_ms, self.attempts, self.error = 0, 0, ""
            if self.changed is not None:
                self.changed(True)


@dataclass
class StreamStats:
    """Figures of one stream, surfaced by `LiveHub.status()`."""

    venue: str
    symbol: str
    kind: str
    polled: bool = False
    messages: int = 0
    reconnects: int = 0
    resyncs: int = 0
    last_wall_ms: int = 0
    error: str = ""
    stale: bool = False
    started_wall_ms: int = field(default_factory=_wall_ms)
    first: asyncio.Event = field(default_factory=asyncio.Event)
    # called when a stale stream gets a message again
    on_fresh: Callable[[StreamStats], None] | None = field(default=None, repr=False)
    # a websocket stream the venue may serve from REST while the socket is down
    fallback: RestFallback | None = field(default=None, repr=False)

    @property
    def state(self) -> str:
        """`polled` (no stream of this kind), `rest_fallback` (the websocket is down and REST
        stands in) or `streaming`."""
        if self.polled:
            return "polled"
        down = self.fallback is not None and self.fallback.active
        return "rest_fallback" if down else "streaming"

    def seen(self) -> None:
        self.messages += 1
        self.last_wall_ms = _wall_ms()
        if not self.first.is_set():
            self.first.set()
        if self.stale:
            self.stale = False
            if self.on_fresh is not None:
                self.on_fresh(self)

    def age_ms(self, now_ms: int) -> int:
        """Milliseconds since the last message (since the subscription when none came yet)."""
        return now_ms - (self.last_wall_ms or self.started_wall_ms)

    def to_json(self) -> dict[str, Any]:
        age = (_wall_ms() - self.last_wall_ms) / 1000 if self.last_wall_ms else None
        fb = self.fallback if self.fallback is not None and self.fallback.active else None
        return {
            "venue": self.venue, "symbol": self.symbol, "stream": self.kind,
            "state": self.state, "polled": self.polled, "messages": self.messages,
            "reconnects": self.reconnects, "resyncs": self.resyncs,
            "age_s": None if age is None else round(age, 3), "stale": self.stale,
            "error": fb.error if fb is not None else self.error,
            "fallback_since_ms": fb.since_ms if fb is not None else None,
            "reconnect_attempts": fb.attempts if fb is not None else 0,
        }  # fmt: skip


class StaleWatch:
    """Mark streams stale after `stale_after_s` without a message; report each change once."""

    def __init__(
        self,
        stats: dict[tuple[str, str, str], StreamStats],
        report: Callable[[str, StreamStats], None],
        stale_after_s: float,
        candle_extra_s: float,
    ) -> None:
        if stale_after_s <= 0:
            raise ValueError(f"stale_after_s={stale_after_s}: must be above 0 seconds")
        self.stats = stats
        self.report = report
        self.limit_ms = int(stale_after_s * 1000)
        self.candle_extra_ms = int(candle_extra_s * 1000)

    def limit_of(self, st: StreamStats) -> int:
        """The silence (ms) after which `st` is stale."""
        return self.limit_ms + (self.candle_extra_ms if st.kind == "candles" else 0)

    def check(self, now_ms: int | None = None) -> list[StreamStats]:
        """Mark the streams silent past their limit stale; return those newly marked."""
        now = _wall_ms() if now_ms is None else now_ms
        out = []
        for st in self.stats.values():
            if st.kind in WATCHED and not st.stale and st.age_ms(now) > self.limit_of(st):
                st.stale = True
                out.append(st)
                self.report("marketdata.stale", st)
        return out

    def fresh(self, st: StreamStats) -> None:
        """A stale stream spoke again."""
        self.report("marketdata.fresh", st)

    async def run(self) -> None:
        """Check every quarter of the limit (at most each second) until cancelled."""
        every = min(1.0, self.limit_ms / 4000)
        while True:
            await asyncio.sleep(every)
            self.check()
