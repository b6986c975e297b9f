"""The `triangular` strategy kind: scanner, executor and runner inside a trading node.

```toml
[[strategies]]
id = "tri"
kind = "triangular"
venue = "sandbox"            # `symbol` is not used: the markets come from the venue
[strategies.params]
max_cycle = 3
cooldown_s = 1
[strategies.params.exec]     # TriangularExecConfig, except strategy_id (= the strategy's id)
start_assets = ["USDT"]
max_size_usd = "50"
```

At start the strategy takes the venue's instruments (the paper venue's configured `instruments`,
or what a ccxt venue's `load_markets` listed), keeps `params.symbols` if given, indexes every
cycle, and asks the node for the quotes of each market that lies on a cycle. Each quote rescores
the cycles through its market; when no cycle is running and the cooldown has passed, the best one
above `exec.min_profit_pct` is executed leg by leg through the node's execution gateway (the
cycle as a whole through the risk engine's cycle check, each leg through the risk check, the
journal and the venue), and one `arb_executions` row records it. Stopping waits up to
`stop_timeout_s` for a running cycle so that no leg is left behind.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from tradeguard.model.config_model import ConfigModel
from tradeguard.model.errors import ConfigError
from tradeguard.model.fields import field_range
from tradeguard.model.fill import Fill
from tradeguard.model.market import Quote
from tradeguard.model.order import Order
from tradeguard.strategies.base import Strategy, StrategyContext, register
from tradeguard.strategies.gateway import ExecutionContext
from tradeguard.strategies.triangular.exec_runner import TriangularArbRunner
from tradeguard.strategies.triangular.executor import (
    ArbExecution,
    TriangularExecConfig,
    TriangularExecutor,
)
from tradeguard.strategies.triangular.markets import arb_market
from tradeguard.strategies.triangular.scanner import TriangularScanner

log = logging.getLogger(__name__)

Symbol = Annotated[str, Field(pattern=r"^[A-Z0-9]+/[A-Z0-9]+$")]


class TriangularParams(ConfigModel):
    """`params` of a `kind = "triangular"` strategy: what to scan and how to execute."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Longest cycle in legs: 3 (triangles) up to 5.
    max_cycle: int = Field(default=3, ge=3, le=5)
    # One taker fee, in percent, for every market when scoring; unset uses each market's own.
    fee_override_pct: Decimal | None = Field(default=None, ge=0, lt=100)
    # How many of the best-scored cycles are looked at for an executable one, per update.
    top_n: int = Field(default=10, ge=1, le=1000)
    # Pause after each cycle attempt before the next may start, in seconds.
    cooldown_s: float = Field(default=1.0, ge=0, le=3600)
    # Markets to scan; empty scans every spot market the venue lists.
    symbols: list[Symbol] = Field(default_factory=list)
    # How long stopping the node waits for a running cycle, in seconds.
    stop_timeout_s: float = Field(default=30.0, gt=0, le=600)
    # How cycles are executed (TriangularExecConfig); `strategy_id` is the strategy's id.
    exec: TriangularExecConfig = Field(default_factory=TriangularExecConfig)


def parse_params(params: dict[str, Any]) -> TriangularParams:
    """Validate a triangular strategy's `params`; raise ValueError naming key, value and range."""
    raw_exec = params.get("exec")
    if isinstance(raw_exec, dict) and "strategy_id" in raw_exec:
        raise ValueError(
            f"params.exec.strategy_id = {raw_exec['strategy_id']!r}: not settable here; the "
            "strategy's `id` is used (remove the key)"
        )
    try:
        return TriangularParams.model_validate(params)
    except ValidationError as exc:
        raise ValueError("; ".join(_describe(e) for e in exc.errors())) from None


def _describe(error: Any) -> str:
    loc = [str(p) for p in error["loc"]]
    where = "params." + ".".join(loc) if loc else "params"
    model, info = _field(loc)
    if error["type"] == "extra_forbidden":
        known = sorted(k for k in model.model_fields if k != "strategy_id")
        return f"{where}: unknown key; known keys: {known}"
    allowed = field_range(info) if info is not None else ""
    value = error.get("input")
    return f"{where} = {value!r}: {error['msg']}" + (f" (allowed: {allowed})" if allowed else "")


def _field(loc: list[str]) -> tuple[type[BaseModel], FieldInfo | None]:
    """Return the model holding the last key of `loc` and that key's field, when known."""
    model: type[BaseModel] = TriangularParams
    info: FieldInfo | None = None
    for i, key in enumerate(loc):
        info = model.model_fields.get(key)
        if info is None:
            return model, None
        nested = info.annotation
        if i < len(loc) - 1 and isinstance(nested, type) and issubclass(nested, BaseModel):
            model = nested
    return model, info


@register("triangular")
class TriangularStrategy(Strategy):
    """Scan the venue's cycles on every quote and execute the best one, one cycle at a time."""

    timeframe = None  # quotes only

    def __init__(self, strategy_id: str, venue: str, symbol: str, params: dict[str, Any]) -> None:
        super().__init__(strategy_id, venue, symbol, params)
        self.settings = parse_params(params)
        raw_exec = params.get("exec")
        self._fees_given = isinstance(raw_exec, dict) and "fees_charged_in" in raw_exec
        self.exec_config = self.settings.exec.model_copy(update={"strategy_id": strategy_id})
        self.executor: TriangularExecutor | None = None
        self.scanner: TriangularScanner | None = None
        self.runner: TriangularArbRunner | None = None
        self._symbols: tuple[str, ...] = tuple(self.settings.symbols)
        self._stopping = False
        self._restored: dict[str, Any] = {}

    @property
    def symbols(self) -> tuple[str, ...]:
        """Return the markets on at least one cycle (the configured list before on_start)."""
        return self._symbols

    @property
    def executions(self) -> list[ArbExecution]:
        """Return the cycles attempted since start, oldest first."""
        return list(self.runner.executions) if self.runner is not None else []

    def bind(self, ctx: StrategyContext) -> None:
        """Take the node's execution gateway for the venue and build the executor on it."""
        if not isinstance(ctx, ExecutionContext):
            raise ConfigError(
                f"strategies[{self.id}]: kind 'triangular' runs inside a trading node, which "
                "lends it an execution gateway; this context does not"
            )
        super().bind(ctx)
        gateway = ctx.execution_gateway(self.id, self.venue)
        if not self._fees_given:
            # The paper venue and Kraken charge a buy's fee in the quote spent, Binance in the
            # base received: the venue says which (a leg must not spend more than it was given).
            fees = "received" if gateway.buy_fee_in == "received" else "quote"
            self.exec_config = self.exec_config.model_copy(update={"fees_charged_in": fees})
        self.executor = TriangularExecutor(gateway, self.exec_config)
        if self._restored:  # the held cycles' orders a stop left awaited
            self.executor.held_legs.load(self._restored)

    def on_start(self) -> None:
        """Index the cycles of the venue's markets and start listening to their quotes."""
        ctx = self.ctx
        assert ctx is not None and self.executor is not None
        listed = {i.symbol: i for i in ctx.instruments(self.venue)}
        wanted = self.settings.symbols
        missing = [s for s in wanted if s not in listed]
        if missing:
            raise ConfigError(
                f"strategies[{self.id}]: params.symbols {missing} are not listed on venue "
                f"{self.venue} ({len(listed)} markets listed); remove them or fix their spelling"
            )
        chosen = [listed[s] for s in wanted] if wanted else list(listed.values())
        s = self.settings
        scanner = TriangularScanner(
            [arb_market(i) for i in chosen],
            max_cycle=s.max_cycle,
            fee_override_pct=s.fee_override_pct,
        )
        if not scanner.n_cycles:
            raise ConfigError(
                f"strategies[{self.id}]: the {len(chosen)} markets of venue {self.venue} form no "
                f"cycle of 3 to max_cycle={s.max_cycle} legs; list markets that close a loop "
                "(e.g. ETH/BTC, ETH/USDT, BTC/USDT) in params.symbols or the venue's instruments"
            )
        self.scanner = scanner
        self.runner = TriangularArbRunner(
            scanner, self.executor, clock=ctx, cooldown_s=s.cooldown_s, top_n=s.top_n
        )
        on_cycles = [m.symbol for m in scanner.markets if scanner.cycles_touching(m.symbol)]
        self._symbols = tuple(on_cycles)
        self._stopping = False
        self.executor.held_legs.start()  # ended since (the start's reconciliation): rewritten
        log.info(
            "strategy %s: %d cycles over %d markets of %s",
            self.id,
            scanner.n_cycles,
            len(self._symbols),
            self.venue,
        )

    def on_ticker(self, quote: Quote) -> None:
        """Rescore the cycles through this market; maybe start the best one."""
        runner = self.runner
        if runner is None:
            return
        bid, ask = float(quote.bid), float(quote.ask)
        if self.muted or self._stopping:
            runner.scanner.update_ticker(quote.symbol, bid, ask)
            return
        runner.on_ticker(quote.symbol, bid, ask, float(quote.bid_size), float(quote.ask_size))

    @property
    def on_interrupted(self) -> str:
        """What the next start does with legs a stop left without a record (unwind or hold)."""
        return self.exec_config.on_interrupted

    async def adopt_interrupted(self, legs: list[Order], fills: dict[str, list[Fill]]) -> str:
        """Trade back what an interrupted cycle's legs left (within the unwind bound) through
        the executor; return the record's outcome (`held` when some of it stays)."""
        from tradeguard.strategies.triangular.adopt import adopt_interrupted

        assert self.executor is not None, "bind() first"
        return (await adopt_interrupted(self.executor, legs, fills)).outcome

    def take_up_late(self) -> int:
        """At start: book into its record a fill the venue made, while the node was down (or
        before a kill let the record be rewritten), of an order a record gave up on, however
        old the record; return how many."""
        assert self.executor is not None, "bind() first"
        return self.executor.held_legs.late.take_up()

    def unwind_allowances(self, rows: list[dict[str, Any]]) -> list[tuple[str, str, Decimal]]:
        """What an `arb-unwind` may sell of each asset the `held` records `rows` hold, as
        (venue, asset, amount): read back at every start, no more than the account holds of it
        now (sold by hand meanwhile: less, or none; not known: what the records say)."""
        assert self.executor is not None, "bind() first"
        held: dict[str, Decimal] = {}
        for row in rows:
            if row.get("outcome") == "held":
                for asset, amount in (row["legs"].get("held") or {}).items():
                    held[asset] = held.get(asset, Decimal(0)) + Decimal(str(amount))
        out = []
        for asset, amount in held.items():
            has = self.executor.gateway.sellable(asset)
            amount = amount if has is None else min(amount, has)
            if amount > 0:
                out.append((self.venue, asset, amount))
        return out

    def stopping_s(self) -> float:
        """A Ctrl-C's stop waits out `stop_timeout_s` before the node's own bound."""
        return float(self.settings.stop_timeout_s)

    async def on_stopping(self) -> None:
        """Start no new cycle; wait up to stop_timeout_s for the running one to finish."""
        self._stopping = True
        if self.executor is not None:
            self.executor.held_legs.stop()  # still awaited: watched again from the next start
        runner = self.runner
        if runner is None or not runner.busy:
            return
        try:
            # Shielded: a timeout must not cancel the cycle itself, only stop waiting for it.
            await asyncio.wait_for(asyncio.shield(runner.wait_idle()), self.settings.stop_timeout_s)
        except TimeoutError:
            log.error(
                "strategy %s: a cycle was still running after stop_timeout_s=%s; the run stops "
                "without it: it is cut where it is, unrecorded, and the next start reconciles its "
                "legs (journaled before they were sent) and records or unwinds what filled",
                self.id,
                self.settings.stop_timeout_s,
            )

    def risk_conflicts(self, risk: Any) -> list[str]:
        """Return the settings `risk` would refuse on every cycle (a node that never trades)."""
        size, cap = self.exec_config.max_size_usd, risk.arb_max_cycle_notional_usd
        if size is None or size <= cap:
            return []
        return [
            f"params.exec.max_size_usd = {size} is above risk.arb_max_cycle_notional_usd = "
            f"{cap}: check_cycle would refuse every cycle of that size (allowed: <= {cap})"
        ]

    def restore(self, state: dict[str, Any]) -> None:
        """Take back the orders held cycles wait on (the record state committed last)."""
        if "pending" in state:
            self._restored = {"pending": state["pending"], "record_id": state.get("record_id")}
            if self.executor is not None:
                self.executor.held_legs.load(self._restored)

    def state(self) -> dict[str, Any]:
        """Return the run's cycle counts (the cycles themselves are in arb_executions)."""
        runner = self.runner
        if runner is None:
            return {}
        return {
            "cycles": len(runner.executions),
            "skipped_busy": runner.skipped_busy,
            "skipped_cooldown": runner.skipped_cooldown,
        }
