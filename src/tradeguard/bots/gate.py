"""A bot's own pre-trade checks, before the risk engine's: pure, over plain figures.

```python
verdict = check_trade(spec, enabled=True, ask=TradeAsk("BTC/USDT", Side.BUY, Decimal("30")),
                      book=BotBook(...), now_ms=now)
verdict.approved, verdict.reasons
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from tradeguard.bots.spec import BotSpec
from tradeguard.bots.telling import withheld
from tradeguard.model.enums import Side
from tradeguard.model.money import ZERO


@dataclass(frozen=True, slots=True)
class TradeAsk:
    """What a bot asks for: a side on a symbol, sized in USD."""

    symbol: str
    side: Side
    size_usd: Decimal
    # the bot means to close: a trade that would open or flip a position is refused
    reduce_only: bool = False


@dataclass(frozen=True, slots=True)
class BotBook:
    """The bot's figures the checks read: its position on the symbol and its recent results."""

    position_qty: Decimal = ZERO  # signed: long > 0
    # the position is a remainder no order can sell (Portfolio.closable): no entry is held back
    dust: bool = False
    position_usd: Decimal = ZERO  # absolute value at the mark
    # what the bot's entry orders still working on the symbol may add (signed: buys > 0); an
    # entry sent but not filled yet holds the next one back as a position does
    working_qty: Decimal = ZERO
    working_usd: Decimal = ZERO  # its absolute value at the mark
    # what the bot's closing orders still working on the symbol sell (or buy back), signed
    closing_qty: Decimal = ZERO
    last_trade_ms: int = 0
    realized_today_usd: Decimal = ZERO
    realized_week_usd: Decimal = ZERO  # since Monday 00:00 UTC
    # what the bot's open positions (every symbol) gain or lose at the mark; a loss counts
    # towards its daily and weekly limits, a gain buys back no realized loss
    unrealized_usd: Decimal = ZERO
    losing_streak: int = 0
    # USD of one unit of the symbol's quote currency (1 for USDT; BTC/USDT's mark for ETH/BTC);
    # None: no price converts it, so no figure above is in USD and no entry is sized
    quote_usd: Decimal | None = Decimal(1)
    # the symbols of the bot's open positions with no mark yet (after a restart, before their
    # first price), and of its closed trades the loss limits count whose quote no price
    # converts to USD: their loss is unknown, so the loss limits cannot be checked
    unpriced: tuple[str, ...] = ()
    # what the bot holds and its entries still working may add, every symbol, USD at the marks
    total_usd: Decimal = ZERO
    # the symbols whose part of `total_usd` no price values (a working market entry with no
    # mark, a quote no price converts): the total is not known, so max_total_position_usd
    # cannot be checked
    total_unpriced: tuple[str, ...] = ()


@dataclass(slots=True)
class Verdict:
    """Approved, or denied with one (code, reason, public reason) per failed check."""

    denials: list[tuple[str, str, str]] = field(default_factory=list)
    reducing: bool = False

    @property
    def approved(self) -> bool:
        return not self.denials

    @property
    def reasons(self) -> list[str]:
        return [r for _, r, _ in self.denials]

    @property
    def public_reasons(self) -> list[str]:
        """The reasons a token bound to the bot may read (`bots.telling`)."""
        return [p for _, _, p in self.denials]

    @property
    def codes(self) -> list[str]:
        return [c for c, _, _ in self.denials]

    def deny(self, code: str, reason: str) -> None:
        """Deny by one of the bot's own checks: its reason names the bot's figures only."""
        self.denials.append((code, reason, reason))

    def deny_withheld(self, code: str, reason: str) -> None:
        """Deny by the account's limits or the venue: the bot's token reads the code alone."""
        self.denials.append((code, reason, withheld(code, reason)))


def is_reducing(qty: Decimal, side: Side) -> bool:
    """Tell whether `side` shrinks a position of signed `qty`."""
    return (qty > 0 and side is Side.SELL) or (qty < 0 and side is Side.BUY)


def check_trade(spec: BotSpec, enabled: bool, ask: TradeAsk, book: BotBook, now_ms: int) -> Verdict:
    """Run the bot's checks; a trade that closes its position skips the entry checks.

    A disabled (or emergency-stopped) bot may still close: only its entries are refused."""
    v = Verdict(reducing=is_reducing(book.position_qty, ask.side))
    n = spec.name
    if ask.reduce_only and not v.reducing:
        held = "holds no position" if book.position_qty == 0 else f"holds {book.position_qty}"
        v.deny(
            "BOT_NOT_REDUCING",
            f"bot {n}: reduce_only {ask.side.value} of {ask.symbol} would open a position, not "
            f"close one (the bot {held} on {ask.symbol}); refused",
        )
    if not enabled and not v.reducing:
        v.deny(
            "BOT_DISABLED",
            f"bot {n} is disabled: it may close its positions but not open one; enable it with "
            f"`tradeguard bot enable {n}` or the dashboard",
        )
    if spec.symbols and ask.symbol not in spec.symbols:
        v.deny(
            "BOT_SYMBOL",
            f"bot {n} may not trade {ask.symbol}; its symbols are {', '.join(spec.symbols)} "
            "(bot symbols)",
        )
    if v.reducing and book.closing_qty != 0:
        v.deny(
            "BOT_CLOSE_WORKING",
            f"bot {n} has an order closing its position on {ask.symbol} working; a second close "
            "is refused until it is done",
        )
    if v.reducing:
        return v
    if ask.size_usd <= 0:
        v.deny("BOT_SIZE_ZERO", f"bot {n}: the size rule gives 0 USD for this signal; no trade")
    if ask.size_usd > spec.max_order_usd:
        v.deny(
            "BOT_MAX_ORDER",
            f"bot {n}: order {ask.size_usd} USD exceeds max_order_usd={spec.max_order_usd}",
        )
    if spec.one_position_per_symbol:
        if book.position_qty != 0 and not book.dust:
            v.deny(
                "BOT_ONE_POSITION",
                f"bot {n} already holds a position on {ask.symbol}; a second entry is refused "
                "until it is closed (one_position_per_symbol)",
            )
        elif book.working_qty != 0:
            v.deny(
                "BOT_ONE_POSITION",
                f"bot {n} has an entry order working on {ask.symbol}; a second entry is refused "
                "until it is done and its position closed (one_position_per_symbol)",
            )
    _check_exposure(spec, ask, book, v)
    _check_results(spec, book, now_ms, v)
    return v


def _check_exposure(spec: BotSpec, ask: TradeAsk, book: BotBook, v: Verdict) -> None:
    n = spec.name
    if book.quote_usd is None:
        quote = ask.symbol.rpartition("/")[2]
        v.deny(
            "BOT_NO_QUOTE_PRICE",
            f"bot {n}: no price converts {quote} (the quote of {ask.symbol}) to USD yet, so its "
            f"USD limits cannot be checked; entries wait for a {quote}/USD, {quote}/USDT or "
            "similar price on the node",
        )
        return
    after = book.position_usd + book.working_usd + ask.size_usd
    if after > spec.max_position_usd:
        v.deny(
            "BOT_MAX_POSITION",
            f"bot {n}: position would be {after} USD, above max_position_usd="
            f"{spec.max_position_usd}",
        )
    total = book.total_usd + ask.size_usd
    if spec.max_total_position_usd is not None and book.total_unpriced:
        v.deny(
            "BOT_NO_MARK",
            f"bot {n}: no USD price yet for its position(s) or working entries on "
            f"{', '.join(book.total_unpriced)} (of the symbol, its entry or its quote), so its "
            f"total against max_total_position_usd={spec.max_total_position_usd} is not known; "
            "entries wait for a price",
        )
    elif spec.max_total_position_usd is not None and total > spec.max_total_position_usd:
        v.deny(
            "BOT_MAX_TOTAL_POSITION",
            f"bot {n}: its positions and working entries on every symbol would be {total} USD, "
            f"above max_total_position_usd={spec.max_total_position_usd}",
        )


def _check_results(spec: BotSpec, book: BotBook, now_ms: int, v: Verdict) -> None:
    n = spec.name
    if spec.cooldown_s and book.last_trade_ms:
        left_ms = book.last_trade_ms + spec.cooldown_s * 1000 - now_ms
        if left_ms > 0:
            v.deny(
                "BOT_COOLDOWN",
                f"bot {n} is cooling down for {Decimal(left_ms) / 1000} s more "
                f"(cooldown_s={spec.cooldown_s})",
            )
    if book.unpriced:
        names = ", ".join(book.unpriced)
        v.deny(
            "BOT_NO_MARK",
            f"bot {n}: no USD price yet for its open position(s) or counted closed trades on "
            f"{names} (of the symbol or of its quote; none since the node started and none "
            "stored), so their loss cannot be counted against its loss limits; entries wait "
            "for a price",
        )
    open_loss = -min(book.unrealized_usd, ZERO)
    held = f" (open positions {-open_loss} USD at the mark)" if open_loss else ""
    loss = -book.realized_today_usd + open_loss
    if loss >= spec.daily_loss_usd:
        v.deny(
            "BOT_DAILY_LOSS",
            f"bot {n}: today's loss {loss} USD{held} reached daily_loss_usd="
            f"{spec.daily_loss_usd}; trading resumes at 00:00 UTC"
            + (" or once its positions recover or close" if open_loss else ""),
        )
    week_loss = -book.realized_week_usd + open_loss
    if spec.weekly_loss_usd is not None and week_loss >= spec.weekly_loss_usd:
        v.deny(
            "BOT_WEEKLY_LOSS",
            f"bot {n}: this week's loss {week_loss} USD{held} reached weekly_loss_usd="
            f"{spec.weekly_loss_usd}; trading resumes on Monday 00:00 UTC"
            + (" or once its positions recover or close" if open_loss else ""),
        )
    if book.losing_streak >= spec.max_losing_streak:
        v.deny(
            "BOT_LOSING_STREAK",
            f"bot {n}: {book.losing_streak} losing trades in a row reached max_losing_streak="
            f"{spec.max_losing_streak}; a winning trade or `tradeguard bot enable {n}` "
            "after a review resets it",
        )
