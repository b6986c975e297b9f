"""What the bot desk shows, read from memory for frequent polling: each bot's active trades with
live P&L (GET /api/v1/bots/status/summary) and the safety status (GET /api/v1/safety/status).
Every P&L figure of a bot is USD, as its limits are: a trade on ETH/BTC is converted at the
node's price of BTC (`node.bot_book.quote_usd`), a closed one at its price when it closed
(`node.bot_close_rates`); a trade's own P&L is in its quote as well."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tradeguard.bots.analytics import realized_since
from tradeguard.model.money import ZERO, plain
from tradeguard.node.bot_book import quote_usd
from tradeguard.node.bot_close_rates import at_current_price, in_usd
from tradeguard.risk.report import loss_halt_view
from tradeguard.risk.state import resume_day

if TYPE_CHECKING:
    from tradeguard.api.bot_desk import BotDesk

DAY_MS = 86_400_000


def summary(desk: BotDesk, only: str | None = None) -> dict[str, Any]:
    """Each bot's active trades with live P&L at the current marks, for frequent polling
    (memory only: no venue call; closed results from the journal's closed positions)."""
    node = desk.node
    now = node.clock.now_ms()
    day_start = now - now % DAY_MS
    open_by_bot: dict[str, list[Any]] = {}
    for p in node.portfolio.open_positions():
        open_by_bot.setdefault(p.strategy_id, []).append(p)
    bots: list[dict[str, Any]] = []
    unrealized_all, active = ZERO, 0
    for name, (_, enabled) in desk.registry().items():
        if only is not None and name != only:
            continue
        trades, unrealized = [], ZERO
        for p in open_by_bot.get(name, []):
            mark = (
                node.market.mid(p.symbol, p.venue) or node.portfolio.mark_of(p.venue, p.symbol)[0]
            )
            pnl = p.unrealized_pnl(mark) if mark is not None else None
            rate = quote_usd(node, p.symbol)  # the P&L is in the quote (BTC for ETH/BTC)
            usd = None if pnl is None or rate is None else pnl * rate
            unrealized += usd or ZERO
            plan = desk.exits.plans.get(f"{p.venue}|{p.symbol}|{name}")
            trades.append({
                "venue": p.venue, "symbol": p.symbol,
                "side": "long" if p.quantity > 0 else "short",
                "quantity": plain(p.quantity), "entry": plain(p.avg_entry),
                "mark": None if mark is None else plain(mark),
                "quote": p.symbol.rpartition("/")[2],
                "unrealized_pnl": None if pnl is None else plain(pnl),
                "unrealized_pnl_usd": None if usd is None else plain(usd),
                "opened_ts": p.opened_ts,
                "exits": None if plan is None else plan.rules_json(),
                "open_orders": node.orders.open_order_count(name, p.symbol),
            })  # fmt: skip
        closed = in_usd(node, desk.closed(name))
        unrealized_all += unrealized
        active += len(trades)
        bots.append({
            "bot_id": name, "enabled": enabled, "active_trades": trades,
            "unrealized_pnl": plain(unrealized),
            "realized_today": plain(realized_since(closed, day_start)),
            "realized_total": plain(sum((r["pnl"] for r in closed), ZERO)),
            "closed_trades": len(closed),
            # closed before their quote's USD price at the close was kept: at today's price
            "closed_at_current_price": at_current_price(closed),
        })  # fmt: skip
    return {
        "ts": now, "mode": node.mode.value, "trading_state": node.risk.state.value,
        "active_trades": active,
        "unrealized_pnl": plain(unrealized_all), "bots": bots,
    }  # fmt: skip


def status(desk: BotDesk) -> dict[str, Any]:
    """Return the safety status: trading state and each bot's limits, figures and exits."""
    node = desk.node
    bots = []
    for name, (spec, enabled) in desk.registry().items():
        positions = [p for p in node.portfolio.open_positions() if p.strategy_id == name]
        closed = in_usd(node, desk.closed(name))
        now = node.clock.now_ms()
        bots.append({
            "bot_id": name, "enabled": enabled, "limits": spec.to_doc(),
            "open_positions": [{"venue": p.venue, "symbol": p.symbol,
                                "quantity": plain(p.quantity), "entry": plain(p.avg_entry)}
                               for p in positions],
            "realized_today": plain(realized_since(closed, now - now % DAY_MS)),
            "exits": [{"symbol": p.symbol, **p.rules_json(), "active": p.active,
                       "on_venue": list(p.native_orders),
                       "stop_on_venue": None if p.native_stop is None else plain(p.native_stop)}
                      for p in desk.exits.for_bot(name)],
        })  # fmt: skip
    return {
        "trading_state": node.risk.state.value,
        "halted": node.risk.state.value == "HALTED",
        "loss_halt": _loss_halt(node),
        "mode": node.mode.value,
        "bots": bots,
    }


def _loss_halt(node: Any) -> dict[str, Any] | None:
    """The loss limit tripped last, for a bot: its mode and what it did, never its cause (the
    account's equity figures are not one bot's to read)."""
    risk = node.risk
    # a flatten's closed positions and failures are the whole account's: no count for a bot
    day = resume_day(risk.daily_loss_halt_day, node.clock.now_ms())
    view = loss_halt_view(
        risk.last_loss_halt, risk.last_kill, risk.state_by, counts=False, resume_from=day
    )
    if view is None:
        return None
    return {k: view.get(k) for k in ("by", "mode", "state", "ts", "did", "holds")}
