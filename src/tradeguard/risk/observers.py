"""What trips the breakers: fills (losing streak, cooldowns), equity (drawdown, daily loss,
no equity) and venue errors (the venue's error breaker).

Equity figures are in the valuation asset; USD-named loss limits are converted at the valuation
asset's USD price when one is known (see `valuation.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from tradeguard.clock import Clock
from tradeguard.model.enums import TradingState
from tradeguard.model.events import Event, EventKind
from tradeguard.model.fill import Fill
from tradeguard.model.money import ZERO, fmt, plain
from tradeguard.model.position import ClosedTrade
from tradeguard.risk.breakers import DAY_MS, VenueBreaker, iso_week
from tradeguard.risk.config import RiskConfig
from tradeguard.risk.limit_fit import loss_limit_warnings
from tradeguard.risk.loss_history import Loss, LossHistory, cycle_key, fill_key
from tradeguard.risk.state import (
    DAILY_LOSS_BY,
    DRAWDOWN_BY,
    LOSS_LIMIT_BY,
    RECONCILER_BY,  # noqa: F401  (imported from here too)
    SELF_LIFTING_BY,
)
from tradeguard.risk.take_back import LOSS_STREAK_BY, TakeBacks
from tradeguard.risk.valuation import Valuation
from tradeguard.risk.views import StateStore

NO_EQUITY_BY = "breaker:no_equity"
# A trade is counted no later than this past the node's clock: one dated further (a venue's
# clock error, hostile data) would move the take-back window and the cooldowns with it.
FUTURE_TRADE_MS = 60_000
# Venue refusals that say the account itself is unusable: they open the breaker at once.
ACCOUNT_REFUSALS = frozenset({"AUTHENTICATION", "PERMISSION_DENIED"})
_HUNDRED = Decimal(100)
# A rising peak is written at most this often; state changes are written at once.
_PEAK_SAVE_EVERY_MS = 300_000
# Settlement keys remembered per strategy: far more than the pairs one strategy holds at once.
SETTLEMENTS_KEPT = 1000
# What a trade's result may move besides the cooldowns (see `result_undo`).
_RESULT_FIELDS = (
    "state", "state_reason", "state_by", "state_ts", "consecutive_losses", "reducing_until",
    "halted_over", "last_loss_halt", "flatten_asked",
)  # fmt: skip


log = logging.getLogger(__name__)


class RiskObservers(TakeBacks):
    """Feed results, equity and venue errors into the breakers and the trading state."""

    def __init__(
        self,
        config: RiskConfig,
        clock: Clock,
        store: StateStore,
        emit: Callable[[Event], None],
        valuation_asset: str = "USDT",
    ) -> None:
        super().__init__(config, clock, store, emit)
        c = config
        self.valuation = Valuation(valuation_asset, c.valuation_asset_usd)
        self._daily_frac = c.daily_loss_limit_pct / _HUNDRED
        self._weekly_frac = (
            c.weekly_loss_limit_pct / _HUNDRED if c.weekly_loss_limit_pct is not None else None
        )
        self._warn_frac = c.daily_loss_warning_pct / _HUNDRED
        self._window_ms = c.venue_error_window_s * 1000
        self._exposure: Any = None
        # why equity is provisional (a venue's holdings at another venue's price), set by the
        # node before each observation; None when every venue values its own holdings
        self._provisional: str | None = None
        self.provisional_since: int | None = None  # -1: held for its bound, now acted on
        # (day start equity, daily limit, week start equity, weekly limit), reset at each roll
        self._limits: tuple[Decimal, Decimal, Decimal, Decimal | None] | None = None
        # inputs of the last equity-limit evaluation that tripped nothing (see observe_equity)
        self._quiet_inputs: tuple[Any, ...] | None = None

    # fills and cycles ---------------------------------------------------------------------------
    def result_undo(
        self, strategy_id: str, symbols: tuple[str, ...], settled: bool = False
    ) -> Callable[[], None]:
        """What puts back, if the transaction it is written in rolls back, what a trade of
        `strategy_id` on `symbols` is about to move (`observe_fill`, with `settled`
        `observe_settlement` too): the losing streak, the cooldowns, a breaker's state change,
        the settlements seen. The result is then counted once when it is told again."""
        saved = tuple(getattr(self, name) for name in _RESULT_FIELDS)
        cooldowns = self.cooldowns
        cooled = [((strategy_id, s), cooldowns.get((strategy_id, s))) for s in symbols]
        seen = self.settlements_seen.get(strategy_id)
        kept = list(seen) if settled and seen is not None else None
        losses = self.losses.to_json()

        def undo() -> None:
            for name, value in zip(_RESULT_FIELDS, saved, strict=True):
                setattr(self, name, value)
            self.losses = LossHistory.from_json(losses)
            for key, until in cooled:
                if until is None:
                    self.cooldowns.pop(key, None)
                else:
                    self.cooldowns[key] = until
            if settled:
                if kept is None:
                    self.settlements_seen.pop(strategy_id, None)
                else:
                    self.settlements_seen[strategy_id] = kept
            self._quiet_inputs = None
            self._dirty = True  # the next save writes it, as it was before

        return undo

    def observe_fill(
        self, fill: Fill, closed: ClosedTrade | None, strategy_id: str | None = None
    ) -> None:
        """Feed one applied fill: cooldowns, the losing streak, and fresh exposure sums.

        Without `strategy_id` (and no closed trade naming it) the after-trade cooldown applies
        to every strategy on the symbol.
        """
        self._exposure = None
        ts = self._trade_ts(fill.ts, f"{fill.venue} trade {fill.trade_id or '(no id)'}")
        sid = strategy_id if strategy_id is not None else (closed.strategy_id if closed else "*")
        c = self.config
        if c.cooldown_after_trade_s:
            self._cool(sid, fill.symbol, ts + c.cooldown_after_trade_s * 1000)
        if closed is None:
            if self._dirty:
                self._save()
            return
        # kept by its trade: a closing sale found FAILED later takes its loss back
        key = fill_key(fill.venue, fill.trade_id, fill.side.value) if fill.trade_id else None
        self._observe_result(sid, (fill.symbol,), closed.pnl, ts, key)

    def observe_cycle(
        self,
        strategy_id: str,
        symbols: tuple[str, ...],
        pnl_usd: Decimal,
        ts: int,
        record_id: int | None = None,
    ) -> None:
        """Feed the result of one multi-leg execution (an arbitrage cycle) as one trade.

        Its legs book balances only, so this is what the losing streak and the after-loss
        cooldown (on every market of the cycle) see of it. With `record_id` (its committed
        record), a record seen already is ignored: a start tells again what a kill kept from
        the engine, and it counts once.
        """
        if record_id is not None:
            if record_id <= self.cycles_seen.get(strategy_id, 0):
                return
            self.cycles_seen[strategy_id] = record_id  # saved with the result, below
        self._exposure = None
        key = cycle_key(record_id) if record_id is not None else None
        self._observe_result(strategy_id, symbols, pnl_usd, ts, key)

    def cycle_loss_symbols(self, strategy_id: str, record_id: int) -> tuple[str, ...]:
        """The markets the loss of record `record_id` cooled down, while it is kept (else ())."""
        return self.loss_symbols(strategy_id, cycle_key(record_id))

    def loss_symbols(self, strategy_id: str, key: str) -> tuple[str, ...]:
        """The markets the loss `key` (`cycle_key`, `fill_key`) cooled down, while it is kept."""
        loss = self.losses.find(strategy_id, key)
        return loss.symbols if loss is not None else ()

    def observe_settlement(
        self, strategy_id: str, key: str, symbols: tuple[str, ...], pnl_usd: Decimal, ts: int
    ) -> bool:
        """Feed what a held position paid at its market's resolution, less what it cost, as one
        trade of `strategy_id`: a settled loss counts in the losing streak and cools `symbols`
        down, a settled gain ends the streak. `key` names the settlement; one seen already (a
        start settling again what a kill kept from the strategy's checkpoint) is ignored.
        Return whether it was new (False: seen already).
        """
        seen = self.settlements_seen.setdefault(strategy_id, [])
        if key in seen:
            return False
        seen.append(key)
        del seen[:-SETTLEMENTS_KEPT]
        self._exposure = None
        self._observe_result(strategy_id, symbols, pnl_usd, ts)
        return True

    def _observe_result(
        self, sid: str, symbols: tuple[str, ...], pnl: Decimal, ts: int, key: str | None = None
    ) -> None:
        ts = self._trade_ts(ts, f"{sid} result {key or ', '.join(symbols)}")
        c = self.config
        if pnl >= ZERO:  # a keyed win is kept: found FAILED, the streak it ended is back
            won = (sid, key, pnl) if key is not None else None
            self.losses.streak_over(ts, self.consecutive_losses, won)
            self.consecutive_losses = 0
            self._save()
            return
        self.consecutive_losses += 1
        cool_until = ts + c.cooldown_after_loss_s * 1000 if c.cooldown_after_loss_s else 0
        if key is not None:  # kept: a loss found later never to have happened is taken back
            prior = {s: self.cooldowns.get((sid, s), 0) for s in symbols}
            self.losses.add(Loss(sid, key, symbols, cool_until, prior, pnl=pnl, ts=ts))
        if cool_until:
            for symbol in symbols:
                self._cool(sid, symbol, cool_until)
        self._trip_streak(ts)

    def _trade_ts(self, ts: int, named: str) -> int:
        """`ts`, or now plus `FUTURE_TRADE_MS` for a trade dated further ahead (warned of)."""
        latest = self._clock.now_ms() + FUTURE_TRADE_MS
        if ts <= latest:
            return ts
        log.warning(
            "%s is dated %d (epoch ms), %d s ahead of the node's clock (the limit is %d s): "
            "counted at %d instead; check the venue's clock", named[:120], ts,
            (ts - latest) // 1000 + FUTURE_TRADE_MS // 1000, FUTURE_TRADE_MS // 1000, latest,
        )  # fmt: skip
        return latest

    def _trip_streak(self, ts: int) -> None:
        """Pause new entries when the losing streak reaches `max_consecutive_losses`."""
        c = self.config
        n, limit = self.consecutive_losses, c.max_consecutive_losses
        # Under a halt that lifts itself (the reconciler's, the checkpoint's) the streak counts,
        # its lift coming back REDUCING; once that is set it trips no more, as REDUCING does not.
        under_reconciler = (
            self.state is TradingState.HALTED
            and self.state_by in SELF_LIFTING_BY
            and self.halted_over is None
        )
        if n < limit or not (self.state is TradingState.ACTIVE or under_reconciler):
            self._save()
            return
        data = {"breaker": "consecutive_losses", "value": n, "limit": limit}
        self._publish(EventKind.BREAKER_TRIPPED, ts, data, None, "critical")
        pause = c.consecutive_loss_pause_s
        self.reducing_until = ts + pause * 1000 if pause else None
        until = f"; new entries resume after {pause} s" if pause else "; resume manually"
        self.reduce_after_halt(
            f"{n} consecutive losing trades reached max_consecutive_losses={limit}{until}",
            LOSS_STREAK_BY,
        )

    def _end_loss_pause(self, ts: int) -> None:
        self.reducing_until = None
        self.losses.streak_over(ts, self.consecutive_losses)
        self.consecutive_losses = 0
        self._set_state(TradingState.ACTIVE, "consecutive-loss pause is over", LOSS_STREAK_BY)
        self._publish(EventKind.BREAKER_RESET, ts, {"breaker": "consecutive_losses"}, None)

    def _cool(self, strategy_id: str, symbol: str, until: int) -> None:
        key = (strategy_id, symbol)
        if until > self.cooldowns.get(key, 0):
            self.cooldowns[key] = until
        self._dirty = True

    # equity -------------------------------------------------------------------------------------
    def observe_equity(self, ts: int, equity: Decimal) -> None:
        """Feed marked-to-market equity: day/week roll, peak, drawdown, daily loss and warning."""
        if self.provisional is not None and self.held_provisional():
            return
        rolled = ts // DAY_MS != self.day and self._roll(ts, equity)
        tracker = self.equity_tracker
        if tracker.observe(equity):
            self._dirty = True
        if (
            self.reducing_until is not None
            and ts >= self.reducing_until
            and self.state is TradingState.REDUCING
            and self.state_by == LOSS_STREAK_BY
        ):
            self._end_loss_pause(ts)
        if equity <= ZERO:
            self._no_equity(ts, equity)
        else:
            self._check_equity(ts, equity)
        if self._dirty and (
            rolled or self._counts_dirty or ts - self._last_save_ms >= _PEAK_SAVE_EVERY_MS
        ):
            self._save()

    @property
    def provisional(self) -> str | None:
        return self._provisional

    @provisional.setter
    def provisional(self, why: str | None) -> None:
        if why is None:
            self.provisional_since = None  # real quotes arrived: a later gap is held anew
        self._provisional = why

    def holding_provisional(self) -> bool:
        """Whether equity is held from the percent limits now (see `held_provisional`)."""
        since = self.provisional_since
        if self._provisional is None or since is None or since < 0:
            return False
        return self._clock.now_ms() - since < self.config.stale_data_s * 1000

    def held_provisional(self) -> bool:
        """Tell whether to hold equity from the breakers, the percent limits and the run's
        records: while `provisional` says why (a venue's holdings at another venue's price),
        for at most `stale_data_s` from the first such figure; past that the borrowed prices
        are acted on, said once. Timed by the node's clock: a quote's `ts` is the exchange's
        (an old ticker's, or a clock running ahead), which would end the hold at once or
        stretch it."""
        since, now = self.provisional_since, self._clock.now_ms()
        if since is None:
            since = self.provisional_since = now
            log.warning(
                "equity is provisional: %s; the loss and drawdown breakers and the "
                "percent-of-equity limits wait for them (at most %s s, risk.stale_data_s)",
                self.provisional,
                self.config.stale_data_s,
            )
        if now - since < self.config.stale_data_s * 1000:
            return True
        if since >= 0:
            self.provisional_since = -1  # said once: acted on from now
            log.warning(
                "equity still provisional after %s s (risk.stale_data_s): %s; the breakers "
                "act on it",
                self.config.stale_data_s,
                self.provisional,
            )
        return False

    def _check_equity(self, ts: int, equity: Decimal) -> None:
        peak = self.equity_tracker.peak
        c = self.config
        if self.day_start_equity is not None and self.day_start_equity <= ZERO:
            # The day began with no equity: it starts over from the first real figure.
            self.day_start_equity = self.week_start_equity = equity
            self._limits = None
            self._dirty = True
        day_start = self.day_start_equity
        q = self._quiet_inputs
        inputs = (
            peak,
            self.state,
            day_start,
            self.day,
            self.daily_loss_halt_day,
            self.warning_day,
            c.max_drawdown_pct,
            c.daily_loss_limit_usd,
            self.valuation.usd_per_unit,
        )
        # Every check trips only as equity falls, the other inputs fixed: with those inputs as on
        # the last evaluation that tripped nothing, and equity no lower, nothing would trip again.
        if q is not None and equity >= q[0] and q[1] == inputs:
            return
        self._quiet_inputs = None
        if self._check_equity_limits(ts, equity, peak, day_start):
            self._quiet_inputs = (equity, inputs)

    def _halted_by_other_than_reconciler(self) -> bool:
        return self.state is TradingState.HALTED and self.state_by not in SELF_LIFTING_BY

    def _reducing_for_loss(self) -> bool:
        """Whether a loss limit's REDUCING holds, or waits under the reconciler's halt."""
        if self.state is TradingState.REDUCING:
            return self.state_by in LOSS_LIMIT_BY
        over = self.halted_over
        return over is not None and over.get("by") in LOSS_LIMIT_BY

    def _no_equity(self, ts: int, equity: Decimal) -> None:
        """Zero or negative equity is no loss to measure: halt, saying what was read."""
        self._quiet_inputs = None
        if self._halted_by_other_than_reconciler():
            return
        unit = self.valuation.unit
        data = {"breaker": "no_equity", "value": plain(equity), "limit": "0"}
        self._publish(EventKind.BREAKER_TRIPPED, ts, data, None, "critical")
        self.halt(
            f"no equity: the balances are worth {fmt(equity)} {unit} (read as zero or could not "
            "be read); check the venue's balances and credentials, then `tradeguard resume`",
            NO_EQUITY_BY,
        )

    def _check_equity_limits(
        self, ts: int, equity: Decimal, peak: Decimal | None, day_start: Decimal | None
    ) -> bool:
        """Trip the drawdown and daily-loss breakers and the warning; True if none fired."""
        quiet = True
        c = self.config
        unit = self.valuation.unit
        dd_pct = self.equity_tracker.drawdown_pct(equity)
        # a loss limit's REDUCING (risk.on_loss_halt = "reduce") holds until `resume`, as its
        # halt would: falling further trips nothing again
        halted = self._halted_by_other_than_reconciler() or self._reducing_for_loss()
        if dd_pct is not None and not halted and dd_pct >= c.max_drawdown_pct:
            quiet = False
            data = {
                "breaker": "drawdown",
                "value": plain(dd_pct),
                "limit": plain(c.max_drawdown_pct),
                "peak_equity": None if peak is None else plain(peak),
                "equity": plain(equity),
                "on_loss_halt": c.on_loss_halt,
            }
            self._publish(EventKind.BREAKER_TRIPPED, ts, data, None, "critical")
            self.loss_halt(
                f"drawdown {fmt(dd_pct)}% from the equity peak {fmt(peak or ZERO)} {unit} "
                f"reached max_drawdown_pct={c.max_drawdown_pct}",
                DRAWDOWN_BY,
            )
        if day_start is None or self.day is None or day_start <= ZERO:
            return quiet
        loss = day_start - equity
        limit = self._daily_limit(day_start)
        if loss >= limit and self.daily_loss_halt_day != self.day:
            self.daily_loss_halt_day = self.day
            data = {"breaker": "daily_loss", "value": plain(loss), "limit": plain(limit),
                    "on_loss_halt": c.on_loss_halt}  # fmt: skip
            self._publish(EventKind.BREAKER_TRIPPED, ts, data, None, "critical")
            if not self._halted_by_other_than_reconciler():
                self.loss_halt(
                    f"daily loss {fmt(loss)} {unit} reached the limit {fmt(limit)} {unit} "
                    f"(counted from the day's opening equity {fmt(day_start)} {unit}, price "
                    "moves of holdings included)",
                    DAILY_LOSS_BY,
                )
            else:  # no state change commits it: written now, or a crash allows a resume today
                self._save_now()
            return False
        if loss >= limit * self._warn_frac and self.warning_day != self.day:
            self.warning_day = self.day
            self._dirty = True
            used = (loss / limit * _HUNDRED).quantize(Decimal("0.1"), ROUND_HALF_EVEN)
            data = {
                "warning": "daily_loss",
                "value": plain(loss),
                "limit": plain(limit),
                "used_pct": plain(used),
            }
            self._publish(EventKind.RISK_WARNING, ts, data, None, "warning")
            return False
        return quiet

    def move_baselines(
        self, value: Decimal, flows_seen: int, seen: Sequence[tuple[int, Decimal]] = ()
    ) -> None:
        """Move what equity is compared with (the day's and week's opening equity, the peak and
        the last figure, which opens the next day) by money moved in (+) or out (-) from
        outside, so the loss limits and the drawdown see trading only; with `flows_seen`, the
        newest balance adjustment counted, saved at once so a start counts none twice. `seen`:
        (when booked, amount) of the parts of `value` the last figure holds already (withdrawals
        declared after the balance check booked them): the last figure keeps them, and a day or
        week that opened after the booking opened without them."""
        if value:
            moves = {"day_start_equity": value, "week_start_equity": value}
            for ts, amount in seen:
                if ts // DAY_MS != self.day:
                    moves["day_start_equity"] -= amount
                if iso_week(ts) != self.week:
                    moves["week_start_equity"] -= amount
            for name, move in moves.items():
                if getattr(self, name) is not None:
                    setattr(self, name, getattr(self, name) + move)
            self.equity_tracker.shift(value, value - sum((a for _, a in seen), ZERO))
            self._limits = None
            self._quiet_inputs = None
        self.flows_seen = flows_seen
        self._save()

    def _roll(self, ts: int, equity: Decimal) -> bool:
        day = ts // DAY_MS
        if day == self.day:
            return False
        # Start the new day from the last equity seen, i.e. as marked at the boundary.
        last = self.equity_tracker.last
        start = last if last is not None else equity
        self.day = day
        self.day_start_equity = start
        self._limits = None
        self.trades_today = 0
        week = iso_week(ts)
        if week != self.week:
            self.week = week
            self.week_start_equity = start
        self._dirty = True
        return True

    def _usd_limit(self, usd: Decimal | None) -> Decimal | None:
        """A USD limit in valuation units, or None while no USD price is known."""
        k = self.valuation.usd_per_unit
        if usd is None or k is None:
            return None
        return usd if self.valuation.is_usd else usd / k

    def _daily_limit(self, day_start: Decimal) -> Decimal:
        limit = day_start * self._daily_frac
        usd = self._usd_limit(self.config.daily_loss_limit_usd)
        if usd is not None and usd < limit:
            return usd
        return limit

    def _weekly_limit(self, week_start: Decimal) -> Decimal | None:
        limits = []
        if self._weekly_frac is not None:
            limits.append(week_start * self._weekly_frac)
        usd = self._usd_limit(self.config.weekly_loss_limit_usd)
        if usd is not None:
            limits.append(usd)
        return min(limits) if limits else None

    def loss_limit_warnings(self, equity: Decimal, held: Decimal) -> list[str]:
        """Say which loss limits an ordinary day's move of `held` (valued in the valuation
        asset, like `equity`) would reach on its own (see `limit_fit`)."""
        return loss_limit_warnings(
            self.config, equity, held, self.valuation.unit, self._daily_limit,
            self._weekly_limit, self._usd_limit,
        )  # fmt: skip

    # venues -------------------------------------------------------------------------------------
    def observe_venue_error(self, venue: str, ts: int, error: str) -> None:
        """Count a failed venue call; enough of them in the window open the venue's breaker."""
        breaker = self.venue_breakers.get(venue)
        if breaker is None:
            breaker = self.venue_breakers[venue] = VenueBreaker()
        was = breaker.state
        if breaker.on_error(ts, error, self.config.venue_error_threshold, self._window_ms):
            self._venue_tripped(venue, ts, error, was)

    def observe_venue_refusal(self, venue: str, ts: int, code: str, error: str) -> None:
        """Feed a definitive refusal: refused credentials open the venue's breaker at once.

        A refused account is the venue's fault state, never a trading loss; other refusals
        (insufficient funds, a bad order) say nothing about the venue and are not counted.
        """
        if code not in ACCOUNT_REFUSALS:
            return
        breaker = self.venue_breakers.get(venue)
        if breaker is None:
            breaker = self.venue_breakers[venue] = VenueBreaker()
        was = breaker.state
        if breaker.trip(ts, error):
            self._venue_tripped(venue, ts, error, was)

    def _venue_tripped(self, venue: str, ts: int, error: str, was: str) -> None:
        data = {
            "breaker": "venue_errors",
            "venue": venue,
            "error": error,
            "was": was,
            "half_open_after_s": self.config.venue_half_open_after_s,
        }
        self._publish(EventKind.BREAKER_TRIPPED, ts, data, None, "critical")
        self._save()

    def observe_venue_ok(self, venue: str, ts: int) -> None:
        """Record a successful venue call; it closes a half-open breaker."""
        breaker = self.venue_breakers.get(venue)
        if breaker is not None and breaker.on_ok():
            data = {"breaker": "venue_errors", "venue": venue}
            self._publish(EventKind.BREAKER_RESET, ts, data, None)
            self._save()
