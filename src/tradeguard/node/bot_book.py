"""A bot's figures as its gate reads them, from the node: position, working orders, results.

```python
book = bot_book(node, spec, "BTC/USDT")      # -> bots.gate.BotBook
check_trade(spec, enabled, ask, book, node.clock.now_ms())
```

One reading for every path a bot's order takes: the safety routes and a strategy trading as a
bot (`node.bot_strategy`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeguard.bots.analytics import losing_streak, realized_since
from tradeguard.bots.gate import BotBook
from tradeguard.bots.spec import BotSpec
from tradeguard.model.enums import Side
from tradeguard.model.money import ZERO
from tradeguard.model.order import rests
from tradeguard.risk.breakers import iso_week
from tradeguard.storage.bot_rows import BotTradeRows

if TYPE_CHECKING:
    from tradeguard.node import TradingNode

DAY_MS = 86_400_000
# kv_state key (+ bot name): when `bot enable` last restarted the losing-streak count
STREAK_KEY = "bots.streak_reset."
# trade statuses that sent nothing to a venue: they start no cooldown (a signal a stopped or
# cooling bot refused would otherwise push its cooldown on, for as long as signals come)
NOT_TRADED = ("denied", "not_sent", "rejected")


def closed_positions(node: TradingNode, bot: str) -> list[dict[str, Any]]:
    """Return the bot's closed positions from the journal, newest first (1000 at most)."""
    return node.storage.load_position_rows(status="closed", strategy_id=bot, limit=1000)


def open_pnl(node: TradingNode, spec: BotSpec) -> tuple[Decimal, tuple[str, ...]]:
    """What the bot's open positions on its venue, every symbol, gain or lose at the mark (USD):
    each one's round trip so far (the fees it paid, what partial closes realized: `trip_pnl`,
    the figure its closed trade will carry) and its remainder at the mark; with the symbols
    no price values (no mark, no price for their quote), whose figure is left out."""
    total = ZERO
    unpriced: list[str] = []
    for (venue, symbol, owner), pos in node.portfolio.positions.items():
        if owner != spec.name or venue != spec.venue or pos.quantity == 0:
            continue
        mark, rate = known_mark(node, venue, symbol), quote_usd(node, symbol)
        if mark is None or rate is None:
            unpriced.append(symbol)
            continue
        total += (pos.trip_pnl + pos.unrealized_pnl(mark)) * rate
    return total, tuple(sorted(unpriced))


def known_mark(node: TradingNode, venue: str, symbol: str) -> Decimal | None:
    """`symbol`'s mark on `venue`; after a restart, before its first price, the mark guard's
    restored mark or the position's last stored one; None when none is known."""
    mark = node.portfolio.mark_of(venue, symbol)[0]
    if mark is not None:
        return mark
    mark = node.risk.mark_guard.accepted().get((venue, symbol))
    if mark is not None:
        return mark
    for row in node.storage.load_position_rows(status="open"):
        if (row["venue"], row["symbol"]) == (venue, symbol) and row["current_price"]:
            return Decimal(row["current_price"])
    return None


def quote_usd(node: TradingNode, symbol: str) -> Decimal | None:
    """USD of one unit of `symbol`'s quote currency at the node's prices (1 for USDT, BTC/USDT's
    mark for ETH/BTC), or None when no price converts it."""
    quote = symbol.rpartition("/")[2]
    return node.portfolio.price_of(quote, "USD")


def _exposure_usd(node: TradingNode, spec: BotSpec) -> tuple[Decimal, tuple[str, ...]]:
    """What the bot holds and its entries still working may add, every symbol, USD at the
    marks (a symbol with no price yet counts its entry price, else its working entries' limit
    or trigger price); with the symbols none of these values, or whose quote no price
    converts, left out of the figure (never counted as 0 USD)."""
    portfolio = node.portfolio
    qty: dict[str, Decimal] = {}
    limit: dict[str, Decimal] = {}  # the highest price a working entry names, per symbol
    for (venue, symbol, owner), pos in portfolio.positions.items():
        if owner == spec.name and venue == spec.venue and pos.quantity:
            qty[symbol] = qty.get(symbol, ZERO) + abs(pos.quantity)
    for o in node.orders.open.values():
        if o.strategy_id == spec.name and o.venue == spec.venue and not o.reduce_only:
            qty[o.symbol] = qty.get(o.symbol, ZERO) + o.remaining
            named = o.price or o.trigger_price
            if named is not None and named > limit.get(o.symbol, ZERO):
                limit[o.symbol] = named
    total = ZERO
    unpriced: list[str] = []
    for symbol, amount in qty.items():
        held = portfolio.positions.get((spec.venue, symbol, spec.name))
        mark = (known_mark(node, spec.venue, symbol) or (held.avg_entry if held else ZERO)
                or limit.get(symbol, ZERO))  # fmt: skip
        rate = quote_usd(node, symbol)
        if amount and (not mark or rate is None):
            unpriced.append(symbol)
            continue
        total += amount * mark * (rate or ZERO)
    return total, tuple(sorted(unpriced))


def bot_book(node: TradingNode, spec: BotSpec, symbol: str) -> BotBook:
    """Return the bot's figures on `symbol` that its gate reads."""
    portfolio = node.portfolio
    pos = portfolio.positions.get((spec.venue, symbol, spec.name))
    qty = pos.quantity if pos is not None else ZERO
    mark = known_mark(node, spec.venue, symbol) or (pos.avg_entry if pos is not None else ZERO)
    rate = quote_usd(node, symbol)
    usd = mark * (rate or ZERO)  # one unit of the symbol in USD
    now = node.clock.now_ms()
    day_start = now - now % DAY_MS
    week_start = (iso_week(now) * 7 - 3) * DAY_MS  # Monday 00:00 UTC
    closed = closed_positions(node, spec.name)
    from tradeguard.node.bot_close_rates import in_usd  # it reads this module's quote_usd

    closed_usd = in_usd(node, closed)
    reset = node.storage.kv_get(STREAK_KEY + spec.name) or {}
    since = int(reset.get("ts", 0)) if isinstance(reset, dict) else 0
    streak_pnls = [r["pnl"] for r in closed if (r["exit_ts"] or 0) > since]
    unrealized, unpriced = open_pnl(node, spec)
    # a closed trade its loss limits count whose quote no price converts (BTC before its first
    # tick after a restart): its loss is not known in USD, so it is no figure to compare
    counted_from = week_start if spec.weekly_loss_usd is not None else day_start
    unpriced = tuple(sorted({*unpriced, *(
        r["symbol"] for r in closed
        if (r["exit_ts"] or 0) >= counted_from and quote_usd(node, r["symbol"]) is None
    )}))  # fmt: skip
    working = closing = ZERO
    for o in node.orders.open.values():
        if o.strategy_id != spec.name or o.symbol != symbol:
            continue
        signed = o.remaining if o.side is Side.BUY else -o.remaining
        if not o.reduce_only:
            working += signed
        elif not o.signal.get("native") and not rests(o):
            # An exit or target resting on the book is not selling yet (it may never fill):
            # a close cancels it first, as a firing exit rule does.
            closing += signed
    total, total_unpriced = (
        _exposure_usd(node, spec) if spec.max_total_position_usd is not None else (ZERO, ())
    )
    return BotBook(
        position_qty=qty,
        # A remainder below the venue's minimum order cannot be closed: it holds no entry
        # back (the next entry adds to it, and its exit sells both).
        dust=pos is not None and qty != 0 and portfolio.closable(pos) == 0,
        position_usd=abs(qty) * usd,
        working_qty=working,
        working_usd=abs(working) * usd,
        closing_qty=closing,
        last_trade_ms=BotTradeRows(node.storage).last_trade_ts(spec.name, NOT_TRADED),
        realized_today_usd=realized_since(closed_usd, day_start),
        realized_week_usd=realized_since(closed_usd, week_start),
        unrealized_usd=unrealized,
        losing_streak=losing_streak(streak_pnls),
        quote_usd=rate,
        unpriced=unpriced,
        total_usd=total,
        total_unpriced=total_unpriced,
    )
