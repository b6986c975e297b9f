"""The `cross_venue` strategy kind: mapped Polymarket <-> Kalshi pairs traded inside a node.

```toml
[[strategies]]
id = "pmarb"
kind = "cross_venue"
venue = "polymarket"              # the Polymarket venue; `symbol` is not used
[strategies.params]
map = "pm_map.toml"               # the reviewed market map (relative to the config file's folder)
kalshi_venue = "kalshi"
cooldown_s = 1
[strategies.params.exec]          # PairExecConfig
max_unwind_loss_usd = "5"
[strategies.params.limits]        # PairLimits
max_position_usd = "200"
```

Every quote of a mapped outcome (its ask levels, or the best ask when the feed gives only the
top of the book, on its own venue) rescores the pairs on that book; when no pair is executing
and the cooldown has passed, the pair with the best ROI per day above `limits.min_roi_pct` is
executed both legs or neither through the two venues' execution gateways. The limits' book
(today's trades and P&L, the pairs held) is the strategy's state. Every `settle_check_s` the
pairs whose two markets have both resolved are settled: the P&L is booked and a mismatch raises
a critical `arb.settled` event with the loss.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tradeguard.model.config_model import ConfigModel
from tradeguard.model.errors import ConfigError
from tradeguard.model.events import Event
from tradeguard.model.fill import Fill
from tradeguard.model.market import Quote
from tradeguard.model.money import ZERO, plain
from tradeguard.model.order import Order
from tradeguard.strategies.base import Strategy, StrategyContext, register
from tradeguard.strategies.cross_venue.executor import PairExecConfig, PairExecutor
from tradeguard.strategies.cross_venue.fees import FeeModel
from tradeguard.strategies.cross_venue.limits import LimitBook, PairLimits
from tradeguard.strategies.cross_venue.market_map import MappedPair, MarketMap, load_market_map
from tradeguard.strategies.cross_venue.netting_guard import PAIR_NETS
from tradeguard.strategies.cross_venue.records import PairAttempt
from tradeguard.strategies.cross_venue.scanner import PairScanner, scan_pair
from tradeguard.strategies.cross_venue.settlement import (
    SettlementWatch,
    settled_event,
    settlement_key,
)
from tradeguard.strategies.gateway import ExecutionContext, ExecutionGateway

log = logging.getLogger(__name__)


class CrossVenueParams(ConfigModel):
    """`params` of a `kind = "cross_venue"` strategy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    map: str = Field(min_length=1)
    kalshi_venue: str = Field(default="kalshi", min_length=1)
    pm_quote: str = Field(default="PUSD", pattern=r"^[A-Z0-9]{2,10}$")
    # Pause after each attempt before the next may start, in seconds.
    cooldown_s: float = Field(default=1.0, ge=0, le=3600)
    # How long stopping the node waits for a running pair, in seconds.
    stop_timeout_s: float = Field(default=30.0, gt=0, le=600)
    # How often held pairs are checked for resolution, in seconds.
    settle_check_s: float = Field(default=60.0, gt=0, le=86_400)
    exec: PairExecConfig = Field(default_factory=PairExecConfig)
    limits: PairLimits = Field(default_factory=PairLimits)


def parse_params(strategy_id: str, params: dict[str, Any]) -> CrossVenueParams:
    """Validate the params; ValueError names the key, the value and what is allowed."""
    try:
        return CrossVenueParams.model_validate(params)
    except ValidationError as exc:
        parts = []
        for e in exc.errors():
            where = "params." + ".".join(str(p) for p in e["loc"])
            if e["type"] == "extra_forbidden":  # a misspelt limit: the one meant, if close
                parts.append(f"{where}: {_unknown_key(e['loc'])}")
                continue
            parts.append(f"{where} = {e.get('input')!r}: {e['msg']}")
        raise ValueError("; ".join(parts)) from None


def _unknown_key(loc: tuple[int | str, ...]) -> str:
    """`unknown key; did you mean max_position_usd?; known keys: [...]` for the key at `loc`."""
    model: Any = CrossVenueParams
    for part in loc[:-1]:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        sub = field.annotation if field is not None else None
        if not (isinstance(sub, type) and issubclass(sub, BaseModel)):
            return "unknown key"
        model = sub
    known = sorted(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.8)
    guess = f" did you mean {close[0]}?;" if close else ""
    return f"unknown key;{guess} known keys: {known}"


@register("cross_venue")
class CrossVenueStrategy(Strategy):
    """Scan mapped pairs on both venues' quotes and execute the best one, one pair at a time."""

    timeframe = None  # quotes only
    path_params = ("map",)  # relative to the config file's folder

    def __init__(self, strategy_id: str, venue: str, symbol: str, params: dict[str, Any]) -> None:
        super().__init__(strategy_id, venue, symbol, params)
        self.settings = parse_params(strategy_id, params)
        self.market_map: MarketMap = load_market_map(Path(self.settings.map))
        self.book = LimitBook()
        self.executor: PairExecutor | None = None
        self.scanner: PairScanner | None = None
        self.watch = SettlementWatch(
            venue, {p.id: p.orientation for p in self.market_map.pairs.values()}
        )
        self._venue_of: dict[str, str] = {}
        self._crossed: set[str] = set()  # symbols whose last book crossed
        self._task: asyncio.Task[PairAttempt] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._failed_unwinds: set[asyncio.Task[Any]] = set()  # legs a FAILED trade left alone
        self._failed_waiting: list[Any] = []  # such legs cut before on_start: offered then
        self._started = False
        self._cool_until = 0
        self._refused_last = False  # the last attempt was refused PAIR_NETS: others go next
        self._stopping = False
        self._gateway: ExecutionGateway | None = None
        self.settled: list[dict[str, Any]] = []  # this run's settlements (the events' data)

    @property
    def symbols(self) -> tuple[str, ...]:
        """Return every mapped outcome symbol on both venues (known after on_start)."""
        return tuple(self._venue_of)

    @property
    def venue_symbols(self) -> dict[str, tuple[str, ...]]:
        """Return the symbols to stream, each on its own venue."""
        out: dict[str, list[str]] = {}
        for symbol, venue in self._venue_of.items():
            out.setdefault(venue, []).append(symbol)
        return {v: tuple(s) for v, s in out.items()}

    @property
    def attempts(self) -> list[PairAttempt]:
        """Return the pair attempts since start, oldest first."""
        return list(self.executor.attempts) if self.executor is not None else []

    @property
    def busy(self) -> bool:
        """Tell whether a pair is executing."""
        return self._task is not None and not self._task.done()

    def bind(self, ctx: StrategyContext) -> None:
        """Take both venues' execution gateways and build the executor on them."""
        if not isinstance(ctx, ExecutionContext):
            raise ConfigError(
                f"strategies[{self.id}]: kind 'cross_venue' runs inside a trading node, which "
                "lends it execution gateways; this context does not"
            )
        super().bind(ctx)
        pm, kalshi = self.venue, self.settings.kalshi_venue
        if pm == kalshi:
            raise ConfigError(
                f"strategies[{self.id}]: venue and params.kalshi_venue are both {pm!r}; name "
                "the Polymarket venue in `venue` and the Kalshi venue in params.kalshi_venue"
            )
        gateways = {pm: ctx.execution_gateway(self.id, pm)}
        gateways[kalshi] = ctx.execution_gateway(self.id, kalshi)
        self._gateway = gateways[pm]
        fees = {pm: FeeModel.default("polymarket"), kalshi: FeeModel.default("kalshi")}
        pairs = self.market_map.pairs
        self.executor = PairExecutor(
            gateways,
            self.id,
            self.settings.exec,
            limits=self.settings.limits,
            book=self.book,
            fees=fees,
            refusal=lambda pair_id, now: pairs[pair_id].refusal(now),
            # sandbox and paper runs move no real money: their records say PAPER
            mode="LIVE" if getattr(ctx, "trading_mode", "") == "live" else "PAPER",
        )
        self.executor.pair_settles = lambda pair_id: (
            pairs[pair_id].settles_at_ms if pair_id in pairs else 0
        )

    def on_start(self) -> None:
        """Index the map's tradeable pairs and start listening to their outcome quotes."""
        ctx = self.ctx
        assert ctx is not None
        now = ctx.now_ms()
        pm, kalshi = self.venue, self.settings.kalshi_venue
        fees = (FeeModel.default("polymarket"), FeeModel.default("kalshi"))
        scan, missing = [], []
        for pair in self.market_map.tradeable(now):
            sp = scan_pair(pair, pm, kalshi, *fees, pm_quote=self.settings.pm_quote)
            legs = sorted({(leg.venue, leg.symbol) for d in sp.directions for leg in d})
            gone = [sym for v, sym in legs if ctx.instrument(v, sym) is None]
            wrong = self._wrong_tokens(pair)
            if gone:  # closed or resolved since the review: no new trades, its held pairs settle
                log.warning("strategy %s: pair %s not traded: %s not listed open on their "
                            "venue", self.id, pair.id, gone[:4])  # fmt: skip
                missing += gone
            elif wrong:  # the reviewer read another market, or swapped YES and NO
                log.warning("strategy %s: pair %s not traded: %s (pm map check refuses it)",
                            self.id, pair.id, wrong)  # fmt: skip
                missing.append(wrong)
            else:
                scan.append(sp)
        if not scan and not self.book.open:
            raise ConfigError(
                f"strategies[{self.id}]: no pair of {self.market_map.source} may be traded now "
                "(unreviewed, review expired, resolution time passed, void rules differ, token "
                "ids not the venue's, "
                "or markets not listed open"
                f"{': ' + str(missing[:4]) if missing else ''}); check it with "
                f"`tradeguard pm map check {self.market_map.source}` against this config"
            )
        self.scanner = PairScanner(scan)
        self._venue_of = {s: v for v in (pm, kalshi) for s in self.scanner.symbols(v)}
        self._stopping = False
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            self._timer = loop.create_task(self._settle_loop(), name=f"settle:{self.id}")
        self._started = True
        for leg in self._failed_waiting:  # cut by the start's reconciliation: offered now
            self._unwind_failed(leg)
        self._failed_waiting.clear()
        log.info("strategy %s: %d pairs over %s and %s", self.id, len(scan), pm, kalshi)

    def _wrong_tokens(self, pair: MappedPair) -> str:
        """Why the map's Polymarket token ids are not the venue's ("" when they are, or when
        the venue does not say)."""
        token_of = getattr(self.ctx, "outcome_token", None)
        if token_of is None:
            return ""
        side = pair.polymarket
        for outcome, mapped in (("YES", side.yes_token), ("NO", side.no_token)):
            symbol = f"{side.market}:{outcome}/{self.settings.pm_quote}"
            listed = token_of(self.venue, symbol)
            if listed is not None and listed != mapped:
                return f"{outcome.lower()}_token {mapped} is not the venue's {listed} for {symbol}"
        return ""

    def on_ticker(self, quote: Quote) -> None:
        """Rescore the pairs on this outcome's ask book; maybe start the best pair."""
        scanner = self.scanner
        venue = self._venue_of.get(quote.symbol)
        if scanner is None or venue is None:
            return
        levels = quote.asks or ((quote.ask, quote.ask_size),)  # depth when the feed has it
        asks = [(p, q) for p, q in levels if q > 0 and p < 1]
        if asks and quote.bid_size > 0 and quote.bid >= asks[0][0]:
            # no venue leaves a bid resting at or above an ask: the feed missed a message, and
            # a leg sent at its stale ask would fail (a second leg's failure costs an unwind)
            if quote.symbol not in self._crossed:
                log.warning("strategy %s: %s book crossed (bid %s >= ask %s): not scanned "
                            "until it uncrosses", self.id, quote.symbol, quote.bid,
                            asks[0][0])  # fmt: skip
            self._crossed.add(quote.symbol)
            asks = []
        else:
            self._crossed.discard(quote.symbol)
        scanner.update_book(venue, quote.symbol, asks)
        if not (self.muted or self._stopping):
            self.poll()

    def poll(self) -> asyncio.Task[PairAttempt] | None:
        """Start the best qualifying pair unless one is running or the cooldown holds."""
        if self.busy or self.scanner is None or self.executor is None or self.ctx is None:
            return None
        now = self.ctx.now_ms()
        if now < self._cool_until:
            return None
        floor = self.settings.limits.min_roi_pct
        # A pair refused (PAIR_NETS) for contracts still held would be the best again at every
        # cooldown and keep every other pair out: after a refusal the others go first.
        refused = frozenset(self.executor.nets_refused.by_pair) if self._refused_last else None
        opp = self.scanner.best(now, floor, refused) if refused else None
        opp = opp or self.scanner.best(now, floor)
        if opp is None:
            return None
        self._task = asyncio.create_task(self._execute(opp), name=f"pair:{opp.pair_id}")
        return self._task

    async def _execute(self, opp: Any) -> PairAttempt:
        assert self.executor is not None and self.ctx is not None
        try:
            rec = await self.executor.execute(opp)
            self._refused_last = rec.code == PAIR_NETS
            return rec
        finally:
            self._cool_until = self.ctx.now_ms() + int(self.settings.cooldown_s * 1000)

    def nets_refused(self) -> list[dict[str, Any]]:
        """Pairs refused with PAIR_NETS, once recorded per held state, with the refusals since."""
        if self.executor is None:
            return []
        return [{"strategy_id": self.id, "pair_id": pair, "code": "PAIR_NETS", **r}
                for pair, r in self.executor.nets_refused.to_json().items()]  # fmt: skip

    def held_assets(self) -> dict[tuple[str, str], Decimal]:
        """Return the outcome tokens the held pairs should have on each venue (reconciliation)."""
        out: dict[tuple[str, str], Decimal] = {}
        for pair in self.book.open:
            for venue, symbol in zip(pair.venues, pair.legs, strict=True):
                if symbol in self.watch.resolved:
                    continue  # paid out by a settlement fill, before the pair's settle check
                key = (venue, symbol.split("/", 1)[0])
                out[key] = out.get(key, Decimal(0)) + pair.contracts
        return out

    def unwind_allowances(
        self, rows: Iterable[Mapping[str, Any]]
    ) -> list[tuple[str, str, Decimal]]:
        """What an `arb-unwind` may sell of each lone leg the held records `rows` leave, as
        (venue, asset, contracts): no more than the book holds of it alone now (a settled or
        shrunk leg: less, or none)."""
        from tradeguard.strategies.cross_venue.held_retry import held_legs

        lone: dict[tuple[str, str], Decimal] = {}
        for pair in self.book.open:
            if len(pair.legs) == 1 and pair.legs[0] not in self.watch.resolved:
                key = (pair.venues[0], pair.legs[0])
                lone[key] = lone.get(key, Decimal(0)) + pair.contracts
        out = []
        for leg in held_legs(rows):
            amount = min(leg.contracts, lone.get((leg.venue, leg.symbol), Decimal(0)))
            if amount > 0:
                lone[(leg.venue, leg.symbol)] -= amount
                out.append((leg.venue, leg.symbol.split("/", 1)[0], amount))  # what its sale gives
        return out

    def sync_held(self, venue: str, total: Callable[[str], Decimal]) -> list[dict[str, Any]]:
        """Shrink the lone legs held on `venue` to what it holds (`total(asset)`, read by a
        reconciliation); return what changed, one dict per record written."""
        from tradeguard.strategies.cross_venue.held_sync import shrink_held

        if self.executor is None:
            return []
        recs = shrink_held(self.executor, venue, total, set(self.watch.resolved))
        return [{"strategy_id": self.id, "record_id": r.record_id, "pair_id": r.pair_id,
                 "held": {s: plain(q) for s, q in r.held.items()}, "reason": r.reason}
                for r in recs]  # fmt: skip

    def leg_failed(
        self, fill: Fill, signal: object = None, record_id: int | None = None, order: Any = None
    ) -> dict[str, Any] | None:
        """A leg's fill whose trade FAILED at its venue (the reconciliation flagged it; `signal`:
        its order's; `record_id`: the record naming the order): the pair it completed is cut to
        its other leg, held (a lone leg's sale, `order`: held again; `leg_failed.py`),
        and under `on_interrupted = "unwind"` that leg is offered for sale now; return what
        was recorded, or None when no complete pair held the leg."""
        from tradeguard.strategies.cross_venue.leg_failed import cut_failed_leg, failed_leg_pair

        if self.executor is None:
            return None
        leg = cut_failed_leg(self.executor, fill, failed_leg_pair(signal), record_id, order)
        if leg is None:
            return None
        if self.settings.exec.on_interrupted == "unwind":
            if self._started:
                self._unwind_failed(leg)
            else:  # the start's reconciliation: nothing is sent before the node trades
                self._failed_waiting.append(leg)
        return {"strategy_id": self.id, **leg.to_json()}

    def _unwind_failed(self, leg: Any) -> None:
        """Offer a lone leg a failed trade left within max_unwind_loss_usd, as a retry."""
        from tradeguard.strategies.cross_venue.held_retry import retry_unwind

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a tool reading the state): it waits for a retry
            return
        executor = self.executor
        assert executor is not None

        async def sell() -> None:
            if any(
                (p.pair_id, p.legs, p.record_id) == (leg.pair_id, (leg.symbol,), leg.record_id)
                for p in executor.book.open
            ):  # its own lone leg: another of the pair's (held before) is not this record's
                await retry_unwind(executor, leg, self.settings.exec.max_unwind_loss_usd)
            # else: the cut's commit was refused (the pair as it was) or the leg is gone

        task = loop.create_task(sell(), name=f"failed-leg:{leg.pair_id}")
        self._failed_unwinds.add(task)
        task.add_done_callback(self._failed_unwinds.discard)

    def on_fill(self, fill: Fill) -> None:
        """Learn market resolutions from the node's settlement fills; book a retry's sale that
        fills after its timeout as that retry's; settle a held leg a merge or netting sold."""
        from tradeguard.strategies.cross_venue.held_merge import netted_fill

        self.watch.on_fill(fill.symbol, fill.price, fill.trade_id)
        if self.executor is not None:
            netted_fill(self.executor, fill)
        if self.executor is not None and self.executor.late_sales:
            from tradeguard.strategies.cross_venue.late_sale import late_fill

            late_fill(self.executor, fill)

    def take_up_netted(
        self, rows: Sequence[Mapping[str, Any]], load: Callable[[int], list[Fill]]
    ) -> int:
        """Settle the held lone legs that merge or netting sales booked before a kill sold
        (`rows`: this strategy's records; `load(since_ts)`: its fills since); return how many."""
        from tradeguard.strategies.cross_venue.held_merge import netted_fill, unbooked

        if self.executor is None:
            return 0
        missed = unbooked(self.executor, rows, load)
        for fill in missed:
            netted_fill(self.executor, fill)
        return len(missed)

    async def _settle_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.settle_check_s)
            try:
                self.check_settlements()
            except Exception:
                log.exception("strategy %s: settlement check failed", self.id)

    def check_settlements(self) -> list[Event]:
        """Settle the held pairs whose markets have both resolved; return the events published."""
        assert self.ctx is not None
        now = self.ctx.now_ms()
        events = []
        for held, result in self.watch.due(self.book.open):
            event = settled_event(held, result, now, self.venue, self.id)
            if self._gateway is not None:  # first: a kill before the checkpoint settles again
                # its record counted a pair at 1 per contract pair, a lone leg at its cost; the
                # event is kept with the settlement's commit and published once, when it is new
                booked = ZERO if held.lone else held.contracts - held.capital
                self._gateway.observe_settlement(
                    settlement_key(held), held.legs, result.pnl, now, booked, held.record_id,
                    held.capital, announce=event,
                )  # fmt: skip
            self.book.open.remove(held)
            self.book.realise(now, result.pnl)
            self.settled.append(dict(event.data))
            events.append(event)
        return events

    @property
    def on_interrupted(self) -> str:
        """What the next start does with a leg a stop left without a record (unwind or hold)."""
        return self.settings.exec.on_interrupted

    async def adopt_interrupted(self, legs: list[Order], fills: dict[str, list[Fill]]) -> str:
        """Sell back what an interrupted attempt left unhedged (within the loss cap) through
        the executor; return the record's outcome (`held` when some of it stays)."""
        from tradeguard.strategies.cross_venue.adopt import adopt_interrupted

        assert self.executor is not None, "bind() first"
        return (await adopt_interrupted(self.executor, legs, fills)).outcome

    def hold_interrupted(
        self, legs: list[Order], fills: dict[str, list[Fill]], why: str, alert: Any = None
    ) -> None:
        """Record what an interrupted attempt's legs hold, sending nothing, and book it under
        the pair their orders name; the node's `alert` reporting them goes with the record."""
        from tradeguard.strategies.cross_venue.adopt import hold_interrupted

        assert self.executor is not None, "bind() first"
        hold_interrupted(self.executor, legs, fills, why, alert)

    def stopping_s(self) -> float:
        """A Ctrl-C's stop waits out `stop_timeout_s` before the node's own bound."""
        return float(self.settings.stop_timeout_s)

    async def on_stopping(self) -> None:
        """Start no new pair; wait up to stop_timeout_s for the running one."""
        self._stopping = True
        if self._timer is not None:
            self._timer.cancel()
        task = self._task
        if task is None or task.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), self.settings.stop_timeout_s)
        except TimeoutError:
            log.error(
                "strategy %s: a pair was still executing after stop_timeout_s=%s; the run stops "
                "without it: it is cut where it is, unrecorded, and the next start reconciles its "
                "legs (journaled before they were sent) and records or unwinds what filled",
                self.id,
                self.settings.stop_timeout_s,
            )

    def state(self) -> dict[str, Any]:
        """Return the limits' book (today's trades and P&L, the pairs held) and resolutions."""
        return {
            "limits": self.book.to_json(),
            "resolved": {s: r.value for s, r in self.watch.resolved.items()},
            "record_id": self.executor.last_record_id if self.executor is not None else 0,
            "nets_refused": self.executor.nets_refused.to_json() if self.executor else {},
            "late_sales": {c: s.to_json() for c, s in self.executor.late_sales.items()}
            if self.executor
            else {},
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Take back the limits' book and the resolutions seen before a restart (the book as
        the newest record left it, `record_id`, when that is newer than the checkpoint's)."""
        from tradeguard.model.outcome import Resolution

        restored = LimitBook.from_json(state.get("limits") or {})
        self.book.day, self.book.trades_today = restored.day, restored.trades_today
        self.book.realised_today, self.book.open = restored.realised_today, restored.open
        if self.executor is not None:
            self.executor.last_record_id = int(state.get("record_id") or 0)
            note = state.get("record_note") or {}  # repeats counted since (a kill safe)
            refused = note.get("nets_refused") if isinstance(note, dict) else None
            self.executor.nets_refused.restore(state.get("nets_refused"), refused)
            from tradeguard.strategies.cross_venue.late_sale import restore_late

            restore_late(self.executor, state.get("late_sales"))
        for symbol, value in (state.get("resolved") or {}).items():
            self.watch.resolved[symbol] = Resolution(value)
