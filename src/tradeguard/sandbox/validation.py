"""Order checks before anything moves: parameters, Binance filters, and the funds to lock."""

from __future__ import annotations

from decimal import Decimal

from tradeguard.model.money import ZERO, is_multiple
from tradeguard.sandbox.book import Book, simulate
from tradeguard.sandbox.orders import (
    BUY,
    LIMIT,
    LIMIT_MAKER,
    MARKET,
    SELL,
    TRIGGERED_KIND,
    EngineReject,
    MarketSpec,
)

_MANDATORY = "Mandatory parameter '{}' was not sent, was empty/null, or malformed."


def check_filters(
    spec: MarketSpec,
    type_: str,
    qty: Decimal | None,
    price: Decimal | None,
    minimums: bool = True,
) -> None:
    if price is not None:
        if price <= 0:
            raise EngineReject(-1013, "Invalid price.")
        if (
            price < spec.min_price
            or price > spec.max_price
            or not is_multiple(price - spec.min_price, spec.tick)
        ):
            raise EngineReject(-1013, "Filter failure: PRICE_FILTER")
    if qty is not None:
        if qty <= 0:
            raise EngineReject(-1013, "Invalid quantity.")
        if (
            (minimums and qty < spec.min_qty)
            or qty > spec.max_qty
            or not is_multiple(qty, spec.step)
        ):
            name = "MARKET_LOT_SIZE" if type_ == MARKET else "LOT_SIZE"
            raise EngineReject(-1013, f"Filter failure: {name}")


def check_notional(spec: MarketSpec, notional: Decimal, minimums: bool = True) -> None:
    if minimums and notional < spec.min_notional:
        raise EngineReject(-1013, "Filter failure: NOTIONAL")


def validate(
    spec: MarketSpec,
    type_: str,
    qty: Decimal | None,
    price: Decimal | None,
    quote_qty: Decimal | None,
    stop_price: Decimal | None,
    tif: str,
    minimums: bool,
) -> str:
    """Check an order's parameters and filters; return its time in force."""
    kind = TRIGGERED_KIND.get(type_, type_)
    if quote_qty is not None and type_ != MARKET:
        raise EngineReject(-1106, "Parameter 'quoteOrderQty' sent when not required.")
    if type_ in TRIGGERED_KIND:
        if stop_price is None:
            raise EngineReject(-1102, _MANDATORY.format("stopPrice"))
        check_filters(spec, type_, None, stop_price)
    elif stop_price is not None:
        raise EngineReject(-1106, "Parameter 'stopPrice' sent when not required.")
    if kind in (LIMIT, LIMIT_MAKER):
        if price is None:
            raise EngineReject(-1102, _MANDATORY.format("price"))
        if qty is None:
            raise EngineReject(-1102, _MANDATORY.format("quantity"))
        if kind == LIMIT and tif not in ("GTC", "IOC", "FOK"):
            raise EngineReject(-1115, "Invalid timeInForce.")
        check_filters(spec, type_, qty, price, minimums)
        check_notional(spec, qty * price, minimums)
        return tif
    if kind != MARKET:
        raise EngineReject(-1116, "Invalid orderType.")
    if price is not None:
        raise EngineReject(-1106, "Parameter 'price' sent when not required.")
    if type_ != MARKET:
        if qty is None:
            raise EngineReject(-1102, _MANDATORY.format("quantity"))
        assert stop_price is not None
        check_filters(spec, MARKET, qty, None)
        check_notional(spec, qty * stop_price)
        return "GTC"
    if (qty is None) == (quote_qty is None):
        raise EngineReject(
            -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"
        )
    if qty is not None:
        check_filters(spec, type_, qty, None)
    elif quote_qty is not None and quote_qty <= 0:
        raise EngineReject(-1013, "Invalid quoteOrderQty.")
    return "GTC"


def lock_need(
    spec: MarketSpec,
    book: Book,
    side: str,
    type_: str,
    qty: Decimal | None,
    price: Decimal | None,
    quote_qty: Decimal | None,
    stop_price: Decimal | None,
    hold_funds: bool,
    last: Decimal | None,
) -> tuple[str, Decimal]:
    """The asset and amount an order locks when placed."""
    lock_asset = spec.quote if side == BUY else spec.base
    if type_ in TRIGGERED_KIND:
        assert qty is not None and stop_price is not None
        if not hold_funds:
            return lock_asset, ZERO
        if side == SELL:
            return lock_asset, qty
        return lock_asset, qty * (price if price is not None else stop_price)
    if side == SELL:
        if type_ == MARKET and quote_qty is not None:
            fill_qty, _ = simulate(book, side, None, quote=quote_qty, step=spec.step)
            check_notional(spec, quote_qty)
            return lock_asset, fill_qty
        assert qty is not None
        if type_ == MARKET and last is not None:
            check_notional(spec, qty * last)
        return lock_asset, qty
    if type_ != MARKET:
        assert qty is not None and price is not None
        return lock_asset, qty * price
    if quote_qty is not None:
        check_notional(spec, quote_qty)
        return lock_asset, quote_qty
    assert qty is not None
    _, cost = simulate(book, side, None, qty=qty)
    if last is not None:
        check_notional(spec, qty * last)
    return lock_asset, cost
