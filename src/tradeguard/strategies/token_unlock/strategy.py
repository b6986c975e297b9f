"""Token-unlock front-running: be out of (or short) a token around its large unlocks.

Spot (the default, `short = false`): hold a long of `position_pct` % of equity in each token
outside its unlock windows; sell `lead_h` hours before an unlock of at least `min_supply_pct` %
of the circulating supply and buy back `lag_h` hours after it. Short (`short = true`, only on a
venue that lends): open a short `lead_h` hours before such an unlock and buy it back `lag_h`
hours after. In both, stop-loss, take-profit and a trailing stop (`strategies/exits.py`) close a
position early; after such an exit a spot holder waits `reentry_cooldown_h` hours and a short is
not re-opened in the same window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.market import Candle, Quote
from tradeguard.model.money import STABLECOINS, dec, quantize_down
from tradeguard.model.order import OrderIntent
from tradeguard.model.position import Position
from tradeguard.strategies.base import Strategy, register
from tradeguard.strategies.exits import ExitRules, ExitTracker, TickGuard
from tradeguard.strategies.token_unlock.calendar import load_calendar
from tradeguard.strategies.token_unlock.schedule import UnlockSchedule, Window

_KNOWN = frozenset(
    {
        "calendar", "symbols", "min_supply_pct", "lead_h", "lag_h", "short", "position_pct",
        "min_order_usd", "quote_usd", "reentry_cooldown_h", "stop_loss_pct", "take_profit_pct",
        "trailing_stop_pct", "trailing_activation_pct", "max_tick_move_pct",
    }
)  # fmt: skip
_HOUR_MS = 3_600_000
# Sized below position_pct so that the risk engine's protective price bound on a market order
# (risk.market_slippage_cap_pct, 1 % by default) keeps it within max_order_notional_pct.
_HEADROOM = Decimal("0.98")
_RETRY_MS = _HOUR_MS  # an entry the risk engine or the venue refused is tried again after this
_EXIT_REASONS = ("stop_loss", "take_profit", "trailing_stop")
# A quote stamped further than this ahead of the market time moves it only once another
# message (not a repeat of it) is that far ahead too: one bad timestamp would end every window.
_MAX_TIME_JUMP_MS = _HOUR_MS
# The same for a candle: replays and restarts skip days between candles, so only a stamp this
# far ahead (a bad one, or a gap in the data of over a month) waits for a second candle.
_MAX_CANDLE_JUMP_MS = 30 * 24 * _HOUR_MS


def _dec_param(params: dict[str, Any], key: str, default: str, lo: str, hi: str) -> Decimal:
    value = dec(params.get(key, default), field=key)
    # NaN compares as an error, not as False: test finiteness first
    if not value.is_finite() or not Decimal(lo) <= value <= Decimal(hi):
        raise ValueError(f"strategy param {key} = {value}: must be in [{lo}, {hi}]")
    return value


def _symbols(params: dict[str, Any], default: str) -> tuple[str, ...]:
    raw = params.get("symbols", [default])
    if not isinstance(raw, list) or not raw or len(raw) > 100:
        raise ValueError(f"strategy param symbols = {raw!r}: must be a list of 1-100 symbols")
    for s in raw:
        if not isinstance(s, str) or s.count("/") != 1 or not all(s.split("/")):
            raise ValueError(f"strategy param symbols: {s!r} is not a symbol like ETH/BTC")
    if len(set(raw)) != len(raw):
        raise ValueError(f"strategy param symbols = {raw!r}: a symbol is listed twice")
    return tuple(raw)


@dataclass(slots=True)
class _Slot:
    """What the strategy remembers about one symbol between candles."""

    tracker: ExitTracker | None = None
    resume_ms: int = 0  # no spot entry before this (after a stop-loss / take-profit exit)
    next_try_ms: int = 0  # no entry attempt before this (after one was sent)
    spent: set[str] = field(default_factory=set)  # windows whose short was already opened
    passed: str = ""  # the window a spot holder sat out, until the entry after it
    guard: TickGuard = field(default_factory=TickGuard)  # holds back a lone absurd price
    quote_ts: int = 0  # the time of the last quote acted on: an older one came late
    late: tuple[int, Decimal] | None = None  # (ts, mid) of an older quote just ignored
    ahead_ms: int = 0  # the time of a message stamped far ahead of the market time, held back

    def to_json(self) -> dict[str, Any]:
        t = self.tracker
        return {
            "tracker": None
            if t is None
            else {
                "entry": str(t.entry),
                "long": t.long,
                "best": str(t.best),
                "trailing_armed": t.trailing_armed,
            },
            "resume_ms": self.resume_ms,
            "next_try_ms": self.next_try_ms,
            "spent": sorted(self.spent),
            "passed": self.passed,
            "last_price": str(self.guard.last),
            # a quote sent before a restart and delivered after it is still a late one
            "quote_ts": self.quote_ts,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any], rules: ExitRules, guard: TickGuard) -> _Slot:
        guard.last = Decimal(str(doc.get("last_price", "0")))
        slot = cls(
            resume_ms=int(doc.get("resume_ms", 0)),
            next_try_ms=int(doc.get("next_try_ms", 0)),
            spent=set(doc.get("spent", [])),
            passed=str(doc.get("passed", "")),
            guard=guard,
            quote_ts=int(doc.get("quote_ts", 0)),
        )
        t = doc.get("tracker")
        if t:
            slot.tracker = ExitTracker(rules, Decimal(t["entry"]), long=bool(t["long"]))
            slot.tracker.best = Decimal(t["best"])
            slot.tracker.trailing_armed = bool(t["trailing_armed"])
        return slot


@register("token_unlock")
class TokenUnlock(Strategy):
    """Out of (or short) each token around its large unlocks; parameters validated here."""

    path_params = ("calendar",)

    def __init__(self, strategy_id: str, venue: str, symbol: str, params: dict[str, Any]) -> None:
        super().__init__(strategy_id, venue, symbol, params)
        unknown = set(params) - _KNOWN
        if unknown:
            raise ValueError(
                f"unknown token_unlock params {sorted(unknown)}; known: {sorted(_KNOWN)}"
            )
        if not isinstance(params.get("calendar"), str) or not params["calendar"]:
            raise ValueError("strategy param calendar is missing: the path of a .csv or .json file")
        short = params.get("short", False)
        if not isinstance(short, bool):
            raise ValueError(f"strategy param short = {short!r}: must be true or false")
        self.short = short
        self.min_pct = _dec_param(params, "min_supply_pct", "2", "0.01", "100")
        self.lead_h = _dec_param(params, "lead_h", "24", "0", "720")
        self.lag_h = _dec_param(params, "lag_h", "24", "0", "720")
        self.position_pct = _dec_param(params, "position_pct", "20", "0.1", "100")
        self.min_order_usd = _dec_param(params, "min_order_usd", "50", "0", "10000000")
        self.quote_usd = (
            _dec_param(params, "quote_usd", "1", "0.00000001", "100000000")
            if "quote_usd" in params
            else None
        )
        self.cooldown_ms = int(
            _dec_param(params, "reentry_cooldown_h", "24", "0", "720") * _HOUR_MS
        )
        self.rules = ExitRules(
            stop_loss_pct=_dec_param(params, "stop_loss_pct", "2", "0", "100"),
            take_profit_pct=_dec_param(params, "take_profit_pct", "5", "0", "1000"),
            trailing_stop_pct=_dec_param(params, "trailing_stop_pct", "1.5", "0", "100"),
            trailing_activation_pct=_dec_param(params, "trailing_activation_pct", "3", "0", "1000"),
        )
        self.max_tick_move_pct = _dec_param(params, "max_tick_move_pct", "50", "0", "90")
        self._symbols = _symbols(params, symbol)
        events = load_calendar(params["calendar"])
        self.schedules: dict[str, UnlockSchedule] = {}
        for sym in self._symbols:
            token = sym.split("/")[0]
            sched = UnlockSchedule(
                (e for e in events if e.token == token), self.min_pct, self.lead_h, self.lag_h
            )
            if not sched.windows:
                raise ValueError(
                    f"strategy param symbols: {sym} has no unlock of at least "
                    f"min_supply_pct={self.min_pct}% in {params['calendar']}; drop the symbol "
                    "or lower min_supply_pct"
                )
            self.schedules[sym] = sched
        self._slots = {sym: _Slot(guard=self._guard(sym)) for sym in self._symbols}
        # The latest market time seen. A fast replay's candles run ahead of the wall-clock
        # stamps of its quotes; unlock windows are read on market time, which never goes back.
        self._market_ms = 0

    def _guard(self, sym: str) -> TickGuard:
        return TickGuard(self.max_tick_move_pct, sym)

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    def on_candle(self, candle: Candle) -> None:
        slot = self._slots.get(candle.symbol)
        if slot is not None and self._in_time(slot, candle.close_ts, _MAX_CANDLE_JUMP_MS):
            self._step(candle.symbol, candle.close, candle.close_ts)

    def on_ticker(self, quote: Quote) -> None:
        if quote.symbol in self._slots and quote.bid > 0 and quote.ask > 0:
            slot = self._slots[quote.symbol]
            late = self._late(slot, quote.ts, quote.mid)
            if late or not self._in_time(slot, quote.ts, _MAX_TIME_JUMP_MS):
                return  # delivered out of order, or stamped far ahead (see _in_time)
            slot.quote_ts = quote.ts
            self._step(quote.symbol, quote.mid, quote.ts)

    # decisions ------------------------------------------------------------------------------
    def _step(self, sym: str, price: Decimal, ts: int) -> None:
        ctx = self.ctx
        if not self._slots[sym].guard.accept(price, ts):
            return  # a lone price far from the last: acted on once another message confirms it
        ts = self._market_ms = max(ts, self._market_ms)
        if ctx is None or self.muted or ctx.open_order_count(self.id, sym):
            return
        pos = ctx.position(self.id, self.venue, sym)
        slot = self._slots[sym]
        window = self.schedules[sym].window_at(ts)
        if pos.quantity and not self._dust(sym, pos.quantity):
            self._manage(sym, slot, pos, window, price, ts)
            return
        if slot.tracker is not None:  # flat again: a restart must not bring the old one back
            slot.tracker = None
            self.save_soon()
        if not self.short and window is not None:
            slot.passed = window.event.key
        if ts < slot.next_try_ms:
            return
        if self.short:
            if window is None or window.event.key in slot.spent:
                return
            reason = "unlock_ahead"
        else:
            if window is not None or ts < slot.resume_ms:
                return
            window = self.schedules[sym].by_key(slot.passed)
            reason = "unlock_passed" if window is not None else "outside_unlock_window"
        if self._open(sym, price, ts, reason, window):
            slot.next_try_ms = ts + _RETRY_MS
            slot.passed = ""
            self.save_soon()

    @staticmethod
    def _late(slot: _Slot, ts: int, mid: Decimal) -> bool:
        """Whether a quote at `ts` came out of order: older than the last one acted on, and the
        first such (or a repeat of it: same time and price). A second older one in a row means
        the stamps went back (a reconnect, a REST fallback stamped with the venue's last trade,
        or the last one was stamped ahead): it is acted on, not the market lost."""
        if ts >= slot.quote_ts:
            slot.late = None
            return False
        if slot.late is None or slot.late == (ts, mid):
            slot.late = (ts, mid)
            return True
        slot.late = None
        return False

    def _in_time(self, slot: _Slot, ts: int, jump_ms: int) -> bool:
        """Whether a message of `slot`'s symbol at `ts` may be acted on; the first one over
        `jump_ms` ahead of the market time is held back until a second message of that symbol
        is that far ahead too (the last message of a stream included: it is never acted on)."""
        far = self._market_ms and ts > self._market_ms + jump_ms
        if far and (not slot.ahead_ms or ts == slot.ahead_ms):
            slot.ahead_ms = ts  # the first (or a repeat): wait for a second message
            return False
        slot.ahead_ms = 0  # a message in time, or a second far ahead, ends the hold
        return True

    def _manage(
        self, sym: str, slot: _Slot, pos: Position, window: Window | None, price: Decimal, ts: int
    ) -> None:
        long = pos.quantity > 0
        t = slot.tracker
        if t is None or t.entry != pos.avg_entry or t.long != long:
            t = slot.tracker = ExitTracker(self.rules, pos.avg_entry, long=long)
        if not long and window is not None:
            slot.spent.add(window.event.key)
        reason = t.update(price)
        if t.take_moved():
            self.save_soon()
        if reason is None and long and window is not None:
            reason = "unlock_ahead"
            slot.passed = window.event.key
        if reason is None and not long and window is None:
            reason = "unlock_passed"
        if reason is None:
            return
        self.save_soon()  # the cooldown and the windows traded: a restart must not trade again
        levels = None
        if reason in _EXIT_REASONS:
            levels = {"entry": str(t.entry), "best": str(t.best)}
            if long:
                slot.resume_ms = ts + self.cooldown_ms
        self._close(sym, pos.quantity, price, ts, reason, window, levels)

    def _dust(self, sym: str, qty: Decimal) -> bool:
        """A long of which nothing can be sold (the balance has not caught up with the fill).

        The portfolio already nets a fee kept in base and flattens a remainder below the lot
        step; this guards the moment the free balance lags the position."""
        return qty > 0 and self._sellable(sym, qty) <= 0

    def _sellable(self, sym: str, qty: Decimal) -> Decimal:
        assert self.ctx is not None
        amount = min(qty, self.ctx.free(self.venue, sym.split("/")[0]))
        inst = self.ctx.instrument(self.venue, sym)
        return quantize_down(amount, inst.amount_step) if inst is not None else amount

    # orders ---------------------------------------------------------------------------------
    def _entry_amount(self, sym: str, price: Decimal) -> Decimal:
        assert self.ctx is not None
        quote = sym.split("/")[1]
        budget = self.ctx.equity() * self.position_pct / 100
        if not self.short:
            budget = min(budget, self.ctx.free(self.venue, quote))
        inst = self.ctx.instrument(self.venue, sym)
        step = inst.amount_step if inst else Decimal("0.00000001")
        amount = quantize_down(budget * _HEADROOM / price, step)
        usd = self.quote_usd or (Decimal(1) if quote in STABLECOINS else None)
        if usd is not None and amount * price * usd < self.min_order_usd:
            return Decimal(0)
        return amount

    def _open(self, sym: str, price: Decimal, ts: int, reason: str, window: Window | None) -> bool:
        amount = self._entry_amount(sym, price)
        if amount <= 0:
            return False
        side = Side.SELL if self.short else Side.BUY
        stop, take = self.rules.levels(price, long=not self.short)
        self.emit(
            OrderIntent(
                strategy_id=self.id, venue=self.venue, symbol=sym, side=side, amount=amount,
                type=OrderType.MARKET, stop_loss=stop, take_profit=take,
                signal=self._signal(sym, reason, price, ts, window),
            )
        )  # fmt: skip
        return True

    def _close(
        self,
        sym: str,
        qty: Decimal,
        price: Decimal,
        ts: int,
        reason: str,
        window: Window | None,
        levels: dict[str, str] | None = None,
    ) -> None:
        assert self.ctx is not None
        if qty > 0:
            amount = self._sellable(sym, qty)
        else:
            inst = self.ctx.instrument(self.venue, sym)
            amount = quantize_down(-qty, inst.amount_step) if inst is not None else -qty
        if amount <= 0:
            return
        signal = self._signal(sym, reason, price, ts, window)
        if levels is not None:
            signal["position"] = levels  # the entry and best price the exit rule measured from
        self.emit(
            OrderIntent(
                strategy_id=self.id, venue=self.venue, symbol=sym,
                side=Side.SELL if qty > 0 else Side.BUY, amount=amount, type=OrderType.MARKET,
                reduce_only=True, signal=signal,
            )
        )  # fmt: skip

    def _signal(
        self, sym: str, reason: str, price: Decimal, ts: int, window: Window | None
    ) -> dict[str, Any]:
        sig: dict[str, Any] = {"reason": reason, "price": str(price), "ts": ts}
        target = window or self.schedules[sym].next_window(ts)
        if target is not None:
            e = target.event
            sig["unlock"] = {
                "token": e.token, "time_utc": e.when, "pct_of_supply": str(e.pct_of_supply),
                "source_url": e.source_url,
            }  # fmt: skip
        return sig

    # crash safety ---------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "slots": {sym: slot.to_json() for sym, slot in self._slots.items()},
            "market_ms": self._market_ms,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self._market_ms = max(self._market_ms, int(state.get("market_ms", 0)))
        for sym, doc in (state.get("slots") or {}).items():
            if sym in self._slots:
                self._slots[sym] = _Slot.from_json(doc, self.rules, self._guard(sym))
