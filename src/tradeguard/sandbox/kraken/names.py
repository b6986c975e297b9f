"""Kraken's names: assets (XXBT, ZUSD), pairs (XXBTZUSD) and order / trade ids."""

from __future__ import annotations

import re

# Kraken's legacy four-letter asset ids, as its API still sends them.
_ASSET_IDS = {
    "BTC": "XXBT", "ETH": "XETH", "LTC": "XLTC", "XRP": "XXRP", "XLM": "XXLM", "DOGE": "XXDG",
    "USD": "ZUSD", "EUR": "ZEUR", "GBP": "ZGBP", "JPY": "ZJPY", "CAD": "ZCAD", "AUD": "ZAUD",
}  # fmt: skip
_ALT = {"BTC": "XBT", "DOGE": "XDG"}
# What a pair name or an id can be: visible ASCII, no space, no control character. A name
# outside it (`XBTUSD\n`, a NUL) is malformed, EGeneral:Invalid arguments, as Binance's
# -1100, not looked up as a name nobody has.
_WELL_FORMED = re.compile(r"[\x21-\x7e]{1,64}")
_ORDER_PREFIX = "OSBX-"
_TRADE_PREFIX = "TSBX-"


def asset_id(asset: str) -> str:
    """Kraken's id of an asset: `BTC` -> `XXBT`, `USD` -> `ZUSD`, `USDT` -> `USDT`."""
    return _ASSET_IDS.get(asset, asset)


def altname(asset: str) -> str:
    """Kraken's short name of an asset: `BTC` -> `XBT`."""
    return _ALT.get(asset, asset)


def well_formed(value: str) -> bool:
    """Whether `value` can be a Kraken pair name or id: 1..64 visible ASCII characters."""
    return _WELL_FORMED.fullmatch(value) is not None


def pair_id(base: str, quote: str) -> str:
    """Kraken's pair id: `XXBTZUSD` where both assets have legacy ids, else `XBTUSDT`."""
    b, q = asset_id(base), asset_id(quote)
    if b != base and q != quote:
        return b + q
    return altname(base) + altname(quote)


def pair_altname(base: str, quote: str) -> str:
    """The pair's altname: `XBTUSD`."""
    return altname(base) + altname(quote)


def txid(order_id: int) -> str:
    """An order's Kraken-style id."""
    return f"{_ORDER_PREFIX}{order_id:08d}"


def order_id_of(value: str) -> int | None:
    """The engine order id of a txid, None when it is not one of ours."""
    return _number_after(_ORDER_PREFIX, value)


def trade_txid(trade_id: int) -> str:
    """A trade's Kraken-style id."""
    return f"{_TRADE_PREFIX}{trade_id:08d}"


def trade_id_of(value: str) -> int | None:
    """The engine trade id of a trade txid, None when it is not one of ours."""
    return _number_after(_TRADE_PREFIX, value)


def _number_after(prefix: str, value: str) -> int | None:
    """The whole number after `prefix` in ASCII digits (at most 18), else None: '²' or a
    thousand digits are no id of ours (int() refused them, a 500)."""
    tail = value[len(prefix) :] if value.startswith(prefix) else ""
    if not (tail.isascii() and tail.isdigit() and len(tail) <= 18):
        return None
    return int(tail)
