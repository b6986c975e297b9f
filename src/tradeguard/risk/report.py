"""The risk snapshot for the API and dashboard: state, every breaker and each limit's use."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from tradeguard.model.money import ZERO, fmt, plain
from tradeguard.risk.observers import RiskObservers
from tradeguard.risk.state import FLATTEN_WAITS, RECONCILER_BY, day_label, resume_day

_HUNDRED = Decimal(100)


def _used(
    value: Decimal | None, limit: Decimal | None, unit: str, whole: bool = False
) -> dict[str, Any]:
    """`whole`: a count (trades), shown without decimals."""
    pct = None
    if value is not None and limit:
        pct = plain((value / limit * _HUNDRED).quantize(Decimal("0.1"), ROUND_HALF_EVEN))
    show = (lambda d: str(int(d))) if whole else fmt
    return {
        "used": None if value is None else show(value),
        "limit": None if limit is None else show(limit),
        "unit": unit,
        "used_pct": pct,
    }


def _losses(engine: RiskObservers) -> tuple[dict[str, Any], dict[str, Any]]:
    equity, unit = engine.last_equity, engine.valuation.unit
    daily: dict[str, Any] = {"used": None, "limit": None, "unit": unit, "used_pct": None}
    weekly = dict(daily)
    day_start, week_start = engine.day_start_equity, engine.week_start_equity
    if equity is not None and day_start is not None:
        limit = engine._daily_limit(day_start)
        daily = _used(max(ZERO, day_start - equity), limit, unit)
    if equity is not None and week_start is not None:
        weekly = _used(max(ZERO, week_start - equity), engine._weekly_limit(week_start), unit)
    return daily, weekly


def loss_halt_view(
    last: dict[str, Any] | None,
    kill: dict[str, Any] | None,
    state_by: str,
    counts: bool = True,
    resume_from: int | None = None,
) -> dict[str, Any] | None:
    """The last loss-limit trip (`risk.on_loss_halt`) with what it did (`did`, one line) and
    whether it still holds the trading state (`holds`); None when none tripped. `counts`:
    a flatten's account-wide figures (positions closed, failures) in `did`; a bot's view has
    none. `resume_from`: the day before which the daily loss limit refuses a resume (it may
    have tripped with the drawdown limit this trip names), said in `did` (risk.state.resume_day).
    """
    if not isinstance(last, dict) or "mode" not in last:
        return None
    mode = str(last["mode"])
    if mode == "reduce":
        did = "REDUCING: no new exposure; exits, stops and reduce-only orders still go"
        if state_by == RECONCILER_BY:
            did = (
                "REDUCING once reconciliation succeeds (HALTED by the failed reconciliation "
                "until then): no new exposure; exits, stops and reduce-only orders go"
            )
    elif mode == "halt":
        did = "HALTED: nothing is sent, exits included, until `tradeguard resume`"
        if resume_from is not None:
            did += f", which the daily loss limit refuses before {day_label(resume_from)} 00:00 UTC"
    else:
        did = _flatten_did(last, kill, counts)
    return {**last, "did": did, "holds": state_by == last.get("by")}


def _flatten_did(last: dict[str, Any], kill: dict[str, Any] | None, counts: bool) -> str:
    if not (isinstance(kill, dict) and kill.get("ts") == last.get("ts")):
        return "HALTED, flattening every open position (not finished yet)"
    if not kill.get("finished_ts"):
        if kill.get("unfinished") == FLATTEN_WAITS:
            return ("HALTED; the flatten of every open position waits for a reconciliation "
                    "that succeeds (nothing is closed from a book not reconciled)")  # fmt: skip
        return "HALTED, flattening every open position (not finished yet)"
    if not counts:
        return "HALTED after flattening every open position"
    closed = len(kill.get("closed_positions") or [])
    failed = len(kill.get("failed") or [])
    did = f"HALTED after flattening: {closed} position(s) closed"
    return did + (f", {failed} failure(s) (see the kill report)" if failed else "")


def snapshot(engine: RiskObservers, stale_symbols: list[str], now: int) -> dict[str, Any]:
    """Describe the state, every breaker and each limit's use."""
    c = engine.config
    equity = engine.last_equity
    daily, weekly = _losses(engine)
    drawdown: dict[str, Any] = {"used": None, "limit": plain(c.max_drawdown_pct), "unit": "%"}
    dd = engine.equity_tracker.drawdown_pct()
    if dd is not None and engine.peak_equity is not None:
        drawdown = _used(dd, c.max_drawdown_pct, "%")
        drawdown["peak_equity"] = fmt(engine.peak_equity)
    trades_limit = c.max_trades_per_day
    halted_day = engine.daily_loss_halt_day
    return {
        "state": engine.state.value,
        "reason": engine.state_reason,
        "by": engine.state_by,
        "since_ts": engine.state_ts,
        "equity": None if equity is None else fmt(equity),
        "valuation_asset": engine.valuation.asset,
        "breakers": {
            "consecutive_losses": {
                "value": engine.consecutive_losses,
                "limit": c.max_consecutive_losses,
                "tripped": engine.consecutive_losses >= c.max_consecutive_losses,
            },
            "drawdown": drawdown,
            "daily_loss": {
                **daily,
                "halted_day": None if halted_day is None else day_label(halted_day),
                "warning_sent": engine.warning_day is not None and engine.warning_day == engine.day,
            },
            "venues": {
                v: {
                    "state": b.state,
                    "errors_in_window": len(b.failures),
                    "threshold": c.venue_error_threshold,
                    "opened_ts": b.opened_ts or None,
                    "last_error": b.last_error,
                }
                for v, b in engine.venue_breakers.items()
            },
            "stale_symbols": stale_symbols,
        },
        "limits": {
            "daily_loss": daily,
            "weekly_loss": weekly,
            "trades_today": _used(
                Decimal(engine.trades_today),
                None if trades_limit is None else Decimal(trades_limit),
                "trades",
                whole=True,
            ),
            "max_order_notional_usd": plain(c.max_order_notional_usd),
            "max_order_notional_pct": plain(c.max_order_notional_pct),
            "max_open_positions": c.max_open_positions,
            "max_portfolio_heat_pct": plain(c.max_portfolio_heat_pct),
        },
        "cooldowns": [
            {"strategy_id": s, "symbol": sym, "until_ts": u}
            for (s, sym), u in sorted(engine.cooldowns.items())
            if u > now
        ],
        "last_resume": engine.last_resume,
        "last_kill": engine.last_kill,
        "on_loss_halt": c.on_loss_halt,
        "loss_halt": loss_halt_view(
            engine.last_loss_halt,
            engine.last_kill,
            engine.state_by,
            resume_from=resume_day(engine.daily_loss_halt_day, now),
        ),
        "unset_limits": c.unset_limits(),
    }
