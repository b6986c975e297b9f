"""Scanner inputs: spot markets with fees and precision, top-of-book tickers, ccxt JSON adapters."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from tradeguard.model.errors import TradeguardError
from tradeguard.model.instrument import Instrument
from tradeguard.model.money import ZERO, dec

PrecisionMode = Literal["tick", "decimals"]


class MarketDataError(TradeguardError, ValueError):
    """A markets or tickers document is malformed; the message names the source and the field."""


@dataclass(frozen=True, slots=True)
class ArbMarket:
    """A spot market as the scanner needs it (fees as fractions: 0.001 = 0.1%)."""

    symbol: str
    base: str
    quote: str
    taker_fee: Decimal
    amount_step: Decimal = ZERO  # 0 means no lot-size rounding
    price_tick: Decimal = ZERO
    min_notional: Decimal = ZERO  # in quote units
    min_amount: Decimal = ZERO  # in base units


@dataclass(frozen=True, slots=True)
class Ticker:
    """Best bid and ask with their sizes (base units); floats, as scanner input only."""

    symbol: str
    bid: float
    ask: float
    bid_size: float | None = None
    ask_size: float | None = None


# Book levels: (price, size in base units), best first.
Levels = Sequence[Sequence[Any]]
Depth = Mapping[str, tuple[Levels, Levels]]  # symbol -> (bids, asks)


def _field(source: str, key: str, path: str) -> str:
    return f"{source}: [{key!r}].{path}" if path else f"{source}: [{key!r}]"


def _number(value: object, where: str, *, required: bool) -> Decimal | None:
    if value is None:
        if required:
            raise MarketDataError(f"{where}: missing (expected a number)")
        return None
    try:
        result = dec(value, where)
    except ValueError:
        raise MarketDataError(f"{where}: {value!r} is not a number") from None
    if not result.is_finite() or result < 0:
        raise MarketDataError(f"{where}: {value!r} must be a finite number >= 0")
    return result


def _step(value: Decimal | None, mode: PrecisionMode) -> Decimal:
    if value is None:
        return ZERO
    if mode == "decimals":
        # DECIMAL_PLACES venues give the number of digits: 8 means a step of 1e-8.
        return Decimal(1).scaleb(-int(value))
    return value


def _sub(doc: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any]:
    value = doc.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MarketDataError(f"{where}.{name}: expected an object, got {type(value).__name__}")
    return value


def _entries(doc: object, source: str, what: str) -> Iterable[tuple[str, Mapping[str, Any]]]:
    if isinstance(doc, Mapping):
        items: Iterable[tuple[str, object]] = doc.items()
    elif isinstance(doc, list):
        # fetch_markets() returns a list; key each entry by its symbol (or position).
        items = [
            (str(e.get("symbol", i)) if isinstance(e, Mapping) else str(i), e)
            for i, e in enumerate(doc)
        ]
    else:
        raise MarketDataError(
            f"{source}: expected a JSON object of {what} keyed by symbol "
            f"(as ccxt returns it), got {type(doc).__name__}"
        )
    for key, entry in items:
        if not isinstance(entry, Mapping):
            raise MarketDataError(
                f"{_field(source, key, '')}: expected an object, got {type(entry).__name__}"
            )
        yield key, entry


def markets_from_ccxt(
    markets_json: object,
    *,
    source: str = "markets",
    precision_mode: PrecisionMode = "tick",
    default_taker_fee: Decimal | None = None,
) -> list[ArbMarket]:
    """Read the dict ccxt's `load_markets()` returns; skip inactive and non-spot markets."""
    out: list[ArbMarket] = []
    for key, m in _entries(markets_json, source, "markets"):
        if m.get("active") is False:
            continue
        if m.get("spot") is False or m.get("type", "spot") != "spot":
            continue
        where = _field(source, key, "")
        symbol = m.get("symbol", key)
        base, quote = m.get("base"), m.get("quote")
        for name, value in (("symbol", symbol), ("base", base), ("quote", quote)):
            if not isinstance(value, str) or not value:
                raise MarketDataError(f"{where}.{name}: missing or not a string ({value!r})")
        assert isinstance(symbol, str) and isinstance(base, str) and isinstance(quote, str)
        fee = _number(m.get("taker"), f"{where}.taker", required=default_taker_fee is None)
        if fee is None:
            assert default_taker_fee is not None
            fee = default_taker_fee
        if fee >= 1:
            raise MarketDataError(f"{where}.taker: {fee} must be a fraction below 1 (0.001 = 0.1%)")
        precision = _sub(m, "precision", where)
        limits = _sub(m, "limits", where)
        amount_lim = _sub(limits, "amount", f"{where}.limits")
        cost_lim = _sub(limits, "cost", f"{where}.limits")
        out.append(
            ArbMarket(
                symbol=symbol,
                base=base,
                quote=quote,
                taker_fee=fee,
                amount_step=_step(
                    _number(precision.get("amount"), f"{where}.precision.amount", required=False),
                    precision_mode,
                ),
                price_tick=_step(
                    _number(precision.get("price"), f"{where}.precision.price", required=False),
                    precision_mode,
                ),
                min_notional=_number(
                    cost_lim.get("min"), f"{where}.limits.cost.min", required=False
                )
                or ZERO,
                min_amount=_number(
                    amount_lim.get("min"), f"{where}.limits.amount.min", required=False
                )
                or ZERO,
            )
        )
    return out


def arb_market(inst: Instrument) -> ArbMarket:
    """Return a venue instrument as the scanner sees it: taker fee, precision and minimums."""
    return ArbMarket(
        symbol=inst.symbol,
        base=inst.base,
        quote=inst.quote,
        taker_fee=inst.taker_fee,
        amount_step=inst.amount_step,
        price_tick=inst.price_tick,
        min_notional=inst.min_notional,
        min_amount=inst.min_amount,
    )


def _float(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MarketDataError(f"{where}: {value!r} is not a number")
    try:
        result = float(value)
    except ValueError:
        raise MarketDataError(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(result) or result < 0:
        raise MarketDataError(f"{where}: {value!r} must be a finite number >= 0")
    return result


def tickers_from_ccxt(tickers_json: object, *, source: str = "tickers") -> dict[str, Ticker]:
    """Read the dict ccxt's `fetch_tickers()` returns; skip tickers without both sides."""
    out: dict[str, Ticker] = {}
    for key, t in _entries(tickers_json, source, "tickers"):
        where = _field(source, key, "")
        symbol = t.get("symbol", key)
        if not isinstance(symbol, str) or not symbol:
            raise MarketDataError(f"{where}.symbol: missing or not a string ({symbol!r})")
        bid = _float(t.get("bid"), f"{where}.bid")
        ask = _float(t.get("ask"), f"{where}.ask")
        if not bid or not ask:
            continue
        out[symbol] = Ticker(
            symbol=symbol,
            bid=bid,
            ask=ask,
            bid_size=_float(t.get("bidVolume"), f"{where}.bidVolume"),
            ask_size=_float(t.get("askVolume"), f"{where}.askVolume"),
        )
    return out
