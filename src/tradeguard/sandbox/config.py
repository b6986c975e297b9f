"""Sandbox settings: where it listens, its limits, its faults, and what it is seeded with."""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.model.errors import ConfigError
from tradeguard.model.money import dec
from tradeguard.model.toml_text import TOO_DEEP, loads_toml
from tradeguard.sandbox.conn_guard import ConnLimits
from tradeguard.sandbox.faults import Faults

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
DEMO_WALK_MS = 1000
# the connection timeouts and their allowed range, in seconds
CONN_TIMEOUTS = (
    ("head_timeout_s", 0.1, 300.0), ("body_timeout_s", 0.1, 300.0),
    ("idle_timeout_s", 1.0, 3600.0),
)  # fmt: skip
MAX_CONNECTIONS = 100_000


@dataclass(slots=True)
class SandboxConfig:
    """Every key has a default; `port=0` picks a free port.

    `markets` rows: `{symbol, base, quote, tick, step, min_qty, min_notional, maker_fee,
    taker_fee, bids?, asks?}`; `accounts` rows: `{api_key, secret, balances, can_withdraw?,
    bnb_fees?}` (fees paid in BNB, sandbox/fees.py);
    `universe_markets` > 0 adds a generated universe of that many markets.
    `arb_drift_every_ms` > 0 starts the arbitrage drift (`sandbox.drift`): after each pause of
    that many ms it moves one market of a triangle so that the triangle pays
    `arb_drift_edge_pct` beyond taker fees, for `arb_drift_hold_ms` or until traded away.
    `replay` lists candle files (`FILE[:SYMBOL]`) whose markets follow the recorded bars,
    `replay_speed` times faster than real time after `replay_history_bars` bars of history.
    `walk_every_ms` > 0 moves every configured market by a seeded random walk of
    `walk_step_pct` (one standard deviation, percent) per step, printing a trade each step.
    `house_refill_ms` > 0: that often, the house quotes its last ladder again on every market
    where clients took from it (`sandbox.refill`); 0 = off, books drain as clients trade.
    `request_log_path` appends one JSON line per REST call (API key masked, no signature).
    `my_trades_start_alone` is what `myTrades` answers to a `startTime` alone: "oldest" (the
    oldest `limit` trades from it on) or "latest" (the most recent `limit` of them: Binance's
    documentation says only that without `fromId` the most recent trades are returned).
    `head_timeout_s`, `body_timeout_s`, `idle_timeout_s` and `max_connections` hold each
    connection (`sandbox.conn_guard`): a request head or body not whole within its timeout gets
    408, a kept-alive connection idle that long is closed, one over the cap gets 503.
    """

    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 0
    weight_limit_per_minute: int = 6000
    ban_after_strikes: int = 3
    ban_s: int = 120
    clock_offset_ms: int = 0
    universe_markets: int = 0
    arb_drift_every_ms: int = 0  # 0 = off
    arb_drift_hold_ms: int = 1000
    arb_drift_edge_pct: Decimal = Decimal(1)
    house_refill_ms: int = 1000  # 0 = off
    request_log_path: Path | None = None
    my_trades_start_alone: str = "oldest"  # or "latest"
    replay: list[str] = field(default_factory=list)  # "FILE" or "FILE:SYMBOL"
    replay_speed: Decimal = Decimal(1)
    replay_history_bars: int = 500
    walk_every_ms: int = 0  # 0 = off
    walk_step_pct: Decimal = Decimal("0.05")
    head_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    idle_timeout_s: float = 75.0
    max_connections: int = 512
    faults: Faults = field(default_factory=Faults)
    markets: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the offending key, its value and the allowed range."""
        if self.host not in LOOPBACK_HOSTS:
            raise ConfigError(
                f"sandbox.host={self.host!r} is not a loopback address; the sandbox binds "
                f"only to one of {sorted(LOOPBACK_HOSTS)}"
            )
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"sandbox.port={self.port} is out of range; allowed 0..65535")
        if not 1 <= self.weight_limit_per_minute <= 1_000_000:
            raise ConfigError(
                f"sandbox.weight_limit_per_minute={self.weight_limit_per_minute} is out of "
                "range; allowed 1..1000000"
            )
        if self.ban_after_strikes < 1 or self.ban_s < 1:
            raise ConfigError(
                f"sandbox.ban_after_strikes={self.ban_after_strikes} and "
                f"sandbox.ban_s={self.ban_s} must both be >= 1"
            )
        if not 0 <= self.universe_markets <= 5000:
            raise ConfigError(
                f"sandbox.universe_markets={self.universe_markets} is out of range; allowed 0..5000"
            )
        if not (self.arb_drift_every_ms == 0 or 10 <= self.arb_drift_every_ms <= 3_600_000):
            raise ConfigError(
                f"sandbox.arb_drift_every_ms={self.arb_drift_every_ms} is out of range; allowed 0 "
                "(off) or 10..3600000 ms"
            )
        if not 10 <= self.arb_drift_hold_ms <= 600_000:
            raise ConfigError(
                f"sandbox.arb_drift_hold_ms={self.arb_drift_hold_ms} is out of range; allowed "
                "10..600000 ms"
            )
        self.arb_drift_edge_pct = _finite(self.arb_drift_edge_pct, "sandbox.arb_drift_edge_pct")
        if not Decimal("0.01") <= self.arb_drift_edge_pct <= 20:
            raise ConfigError(
                f"sandbox.arb_drift_edge_pct={self.arb_drift_edge_pct} is out of range; allowed "
                "0.01..20 (percent of profit beyond taker fees)"
            )
        if not (self.house_refill_ms == 0 or 10 <= self.house_refill_ms <= 3_600_000):
            raise ConfigError(
                f"sandbox.house_refill_ms={self.house_refill_ms} is out of range; allowed 0 (off) "
                "or 10..3600000 ms"
            )
        self._validate_motion()
        self._validate_connections()

    def _validate_connections(self) -> None:
        for name, low, high in CONN_TIMEOUTS:
            value = getattr(self, name)
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not (ok and math.isfinite(value) and low <= value <= high):
                raise ConfigError(
                    f"sandbox.{name}={value!r} is out of range; allowed {low:g}..{high:g} s"
                )
        cap = self.max_connections
        if isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= MAX_CONNECTIONS:
            raise ConfigError(
                f"sandbox.max_connections={cap!r} is out of range; allowed 1..{MAX_CONNECTIONS} "
                "(a whole number)"
            )

    def conn_limits(self) -> ConnLimits:
        """The per-connection limits of every server this config starts."""
        return ConnLimits(
            head_timeout_s=self.head_timeout_s, body_timeout_s=self.body_timeout_s,
            idle_s=self.idle_timeout_s, max_connections=self.max_connections,
        )  # fmt: skip

    def _validate_motion(self) -> None:
        self.replay_speed = _finite(self.replay_speed, "sandbox.replay_speed")
        self.walk_step_pct = _finite(self.walk_step_pct, "sandbox.walk_step_pct")
        if not Decimal("0.01") <= self.replay_speed <= 10_000:
            raise ConfigError(
                f"sandbox.replay_speed={self.replay_speed} is out of range; allowed 0.01..10000 "
                "(times real time)"
            )
        if not 1 <= self.replay_history_bars <= 100_000:
            raise ConfigError(
                f"sandbox.replay_history_bars={self.replay_history_bars} is out of range; "
                "allowed 1..100000"
            )
        if not (self.walk_every_ms == 0 or 10 <= self.walk_every_ms <= 3_600_000):
            raise ConfigError(
                f"sandbox.walk_every_ms={self.walk_every_ms} is out of range; allowed 0 (off) "
                "or 10..3600000 ms"
            )
        if not Decimal(0) < self.walk_step_pct <= 5:
            raise ConfigError(
                f"sandbox.walk_step_pct={self.walk_step_pct} is out of range; allowed 0..5 "
                "(percent per step, one standard deviation)"
            )
        if self.my_trades_start_alone not in ("oldest", "latest"):
            raise ConfigError(
                f"sandbox.my_trades_start_alone={self.my_trades_start_alone!r} is not one of "
                "'oldest', 'latest'"
            )
        if self.request_log_path is not None:
            self.request_log_path = Path(self.request_log_path)
            if not self.request_log_path.parent.is_dir():
                raise ConfigError(
                    f"sandbox.request_log_path={str(self.request_log_path)!r}: folder "
                    f"{str(self.request_log_path.parent)!r} does not exist; create it first"
                )

    def apply_cli(
        self, replay: list[str] | None, speed: Decimal | None, request_log: Path | None
    ) -> None:
        """Take `--replay`, `--speed` and `--log-requests` over the file's settings."""
        if replay:
            self.replay = list(replay)
        if speed is not None:
            self.replay_speed = speed
        if request_log is not None:
            self.request_log_path = request_log

    def uses_demo_markets(self) -> bool:
        """No markets, universe or replay configured: the demo markets are listed."""
        return not self.markets and not self.universe_markets and not self.replay

    def start_demo_walk(self) -> None:
        """Let the demo markets move by the random walk unless the config says otherwise."""
        if not self.walk_every_ms:
            self.walk_every_ms = DEMO_WALK_MS

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SandboxConfig:
        """Build from plain data (a parsed TOML/JSON file); unknown keys are refused."""
        data = dict(data.get("sandbox", data))
        faults_data = data.pop("faults", {}) or {}
        known = set(cls.__dataclass_fields__) - {"faults"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"sandbox: unknown key(s) {unknown}; known keys are {sorted(known)}")
        faults = Faults(seed=int(data.get("seed", 0)))
        faults.update(faults_data)
        return cls(faults=faults, **data)

    @classmethod
    def from_file(cls, path: Path) -> SandboxConfig:
        """Load a `.toml` or `.json` file (TOML may nest everything under `[sandbox]`)."""
        if not path.exists():
            raise ConfigError(f"sandbox config file {path} does not exist; pass an existing file")
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if path.suffix == ".json" else loads_toml(text)
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"sandbox config file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
            ) from None
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            kind = "JSON" if path.suffix == ".json" else "TOML"
            raise ConfigError(f"sandbox config file {path} is not valid {kind}: {exc}") from None
        except RecursionError:  # json.loads on thousands of nested arrays
            raise ConfigError(f"sandbox config file {path} is not valid JSON: {TOO_DEEP}") from None
        except OSError as exc:
            raise ConfigError(
                f"sandbox config file {path} cannot be read: {exc.strerror}"
            ) from None
        if not isinstance(data, dict):
            raise ConfigError(f"sandbox config file {path}: expected a table of settings")
        return cls.from_dict(data)


def _finite(value: object, field: str) -> Decimal:
    """A number setting as Decimal; NaN and infinity are refused (they defeat range checks)."""
    try:
        result = dec(value, field)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if not result.is_finite():
        raise ConfigError(f"{field}={value!r} is not a finite number")
    return result
