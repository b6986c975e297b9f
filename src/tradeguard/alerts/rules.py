"""Turn engine events into operator alerts: pure functions, readable texts, no secrets."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from tradeguard.model.events import Event, EventKind
from tradeguard.model.text import NAME_CHARS, SNIPPET, one_line
from tradeguard.secrets.redact import redact

SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True, slots=True)
class Alert:
    """One message for the operator; `dedupe_key` groups repeats for rate limiting."""

    rule: str
    title: str
    text: str
    severity: str
    dedupe_key: str
    ts: int = 0
    # stable across restarts (kept with the alert until delivered): a receiver drops repeats by it
    id: str = ""


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _money(value: Any) -> str:
    d = _dec(value)
    if d is None:
        return "?"
    return f"{d.quantize(Decimal('0.01')):,}"


def _signed(value: Any) -> str:
    d = _dec(value)
    if d is None:
        return "?"
    q = d.quantize(Decimal("0.01"))
    return f"+{q:,}" if q > 0 else f"{q:,}"


def _pct(value: Any, signed: bool = False, step: str = "0.1") -> str:
    d = _dec(value)
    if d is None:
        return "?"
    q = d.quantize(Decimal(step))
    return f"+{q}%" if signed and q > 0 else f"{q}%"


def _plain(value: Any) -> str:
    d = _dec(value)
    if d is None:
        return str(value) if value not in (None, "") else "?"
    # Drop trailing zeros without switching to scientific notation.
    text = f"{d:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _quote(symbol: str) -> str:
    """Return the quote currency of `BTC/USDT` (or `BTC/USDT:USDT`); USD when unknown."""
    if "/" not in symbol:
        return "USD"
    return symbol.split("/", 1)[1].split(":", 1)[0] or "USD"


def _where(event: Event) -> str:
    return f" on {event.venue}" if event.venue else ""


def _position_opened(e: Event) -> Alert:
    d = e.data
    side = d.get("side", "?")
    text = (
        f"Position opened: {e.symbol} {side} {_plain(d.get('quantity'))} "
        f"@ {_plain(d.get('entry_price'))}{_where(e)}"
    )
    extras = []
    if d.get("stop_loss"):
        extras.append(f"stop {_plain(d['stop_loss'])}")
    if d.get("take_profit"):
        extras.append(f"take profit {_plain(d['take_profit'])}")
    if extras:
        text += f" ({', '.join(extras)})"
    if e.strategy_id:
        text += f" [strategy {e.strategy_id}]"
    return Alert(
        "position_opened",
        f"Position opened: {e.symbol} {side}",
        text,
        "info",
        f"position_opened:{e.venue}:{e.symbol}:{e.strategy_id}:{e.ts}",
        e.ts,
    )


def _position_closed(e: Event) -> Alert:
    d = e.data
    side = d.get("side", "?")
    ccy = _quote(e.symbol)
    text = (
        f"Position closed: {e.symbol} {side}, P&L {_signed(d.get('pnl'))} {ccy} "
        f"({_pct(d.get('pnl_pct'), signed=True)})"
    )
    if d.get("entry_price") is not None and d.get("exit_price") is not None:
        text += f", entry {_plain(d['entry_price'])} exit {_plain(d['exit_price'])}"
    text += _where(e)
    if e.strategy_id:
        text += f" [strategy {e.strategy_id}]"
    pnl = _dec(d.get("pnl"))
    return Alert(
        "position_closed",
        f"Position closed: {e.symbol} {side}",
        text,
        "warning" if pnl is not None and pnl < 0 else "info",
        f"position_closed:{e.venue}:{e.symbol}:{e.strategy_id}:{e.ts}",
        e.ts,
    )


def _daily_loss_warning(e: Event) -> Alert | None:
    d = e.data
    if d.get("rule", d.get("warning")) != "daily_loss":
        return None
    text = f"Daily loss at {_pct(d.get('used_pct'))} of the limit"
    if d.get("value") is not None and d.get("limit") is not None:
        text += f": {_money(d['value'])} of {_money(d['limit'])} USD"
    text += "; trading halts when the limit is reached"
    return Alert(
        "daily_loss_warning",
        "Daily loss warning",
        text,
        "warning",
        "daily_loss_warning",
        e.ts,
    )


def _breaker_tripped(e: Event) -> Alert:
    d = e.data
    name = str(d.get("breaker", "?"))
    venue = str(d.get("venue") or e.venue or "")
    text = f"Circuit breaker tripped: {name}"
    if venue:
        text += f" on {venue}"
    if d.get("value") is not None and d.get("limit") is not None:
        text += f" (value {_plain(d['value'])}, limit {_plain(d['limit'])})"
    elif d.get("age_s") is not None:
        text += f" (data age {_plain(d['age_s'])} s, limit {_plain(d.get('limit_s'))} s)"
    if d.get("error"):
        text += f": {d['error']}"
    if e.symbol:
        text += f" [{e.symbol}]"
    return Alert(
        "breaker_tripped",
        f"Breaker tripped: {name}",
        text,
        "critical" if e.severity == "critical" else "warning",
        f"breaker_tripped:{name}:{venue}:{e.symbol}",
        e.ts,
    )


def _cash_flow(e: Event) -> Alert:
    """Outside money: a transfer recorded (`tradeguard transfer`), or one the node counted."""
    d, venue = e.data, one_line(e.venue or "?", NAME_CHARS)
    asset = one_line(str(d.get("asset", "?")), NAME_CHARS)
    if e.kind == "ledger.transfer_recorded":
        title = f"Transfer recorded: {d.get('kind', '?')} on {venue}"
        text = (f"Transfer recorded: {d.get('kind', '?')} of {_plain(d.get('amount'))} {asset} "
                f"on {venue} by {one_line(str(d.get('by', '?')), NAME_CHARS)}: "
                f"{one_line(str(d.get('reason', '')))}")  # fmt: skip
    elif e.severity == "critical":  # said in full: the asset's name is cut, not the advice
        title, amount = f"Cash flow on {venue}: {asset}", _plain(d.get("amount"))
        text = (f"Cash flow: {venue} {asset} {amount} left the account with no transfer "
                "declared, counted as a loss; a known withdrawal is declared with the node "
                f"stopped: `tradeguard transfer --venue {venue} --asset {asset} --amount "
                f"{amount} --reason ...`")  # fmt: skip
    else:
        title = f"Cash flow on {venue}: {asset}"
        text = f"Cash flow: {one_line(str(d.get('reason', '')), 2 * SNIPPET)}"
    severity = "critical" if e.severity == "critical" else "warning"
    # one key per flow (a transfer, an adjustment counted): a limit holds back its repeats only
    flow = d.get("adjustment", e.ts)
    if "waiting_since" in d:  # the day's reminder of one waiting for a price: its own key
        flow = f"{flow}:waiting:{e.ts // 86_400_000}"
    return Alert("cash_flow", title, text, severity, f"cash_flow:{e.kind}:{venue}:{flow}", e.ts)


def _kill(e: Event) -> Alert:
    d = e.data
    stage = d.get("stage", "triggered")
    if stage == "done":
        failed = d.get("failed") or []
        text = (
            f"Kill switch done: {len(d.get('cancelled') or [])} orders cancelled, "
            f"{len(d.get('closed_positions') or [])} positions closed, {len(failed)} failures"
        )
        for item in failed[:5]:
            if isinstance(item, dict):
                text += f"\n- {item.get('id', '?')}: {item.get('reason', '?')}"
        title = "Kill switch done"
    else:
        flatten = " and flatten positions" if d.get("flatten") else ""
        text = (
            f"Kill switch triggered by {d.get('by', '?')}: {d.get('reason', '?')}. "
            f"Trading is HALTED; cancelling open orders{flatten}"
        )
        title = "Kill switch triggered"
    return Alert("kill_switch", title, text, "critical", f"kill_switch:{stage}:{e.ts}", e.ts)


def _order_failed(e: Event) -> Alert:
    d = e.data
    order = (
        f"{e.symbol} {d.get('side', '?')} {_plain(d.get('amount'))}"
        + (f" @ {_plain(d['price'])}" if d.get("price") else "")
        + _where(e)
    )
    cid = d.get("client_order_id", "")
    if e.kind == EventKind.ORDER_UNKNOWN:
        title = f"Order state unknown: {e.symbol}"
        text = (
            f"Order state unknown: {order} ({cid}); new orders on {e.symbol} are blocked "
            "until it is reconciled (tradeguard reconcile)"
        )
        severity = "critical"
    else:
        title = f"Order rejected: {e.symbol}"
        reason = d.get("reason") or "no reason given"
        text = f"Order rejected: {order} ({cid}): {reason}"
        severity = "warning"
    return Alert("order_failed", title, text, severity, f"order_failed:{e.venue}:{e.symbol}", e.ts)


def _venue_error(e: Event) -> Alert:
    d = e.data
    venue = e.venue or "?"
    text = f"Venue error on {venue}"
    if e.symbol:
        text += f" ({e.symbol})"
    text += f": {d.get('error', 'unknown error')}"
    if d.get("client_order_id"):
        text += f" [order {d['client_order_id']}]"
    return Alert(
        "venue_error", f"Venue error: {venue}", text, "warning", f"venue_error:{venue}", e.ts
    )


def _swap_held(e: Event) -> Alert:
    d = e.data
    venue = e.venue or "?"
    tx = str(d.get("tx_hash", "?"))
    where = f" ({e.symbol})" if e.symbol else ""
    text = (f"Swap held on {venue}{where}: order {d.get('client_order_id', '?')}, tx {tx} "
            f"is mined but not booked, in flight until the RPC answers for it: "
            f"{d.get('reason', 'no reason given')}")  # fmt: skip
    return Alert("swap_held", f"Swap held: {venue}", text, "warning", f"swap_held:{venue}:{tx}",
                 e.ts)  # fmt: skip


def _amounts(held: Any) -> str:
    if not isinstance(held, dict) or not held:
        return "an intermediate asset"
    return ", ".join(f"{_plain(q)} {a}" for a, q in held.items())


def _arb_held(e: Event) -> Alert:
    d = e.data
    path = d.get("path", "?")
    amounts = _amounts(d.get("held"))
    text = f"Arbitrage cycle held: {path} stopped with {amounts} held{_where(e)}"
    if d.get("reason"):
        text += f": {d['reason']}"
    text += ". Sell it back to the start asset or keep it deliberately"
    if e.strategy_id:
        text += f" [strategy {e.strategy_id}]"
    return Alert(
        "arb_held",
        f"Arbitrage cycle held: {amounts}",
        text,
        "critical",
        f"arb_held:{e.strategy_id}:{path}:{e.ts}",
        e.ts,
    )


def _arb_execution(e: Event) -> Alert | None:
    outcome = e.data.get("outcome")
    if outcome == "unwound":
        return _arb_unwound(e)
    if outcome == "completed":
        return _arb_completed(e)
    return None  # held has its own alert; nothing traded otherwise


def _arb_completed(e: Event) -> Alert:
    d = e.data
    path = d.get("path", "?")
    if d.get("kind") == "cross_venue":
        contracts = _dec(d.get("contracts"))
        edge = _dec(d.get("expected_edge"))
        expected = None if contracts is None or edge is None else contracts * edge
        text = (
            f"Arbitrage pair completed: {path}{_where(e)}, {_plain(contracts)} contracts; "
            f"actual profit {_signed(d.get('actual_profit'))} USD (edge "
            f"{_plain(d.get('actual_edge'))} per pair) against expected {_signed(expected)} USD "
            f"(edge {_plain(edge)} per pair)"
        )
    else:
        profit = f"{_plain(d.get('actual_profit'))} {d.get('start_asset') or ''}".rstrip()
        text = (
            f"Arbitrage cycle completed: {path}{_where(e)}; actual profit {profit} "
            f"({_pct(d.get('actual_profit_pct'), signed=True, step='0.001')}) against expected "
            f"{_pct(d.get('expected_profit_pct'), signed=True, step='0.001')}"
        )
    if e.strategy_id:
        text += f" [strategy {e.strategy_id}]"
    return Alert(
        "arb_completed",
        f"Arbitrage completed: {path}",
        text,
        "info",
        f"arb_completed:{e.strategy_id}:{d.get('record_id') or e.ts}",
        e.ts,
    )


def _arb_unwound(e: Event) -> Alert:
    d = e.data
    path = d.get("path", "?")
    profit = f"{_plain(d.get('actual_profit'))} {d.get('start_asset') or ''}".rstrip()
    text = (
        f"Arbitrage cycle unwound: {path}{_where(e)}; actual profit {profit} "
        f"({_pct(d.get('actual_profit_pct'), signed=True, step='0.001')}) against expected "
        f"{_pct(d.get('expected_profit_pct'), signed=True, step='0.001')}"
    )
    if d.get("reason"):
        text += f": {d['reason']}"
    if e.strategy_id:
        text += f" [strategy {e.strategy_id}]"
    return Alert(
        "arb_unwound",
        f"Arbitrage cycle unwound: {path}",
        text,
        "warning",
        f"arb_unwound:{e.strategy_id}:{path}",
        e.ts,
    )


def _arb_settlement_mismatch(e: Event) -> Alert | None:
    d = e.data
    if not d.get("mismatch"):
        return None  # a pair that resolved alike paid what was expected
    pair = d.get("pair_id", "?")
    text = (
        f"Arbitrage pair settled with a mismatch: {d['mismatch']}; loss "
        f"{_plain(d.get('mismatch_loss'))} USD against a hedged payout, P&L "
        f"{_signed(d.get('pnl'))} USD{_where(e)}. Check both venues' resolutions and the "
        "market map entry"
    )
    if e.strategy_id:
        text += f" [strategy {e.strategy_id}]"
    return Alert(
        "arb_settlement_mismatch",
        f"Arbitrage pair settlement mismatch: {pair}",
        text,
        "critical",
        f"arb_settlement_mismatch:{e.strategy_id}:{pair}",
        e.ts,
    )


def _daily_summary(e: Event) -> Alert:
    d = e.data
    ccy = d.get("currency", "USD")
    text = f"Daily P&L {d.get('day', '?')}: {_signed(d.get('pnl'))} {ccy}"
    if d.get("pnl_pct") is not None:
        text += f" ({_pct(d['pnl_pct'], signed=True)})"
    parts = []
    if d.get("realized_pnl") is not None:
        parts.append(f"realized {_signed(d['realized_pnl'])}")
    if d.get("unrealized_pnl") is not None:
        parts.append(f"unrealized {_signed(d['unrealized_pnl'])}")
    if d.get("fees") is not None:
        parts.append(f"fees {_money(d['fees'])}")
    if parts:
        text += f"; {', '.join(parts)}"
    if d.get("equity") is not None:
        text += f"; equity {_money(d['equity'])} {ccy}"
    if d.get("trades") is not None:
        text += f"; {d['trades']} trades ({d.get('wins', 0)} won, {d.get('losses', 0)} lost)"
    if d.get("open_positions") is not None:
        text += f"; {d['open_positions']} open positions"
    return Alert(
        "daily_summary",
        f"Daily P&L summary {d.get('day', '')}".rstrip(),
        text,
        "info",
        f"daily_summary:{d.get('day', e.ts)}",
        e.ts,
    )


def daily_summary_event(
    day: str,
    ts: int,
    pnl: Decimal,
    *,
    realized_pnl: Decimal | None = None,
    unrealized_pnl: Decimal | None = None,
    fees: Decimal | None = None,
    equity: Decimal | None = None,
    start_equity: Decimal | None = None,
    trades: int | None = None,
    wins: int | None = None,
    losses: int | None = None,
    open_positions: int | None = None,
    currency: str = "USD",
) -> Event:
    """Build the `pnl.daily_summary` event for one UTC day (`day` as YYYY-MM-DD)."""
    data: dict[str, Any] = {"day": day, "pnl": str(pnl), "currency": currency}
    if start_equity is not None and start_equity > 0:
        data["pnl_pct"] = str((pnl / start_equity * 100).quantize(Decimal("0.01")))
    for key, value in (
        ("realized_pnl", realized_pnl),
        ("unrealized_pnl", unrealized_pnl),
        ("fees", fees),
        ("equity", equity),
        ("start_equity", start_equity),
    ):
        if value is not None:
            data[key] = str(value)
    for key, count in (
        ("trades", trades),
        ("wins", wins),
        ("losses", losses),
        ("open_positions", open_positions),
    ):
        if count is not None:
            data[key] = count
    return Event(EventKind.DAILY_SUMMARY, ts, data, severity="info")


_BUILDERS = {
    EventKind.POSITION_OPENED: _position_opened,
    EventKind.POSITION_CLOSED: _position_closed,
    EventKind.RISK_WARNING: _daily_loss_warning,
    EventKind.BREAKER_TRIPPED: _breaker_tripped,
    EventKind.KILL: _kill,
    EventKind.ORDER_REJECTED: _order_failed,
    EventKind.ORDER_UNKNOWN: _order_failed,
    EventKind.VENUE_ERROR: _venue_error,
    EventKind.DAILY_SUMMARY: _daily_summary,
    EventKind.ARB_HELD: _arb_held,
    EventKind.ARB_EXECUTION: _arb_execution,
    EventKind.ARB_SETTLED: _arb_settlement_mismatch,
    "risk.cash_flow": _cash_flow,
    "dex.swap_held": _swap_held,
    "ledger.transfer_recorded": _cash_flow,
}

ALERT_KINDS = frozenset(_BUILDERS)


def scrub(text: str) -> str:
    """Mask secrets in alert text before it leaves the process."""
    return redact(text)


def alert_for(event: Event) -> Alert | None:
    """Return the alert an event raises, or None when no rule covers it."""
    build = _BUILDERS.get(event.kind)
    if build is None:
        return None
    alert = build(event)
    if alert is None:
        return None
    title, text = scrub(alert.title), scrub(alert.text)
    if title == alert.title and text == alert.text:
        return alert
    return Alert(alert.rule, title, text, alert.severity, alert.dedupe_key, alert.ts)
