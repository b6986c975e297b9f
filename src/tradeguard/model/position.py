"""Positions with average entry, partial closes, flips and P&L net of fees."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from tradeguard.model.enums import Side
from tradeguard.model.frozen import quick_init
from tradeguard.model.money import ZERO


@quick_init
@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """A round trip: from the fill that opened a position to the one that flattened it."""

    venue: str
    symbol: str
    strategy_id: str
    side: Side  # the side of the position that was closed (BUY = long)
    entry_price: Decimal
    exit_price: Decimal
    amount: Decimal
    pnl: Decimal  # net of every fee paid while it was open
    pnl_pct: Decimal  # pnl over entry notional, in percent
    opened_ts: int
    closed_ts: int
    trade_id: str = ""  # the venue's id of the trade that closed it ("": not known)


PCT_STEP = Decimal("0.0001")  # percent figures to a hundredth of a basis point


def unrealized_pct(pnl: Decimal, entry: Decimal, quantity: Decimal) -> Decimal | None:
    """`pnl` over the entry notional (|quantity| x entry) in percent, to `PCT_STEP`; None when
    there is no notional to measure against."""
    basis = abs(quantity) * entry
    if not basis:
        return None
    return (pnl / basis * 100).quantize(PCT_STEP, ROUND_HALF_EVEN)  # whatever the context says


@dataclass(slots=True)
class Position:
    """Signed quantity (long > 0, short < 0); realized P&L is net of every fee paid."""

    venue: str
    symbol: str
    strategy_id: str = ""
    quantity: Decimal = ZERO
    avg_entry: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    opened_ts: int = 0
    updated_ts: int = 0
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    # the current round trip, for win/loss accounting
    trip_pnl: Decimal = ZERO
    trip_max_qty: Decimal = ZERO
    trip_entry: Decimal = ZERO
    last_exit_price: Decimal = ZERO

    @property
    def is_flat(self) -> bool:
        return self.quantity == ZERO

    @property
    def side(self) -> Side | None:
        if self.quantity > ZERO:
            return Side.BUY
        if self.quantity < ZERO:
            return Side.SELL
        return None

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        return (mark - self.avg_entry) * self.quantity

    def unrealized_pnl_pct(self, mark: Decimal) -> Decimal | None:
        """Unrealized P&L over the entry notional, in percent (None for a flat position)."""
        return unrealized_pct(self.unrealized_pnl(mark), self.avg_entry, self.quantity)

    def total_pnl(self, mark: Decimal) -> Decimal:
        return self.realized_pnl + self.unrealized_pnl(mark)

    def notional(self, mark: Decimal) -> Decimal:
        return abs(self.quantity) * mark

    def would_reduce(self, side: Side, amount: Decimal) -> bool:
        """Tell whether an order of `side`/`amount` only shrinks this position (no flip)."""
        if self.quantity == ZERO:
            return False
        if side.sign * self.quantity > ZERO:
            return False
        return amount <= abs(self.quantity)

    def apply(
        self,
        side: Side,
        price: Decimal,
        amount: Decimal,
        fee_quote: Decimal,
        ts: int,
        dust: Decimal = ZERO,
        trade_id: str = "",
    ) -> ClosedTrade | None:
        """Apply one execution; return the round trip it completed, if it flattened or flipped.

        A reducing fill that leaves less than `dust` (the venue's lot step: what no order can
        sell) flattens the position; the remainder stays in the account's balance. `trade_id`:
        the venue's id of the fill's trade, named by the round trip it closes.
        """
        signed = amount if side is Side.BUY else -amount
        qty = self.quantity
        closed: ClosedTrade | None = None
        self.fees += fee_quote
        if qty == ZERO or (qty > ZERO) == (signed > ZERO):
            if qty == ZERO:
                self._open_trip(price, ts)
            new_abs = abs(qty) + amount
            self.avg_entry = (abs(qty) * self.avg_entry + amount * price) / new_abs
            self.quantity = qty + signed
            self.realized_pnl -= fee_quote
            self.trip_pnl -= fee_quote
            self.trip_max_qty = max(self.trip_max_qty, abs(self.quantity))
        else:
            close_amount = min(amount, abs(qty))
            direction = 1 if qty > ZERO else -1
            gross = (price - self.avg_entry) * close_amount * direction
            # Fee for the closing part belongs to this trip; any flip remainder opens a new one.
            close_fee = fee_quote * close_amount / amount
            open_fee = fee_quote - close_fee
            self.realized_pnl += gross - fee_quote
            self.trip_pnl += gross - close_fee
            self.quantity = qty + signed
            if leaves_dust(qty, self.quantity, dust):
                self.quantity = ZERO
            self.last_exit_price = price
            if self.quantity == ZERO or (self.quantity > ZERO) != (qty > ZERO):
                closed = self._close_trip(
                    Side.BUY if qty > ZERO else Side.SELL, price, ts, trade_id
                )
                if self.quantity != ZERO:
                    self._open_trip(price, ts)
                    self.avg_entry = price
                    self.trip_pnl = -open_fee
                    self.trip_max_qty = abs(self.quantity)
                else:
                    self.avg_entry = ZERO
        self.updated_ts = ts
        return closed

    def _open_trip(self, price: Decimal, ts: int) -> None:
        self.opened_ts = ts
        self.trip_pnl = ZERO
        self.trip_max_qty = ZERO
        self.trip_entry = price

    def _close_trip(self, side: Side, price: Decimal, ts: int, trade_id: str) -> ClosedTrade:
        entry = self.avg_entry
        basis = entry * self.trip_max_qty
        pct = (self.trip_pnl / basis * 100) if basis else ZERO
        # positional, in the fields' order (keywords cost more than the rest of the call)
        return ClosedTrade(
            self.venue, self.symbol, self.strategy_id, side, entry, price, self.trip_max_qty,
            self.trip_pnl, pct, self.opened_ts, ts, trade_id,
        )  # fmt: skip


def leaves_dust(before: Decimal, after: Decimal, dust: Decimal) -> bool:
    """Tell whether a reduction from `before` to `after` leaves only an unsellable remainder
    (less than `dust`, the lot step, on the same side): such a position counts as flat."""
    same_side = after != ZERO and (after > ZERO) == (before > ZERO)
    return same_side and abs(after) < abs(before) and abs(after) < dust
