"""House liquidity: the house account's quotes and its trades through resting orders.

The house is an unlimited market maker: before it quotes or prints, its account is given what
that needs beyond its free balance, and the amount is added to `Account.issued`. The ledger
stays balanced: each asset's total over all accounts (`MatchingEngine.totals`) equals what was
deposited plus what the house was issued, and trading moves balances without changing totals.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from tradeguard.model.money import ZERO
from tradeguard.sandbox.orders import (
    BUY,
    HOUSE_ACCOUNT,
    LIMIT,
    SELL,
    Account,
    MarketSpec,
    Result,
)

_ROUNDING = Decimal("0.00000001")  # a fee locked per order is rounded half-up to 8 places

if TYPE_CHECKING:
    from tradeguard.sandbox.matching import MatchingEngine


def set_house_book(
    engine: MatchingEngine,
    symbol: str,
    bids: Iterable[tuple[Decimal, Decimal]],
    asks: Iterable[tuple[Decimal, Decimal]],
    now_ms: int,
    house: str = HOUSE_ACCOUNT,
) -> Result:
    """Replace the house account's resting orders; crossing levels trade with resting orders."""
    spec = engine.market(symbol)
    result = Result()
    for o in engine.open_orders(house, symbol):
        result.merge(engine.cancel(house, symbol, now_ms, order_id=o.order_id))
    bids = list(bids)
    asks = list(asks)
    need_quote = sum((p * q for p, q in bids), ZERO)
    need_base = sum((q for _, q in asks), ZERO)
    acc = engine.add_account(house)
    # The house never runs dry: it is issued what this book needs.
    _fund(acc, spec.quote, _buy_lock(spec, need_quote, len(bids)))
    _fund(acc, spec.base, need_base)
    for side, levels in ((SELL, asks), (BUY, bids)):
        for p, q in levels:
            result.merge(_house_order(engine, house, symbol, side, p, q, now_ms, "GTC"))
    return result


def house_trade(
    engine: MatchingEngine,
    symbol: str,
    side: str,
    price: Decimal,
    qty: Decimal,
    now_ms: int,
    house: str = HOUSE_ACCOUNT,
) -> Result:
    """Have the house send an IOC limit order that trades with resting orders up to `price`."""
    spec = engine.market(symbol)
    acc = engine.add_account(house)
    if side == BUY:
        _fund(acc, spec.quote, _buy_lock(spec, qty * price, 1))
    elif side == SELL:
        _fund(acc, spec.base, qty)
    return _house_order(engine, house, symbol, side, price, qty, now_ms, "IOC")


def _house_order(
    engine: MatchingEngine,
    house: str,
    symbol: str,
    side: str,
    price: Decimal,
    qty: Decimal,
    now_ms: int,
    tif: str,
) -> Result:
    return engine.place(
        house,
        symbol,
        side,
        LIMIT,
        now_ms,
        qty=qty,
        price=price,
        time_in_force=tif,
        enforce_minimums=False,
    )


def _buy_lock(spec: MarketSpec, cost: Decimal, orders: int) -> Decimal:
    """What `orders` buys costing `cost` in all lock: the cost, and where fees are in the quote
    asset the taker fee too (each order's rounded up by at most one unit of _ROUNDING)."""
    if not spec.fee_in_quote:
        return cost
    return cost * (1 + spec.taker_fee) + _ROUNDING * orders


def _fund(acc: Account, asset: str, need: Decimal) -> None:
    """Issue the house what `need` takes beyond its free balance, and count it."""
    short = need - acc.bal(asset).free
    if short > 0:
        acc.bal(asset).free += short
        acc.issued[asset] = acc.issued.get(asset, ZERO) + short
