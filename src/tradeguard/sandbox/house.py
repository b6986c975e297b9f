"""House liquidity: the house account's quotes and its trades through resting orders."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from tradeguard.model.money import ZERO
from tradeguard.sandbox.orders import BUY, HOUSE_ACCOUNT, LIMIT, SELL, Result

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
    # The house never runs dry: top it up to what this book needs.
    if acc.bal(spec.quote).free < need_quote:
        acc.bal(spec.quote).free = need_quote
    if acc.bal(spec.base).free < need_base:
        acc.bal(spec.base).free = need_base
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
    if side == BUY and acc.bal(spec.quote).free < qty * price:
        acc.bal(spec.quote).free = qty * price
    if side == SELL and acc.bal(spec.base).free < qty:
        acc.bal(spec.base).free = qty
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
