"""Fault injection switches for the sandbox exchange, settable in-process, by config or HTTP."""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from tradeguard.model.errors import ConfigError


@dataclass(slots=True)
class Faults:
    """What to break, and how often; every random draw comes from one seeded RNG.

    - `latency_ms`: delay before answering every REST request; `latency_ms_by_endpoint`
      overrides it per path (e.g. `{"/api/v3/order": 300}`). The delay comes before the
      request is read: a client gone meanwhile leaves nothing done.
    - `latency_after_ms` (and `latency_after_ms_by_endpoint`): the request is executed at once
      and its ANSWER is delayed: a client gone meanwhile leaves an order the venue executed
      and the client never heard of.
    - `drop_response_after_execute`: the next N order placements (an OCO list counts as one) are
      executed but their HTTP connection is closed without an answer (the client sees a
      network error).
    - `drop_execution_reports`: the next N order placements send the placing account no
      `executionReport` on the user stream (balances still stream): a lost execution report.
    - `http_5xx_rate`: share of REST requests (0..1) answered 503 before doing anything.
    - `burst_429`: the next N REST requests are answered 429 with Retry-After.
    - `partial_fills`: K > 1 makes every crossing order fill in K slices, one per loop turn,
      each pushed on the user stream.
    - `duplicate_ws_messages`: every websocket message is sent twice.
    - `disconnect_ws_every_n`: close each websocket after it has sent N messages (0 = never).
    - `refuse_ws`: the websocket side is down: every new websocket is refused with 503 while
      true (drop the open ones with `POST /admin/ws/disconnect`); REST goes on.
    - `silent_streams`: market streams (e.g. `["ethusdt@depth"]`) whose messages are withheld
      while listed: one symbol's stream stalls, the connection and every other stream go on.
    """

    latency_ms: int = 0
    latency_ms_by_endpoint: dict[str, int] = field(default_factory=dict)
    latency_after_ms: int = 0
    latency_after_ms_by_endpoint: dict[str, int] = field(default_factory=dict)
    drop_response_after_execute: int = 0
    drop_execution_reports: int = 0
    http_5xx_rate: float = 0.0
    burst_429: int = 0
    partial_fills: int = 0
    duplicate_ws_messages: bool = False
    disconnect_ws_every_n: int = 0
    refuse_ws: bool = False
    silent_streams: list[str] = field(default_factory=list)
    seed: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the first field of the wrong type or out of range."""
        self._check_types()
        checks: list[tuple[str, object, bool, str]] = [
            ("latency_ms", self.latency_ms, 0 <= self.latency_ms <= 60_000, "0..60000"),
            (
                "latency_after_ms",
                self.latency_after_ms,
                0 <= self.latency_after_ms <= 60_000,
                "0..60000",
            ),
            (
                "drop_response_after_execute",
                self.drop_response_after_execute,
                self.drop_response_after_execute >= 0,
                ">= 0",
            ),
            (
                "drop_execution_reports",
                self.drop_execution_reports,
                self.drop_execution_reports >= 0,
                ">= 0",
            ),
            ("http_5xx_rate", self.http_5xx_rate, 0.0 <= self.http_5xx_rate <= 1.0, "0..1"),
            ("burst_429", self.burst_429, self.burst_429 >= 0, ">= 0"),
            ("partial_fills", self.partial_fills, 0 <= self.partial_fills <= 100, "0..100"),
            (
                "disconnect_ws_every_n",
                self.disconnect_ws_every_n,
                self.disconnect_ws_every_n >= 0,
                ">= 0",
            ),
        ]
        for name, value, ok, allowed in checks:
            if not ok:
                raise ConfigError(
                    f"sandbox.faults.{name}={value!r} is out of range; allowed {allowed}"
                )
        names = self.silent_streams
        if not isinstance(names, list) or any(
            not isinstance(n, str) or "@" not in n for n in names
        ):
            raise ConfigError(
                f"sandbox.faults.silent_streams={self.silent_streams!r}: expected a list of "
                "stream names like 'btcusdt@depth'"
            )
        for name in ("latency_ms_by_endpoint", "latency_after_ms_by_endpoint"):
            _check_by_endpoint(name, getattr(self, name))

    def _check_types(self) -> None:
        # A string or NaN where a number belongs would fail the range checks with a TypeError
        # (or pass them): name the field instead.
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(f.default, bool):
                ok = isinstance(value, bool)
            elif isinstance(f.default, int | float):
                ok = _is_number(value) and (isinstance(f.default, float) or isinstance(value, int))
            else:
                continue
            if not ok:
                kind = (
                    "true or false" if isinstance(f.default, bool)
                    else "a finite number" if isinstance(f.default, float)
                    else "a whole number"
                )  # fmt: skip
                raise ConfigError(f"sandbox.faults.{f.name}={value!r}: expected {kind}")

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update (from config or the admin endpoint); unknown keys are refused."""
        known = {f.name for f in fields(self) if not f.name.startswith("_")}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(
                f"sandbox.faults: unknown key(s) {unknown}; known keys are {sorted(known)}"
            )
        if not isinstance(changes, dict):
            raise ConfigError(f"sandbox.faults: expected a table of settings, got {changes!r}")
        old = self.to_dict()
        for key, value in changes.items():
            setattr(self, key, value)
        try:
            self.validate()
        except ConfigError:
            for key, value in old.items():
                setattr(self, key, value)
            raise
        if "seed" in changes:
            self._rng.seed(self.seed)

    def reset(self) -> None:
        """Switch every fault off (the seed is kept)."""
        self.update(
            {
                "latency_ms": 0,
                "latency_ms_by_endpoint": {},
                "latency_after_ms": 0,
                "latency_after_ms_by_endpoint": {},
                "drop_response_after_execute": 0,
                "drop_execution_reports": 0,
                "http_5xx_rate": 0.0,
                "burst_429": 0,
                "partial_fills": 0,
                "duplicate_ws_messages": False,
                "disconnect_ws_every_n": 0,
                "refuse_ws": False,
                "silent_streams": [],
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as plain JSON-able data."""
        data = asdict(self)
        data.pop("_rng", None)
        return data

    # -- draws used by the server ----------------------------------------------------------

    def latency_for(self, path: str) -> int:
        """Milliseconds to wait before answering `path`."""
        return self.latency_ms_by_endpoint.get(path, self.latency_ms)

    def latency_after_for(self, path: str) -> int:
        """Milliseconds to hold `path`'s answer after the request was executed."""
        return self.latency_after_ms_by_endpoint.get(path, self.latency_after_ms)

    def take_5xx(self) -> bool:
        """Decide whether this request gets a 503."""
        return self.http_5xx_rate > 0 and self._rng.random() < self.http_5xx_rate

    def take_429(self) -> bool:
        """Consume one request of a 429 burst, if any remains."""
        if self.burst_429 > 0:
            self.burst_429 -= 1
            return True
        return False

    def take_drop(self) -> bool:
        """Consume one dropped order response, if any remains."""
        if self.drop_response_after_execute > 0:
            self.drop_response_after_execute -= 1
            return True
        return False

    def silenced(self, stream: str) -> bool:
        """Whether messages of market stream `stream` are withheld (`depth` covers its speeds)."""
        return any(stream == n or stream.startswith(n + "@") for n in self.silent_streams)

    def take_report_drop(self) -> bool:
        """Consume one placement whose execution reports are withheld, if any remains."""
        if self.drop_execution_reports > 0:
            self.drop_execution_reports -= 1
            return True
        return False


def _is_number(value: object) -> bool:
    # an int is finite at any size (math.isfinite overflows on one past float's range)
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _check_by_endpoint(name: str, table: object) -> None:
    """Raise ConfigError unless `table` maps request paths to 0..60000 ms."""
    if not isinstance(table, dict):
        raise ConfigError(
            f"sandbox.faults.{name}={table!r}: "
            'expected a table of path = ms, e.g. {"/api/v3/order": 300}'
        )
    for path, ms in table.items():
        if not isinstance(path, str) or not path.startswith("/"):
            # "POST /api/v3/order" or a path without its slash would match no request.
            raise ConfigError(
                f"sandbox.faults.{name}[{path!r}]: expected a request path "
                'starting with "/", e.g. "/api/v3/order" (any method)'
            )
        if not _is_number(ms):
            raise ConfigError(f"sandbox.faults.{name}[{path!r}]={ms!r}: expected a number")
        if not 0 <= ms <= 60_000:
            raise ConfigError(
                f"sandbox.faults.{name}[{path!r}]={ms!r} is out of range; allowed 0..60000"
            )
