"""Kraken's private REST endpoints (`/0/private/...`): balances, orders, trades.

Every call arrives signed (`auth`); the account behind the key is handed to the handler with
the form fields. Orders and trades come from the sandbox's matching engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from tradeguard.sandbox.kraken.names import (
    order_id_of,
    trade_id_of,
    trade_txid,
    txid,
    well_formed,
)
from tradeguard.sandbox.kraken.wire import (
    INVALID_ARGUMENTS,
    UNKNOWN_ORDER,
    UNKNOWN_PAIR,
    KrakenError,
    describe,
    engine_error,
    num,
    order_json,
    trade_json,
)
from tradeguard.sandbox.orders import (
    BUY,
    HOUSE_ACCOUNT,
    LIMIT,
    LIMIT_MAKER,
    MARKET,
    SELL,
    STOP_LOSS,
    STOP_LOSS_LIMIT,
    TAKE_PROFIT,
    TAKE_PROFIT_LIMIT,
    EngineOrder,
    EngineReject,
    Trade,
)

if TYPE_CHECKING:
    from tradeguard.sandbox.kraken.server import KrakenSandbox

Fields = dict[str, str]
PAGE = 50  # ClosedOrders and TradesHistory answer 50 rows per page, newest first
INT32_MAX = 2**31 - 1
_T = TypeVar("_T")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SHORT_UUID = re.compile(r"[0-9a-fA-F]{32}")
_PLAIN_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_FREE_TEXT = re.compile(r"[\x21-\x7e]{1,18}")
_USERREF_RE = re.compile(r"-?[0-9]{1,18}")  # a userref named in `txid`
_TIF = {"GTC": "GTC", "IOC": "IOC"}
# Kraken's order types (ccxt.kraken sends stop-loss[-limit] / take-profit[-limit] with `price`
# the trigger and `price2` the limit) and the engine's.
ORDER_TYPES = {
    "market": MARKET, "limit": LIMIT, "stop-loss": STOP_LOSS, "take-profit": TAKE_PROFIT,
    "stop-loss-limit": STOP_LOSS_LIMIT, "take-profit-limit": TAKE_PROFIT_LIMIT,
}  # fmt: skip
_TIF_KINDS = (LIMIT, STOP_LOSS_LIMIT, TAKE_PROFIT_LIMIT)


def _order_kind(fields: Fields) -> tuple[str, Decimal | None, Decimal | None]:
    """The engine type, limit price and trigger price of an AddOrder request."""
    kind = ORDER_TYPES.get(fields.get("ordertype", ""))
    if kind is None:
        raise KrakenError(f"{INVALID_ARGUMENTS}:ordertype")
    if fields.get("trigger", "last") != "last":
        raise KrakenError(f"{INVALID_ARGUMENTS}:trigger")  # only the last trade price triggers
    price = _decimal(fields, "price")
    if kind == MARKET:
        return kind, None, None
    if price is None:
        raise KrakenError(f"{INVALID_ARGUMENTS}:price")
    if kind == LIMIT:
        return kind, price, None
    if kind in (STOP_LOSS, TAKE_PROFIT):
        return kind, None, price
    limit = _decimal(fields, "price2")
    if limit is None:
        raise KrakenError(f"{INVALID_ARGUMENTS}:price2")
    return kind, limit, price


def valid_cl_ord_id(value: str) -> bool:
    """Kraken's cl_ord_id forms: a UUID (with or without dashes) or up to 18 ASCII characters."""
    # fullmatch: `$` also matched before a trailing newline, taking "abc\n"
    return any(r.fullmatch(value) for r in (_UUID, _SHORT_UUID, _FREE_TEXT))


def _named(fields: Fields, name: str) -> str:
    """The pair or id in `name` ("" when absent); a malformed one is Invalid arguments."""
    value = fields.get(name) or ""
    if value and not well_formed(value):
        raise KrakenError(f"{INVALID_ARGUMENTS}:{name}")
    return value


def _ids(fields: Fields, name: str) -> list[str]:
    """The comma-separated ids in `name`; a malformed one is Invalid arguments. The 1..64
    character rule is each id's: ccxt sends QueryTrades up to 20 txids in one list."""
    ids = [p for p in (fields.get(name) or "").split(",") if p]
    if not all(map(well_formed, ids)):
        raise KrakenError(f"{INVALID_ARGUMENTS}:{name}")
    return ids


def _userref(fields: Fields) -> int | None:
    raw = fields.get("userref")
    if raw is None or raw == "":
        return None
    if not _USERREF_RE.fullmatch(raw):  # ASCII digits: int() read "٣", "1_0" and " 7"
        raise KrakenError(f"{INVALID_ARGUMENTS}:userref")
    value = int(raw)
    if not -(2**31) <= value <= INT32_MAX:
        raise KrakenError(f"{INVALID_ARGUMENTS}:userref")
    return value


def _decimal(fields: Fields, name: str, zero_ok: bool = False) -> Decimal | None:
    raw = fields.get(name)
    if raw is None or raw == "":
        return None
    if not _PLAIN_NUMBER.fullmatch(raw):  # Decimal also reads `4_9000`, ` 1 `, `4.9E4`
        raise KrakenError(f"{INVALID_ARGUMENTS}:{name}")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise KrakenError(f"{INVALID_ARGUMENTS}:{name}") from None
    if not value.is_finite() or value < 0 or (value == 0 and not zero_ok):
        raise KrakenError(f"{INVALID_ARGUMENTS}:{name}")
    return value


class KrakenPrivate:
    """Balance, BalanceEx, AddOrder, CancelOrder, CancelAll, OpenOrders, ClosedOrders,
    QueryOrders, TradesHistory, QueryTrades."""

    def __init__(self, ex: KrakenSandbox) -> None:
        self.ex = ex
        self.userrefs: dict[int, int] = {}  # engine order id -> userref
        self.cl_ord_ids: dict[int, str] = {}  # engine order id -> cl_ord_id sent

    def register(self, r: web.UrlDispatcher, wrap: Callable[..., Any]) -> None:
        routes: dict[str, Callable[[str, Fields], Any]] = {
            "Balance": self.balance, "BalanceEx": self.balance_ex, "AddOrder": self.add_order,
            "CancelOrder": self.cancel_order, "CancelAll": self.cancel_all,
            "OpenOrders": self.open_orders, "ClosedOrders": self.closed_orders,
            "QueryOrders": self.query_orders, "TradesHistory": self.trades_history,
            "QueryTrades": self.query_trades,
            "GetWebSocketsToken": self.ex.kraken_ws_private.issue,
        }  # fmt: skip
        for name, fn in routes.items():
            r.add_post(f"/0/private/{name}", wrap(fn, private=True))

    # -- balances ------------------------------------------------------------------------------
    def balance(self, account: str, fields: Fields) -> Any:
        acc = self.ex.engine.accounts[account]
        return {self.ex.asset_id(a): num(b.free + b.locked) for a, b in acc.balances.items()}

    def balance_ex(self, account: str, fields: Fields) -> Any:
        acc = self.ex.engine.accounts[account]
        return {
            self.ex.asset_id(a): {"balance": num(b.free + b.locked), "hold_trade": num(b.locked)}
            for a, b in acc.balances.items()
        }

    # -- orders --------------------------------------------------------------------------------
    def add_order(self, account: str, fields: Fields) -> Any:
        symbol = self.ex.pair_symbols.get(_named(fields, "pair").upper())
        if symbol is None:
            raise KrakenError(UNKNOWN_PAIR)
        side = {"buy": BUY, "sell": SELL}.get(fields.get("type", ""))
        if side is None:
            raise KrakenError(f"{INVALID_ARGUMENTS}:type")
        volume = _decimal(fields, "volume")
        if volume is None:
            raise KrakenError(f"{INVALID_ARGUMENTS}:volume")
        kind, price, stop_price = _order_kind(fields)
        flags = {f for f in fields.get("oflags", "").split(",") if f}
        if flags - {"post", "fciq"}:
            raise KrakenError(f"{INVALID_ARGUMENTS}:oflags")
        tif = _TIF.get(fields.get("timeinforce", "GTC").upper())
        if tif is None:
            raise KrakenError(f"{INVALID_ARGUMENTS}:timeinforce")
        cl_ord_id = fields.get("cl_ord_id") or ""
        if cl_ord_id and not valid_cl_ord_id(cl_ord_id):
            raise KrakenError(f"{INVALID_ARGUMENTS}:cl_ord_id")
        userref = _userref(fields)
        validate_only = _validate_only(fields)
        type_ = LIMIT_MAKER if kind == LIMIT and "post" in flags else kind
        now = self.ex.now_ms()
        try:
            result = self.ex.engine.place(
                account, symbol, side, type_, now, qty=volume, price=price, stop_price=stop_price,
                time_in_force=tif if type_ in _TIF_KINDS else "GTC", client_order_id=cl_ord_id,
                validate_only=validate_only,
            )  # fmt: skip
        except EngineReject as exc:
            raise engine_error(exc) from None
        side_word = fields["type"]
        descr = {"order": f"{side_word} {num(volume)} {fields['pair'].upper()}"
                           f"{describe(type_, price, stop_price)}"}  # fmt: skip
        if result.order is None:  # validate only
            return {"descr": descr}
        order = result.order
        if userref is not None:
            self.userrefs[order.order_id] = userref
        if cl_ord_id:
            self.cl_ord_ids[order.order_id] = cl_ord_id
        self.ex.publish(result, {symbol})
        return {"descr": descr, "txid": [txid(order.order_id)]}

    def _mine(self, account: str) -> list[EngineOrder]:
        return [o for o in self.ex.engine.orders.values() if o.account_id == account]

    def _find(self, account: str, fields: Fields) -> list[EngineOrder]:
        """The account's orders named by `txid` (ids or a userref) or `cl_ord_id`."""
        cl = fields.get("cl_ord_id")
        if cl:
            return [o for o in self._mine(account) if self.cl_ord_ids.get(o.order_id) == cl]
        out = []
        for part in _ids(fields, "txid"):
            oid = order_id_of(part)
            if oid is not None:
                order = self.ex.engine.orders.get(oid)
                if order is not None and order.account_id == account:
                    out.append(order)
            elif _USERREF_RE.fullmatch(part):  # ASCII digits: int() refused '²' (a 500)
                ref = int(part)
                out.extend(o for o in self._mine(account) if self.userrefs.get(o.order_id) == ref)
        return out

    def cancel_order(self, account: str, fields: Fields) -> Any:
        if not fields.get("txid") and not fields.get("cl_ord_id"):
            raise KrakenError(f"{INVALID_ARGUMENTS}:txid")
        open_ = [o for o in self._find(account, fields) if not o.is_final]
        if not open_:
            raise KrakenError(UNKNOWN_ORDER)
        for order in open_:
            self._cancel(order)
        return {"count": len(open_), "pending": False}

    def _cancel(self, order: EngineOrder) -> None:
        try:
            result = self.ex.engine.cancel(
                order.account_id, order.symbol, self.ex.now_ms(), order_id=order.order_id
            )
        except EngineReject as exc:
            raise engine_error(exc) from None
        self.ex.publish(result, {order.symbol})

    def cancel_all(self, account: str, fields: Fields) -> Any:
        open_ = [o for o in self._mine(account) if not o.is_final]
        for order in open_:
            self._cancel(order)
        return {"count": len(open_)}

    def _json(self, order: EngineOrder, with_trades: bool) -> dict[str, Any]:
        spec = self.ex.engine.markets[order.symbol]
        return order_json(
            order, spec, self._order_trades(order), self.userrefs.get(order.order_id),
            self.cl_ord_ids.get(order.order_id), with_trades,
        )  # fmt: skip

    def _filtered(self, account: str, fields: Fields) -> list[EngineOrder]:
        orders = self._mine(account)
        ref = _userref(fields)
        if ref is not None:
            orders = [o for o in orders if self.userrefs.get(o.order_id) == ref]
        cl = fields.get("cl_ord_id")
        if cl:
            orders = [o for o in orders if self.cl_ord_ids.get(o.order_id) == cl]
        return orders

    def open_orders(self, account: str, fields: Fields) -> Any:
        trades = _wants_trades(fields)
        orders = [o for o in self._filtered(account, fields) if not o.is_final]
        return {"open": {txid(o.order_id): self._json(o, trades) for o in orders}}

    def closed_orders(self, account: str, fields: Fields) -> Any:
        trades = _wants_trades(fields)
        orders = [o for o in self._filtered(account, fields) if o.is_final]
        page, count = _newest_page(orders, fields, lambda o: (o.updated_ms, o.order_id))
        return {
            "closed": {txid(o.order_id): self._json(o, trades) for o in page},
            "count": count,
        }

    def query_orders(self, account: str, fields: Fields) -> Any:
        if not fields.get("txid"):
            raise KrakenError(f"{INVALID_ARGUMENTS}:txid")
        found = self._find(account, {"txid": fields["txid"]})
        if not found:
            raise KrakenError(UNKNOWN_ORDER)
        ref = _userref(fields)
        trades = _wants_trades(fields)
        return {
            txid(o.order_id): self._json(o, trades)
            for o in found
            if ref is None or self.userrefs.get(o.order_id) == ref
        }

    # -- trades --------------------------------------------------------------------------------
    def _order_trades(self, order: EngineOrder) -> list[Trade]:
        return [
            t
            for t in self.ex.engine.trades.get(order.symbol, [])
            if order.order_id in (t.buyer_order_id, t.seller_order_id)
        ]

    def _account_trades(self, account: str) -> list[Trade]:
        return [
            t
            for trades in self.ex.engine.trades.values()
            for t in trades
            if account in (t.buyer_account, t.seller_account) and account != HOUSE_ACCOUNT
        ]

    def _trade_json(self, account: str, t: Trade) -> dict[str, Any]:
        oid = t.buyer_order_id if t.buyer_account == account else t.seller_order_id
        order = self.ex.engine.orders[oid]
        ordertype = "market" if order.kind == MARKET else "limit"
        spec = self.ex.engine.markets[t.symbol]
        return trade_json(t, spec, account, txid(oid), ordertype)

    def trades_history(self, account: str, fields: Fields) -> Any:
        trades = self._account_trades(account)
        key: Callable[[Trade], tuple[int, int]] = lambda t: (t.time_ms, t.trade_id)  # noqa: E731
        # `start` and `end` name a time or a trade txid: a txid bounds at that trade
        for name in ("start", "end"):
            tid = trade_id_of(_named(fields, name))
            if tid is not None:
                bound = [key(t) for t in trades if t.trade_id == tid]
                if not bound:
                    raise KrakenError(f"{INVALID_ARGUMENTS}:{name}")
                after = name == "start"  # start is exclusive, end inclusive
                trades = [t for t in trades if (key(t) > bound[0]) is after]
                fields = {k: v for k, v in fields.items() if k != name}
        page, count = _newest_page(trades, fields, key, end=True)
        return {
            "trades": {trade_txid(t.trade_id): self._trade_json(account, t) for t in page},
            "count": count,
        }

    def query_trades(self, account: str, fields: Fields) -> Any:
        wanted = {trade_id_of(p) for p in _ids(fields, "txid")}
        if not wanted or None in wanted:
            raise KrakenError(f"{INVALID_ARGUMENTS}:txid")
        return {
            trade_txid(t.trade_id): self._trade_json(account, t)
            for t in self._account_trades(account)
            if t.trade_id in wanted
        }


def _wants_trades(fields: Fields) -> bool:
    return fields.get("trades") in ("true", "True", "1")


def _newest_page(
    items: list[_T], fields: Fields, key: Callable[[_T], tuple[int, int]], end: bool = False
) -> tuple[list[_T], int]:
    """The `ofs` page of `items` newest first by `key` (time in ms, id): those after `start`
    (and, with `end`, up to `end`), and how many there are in all."""
    start = _seconds(fields, "start")
    stop = _seconds(fields, "end") if end else None
    if start is not None:
        items = [i for i in items if key(i)[0] / 1000 > start]
    if stop is not None:
        items = [i for i in items if key(i)[0] / 1000 <= stop]
    items.sort(key=key, reverse=True)
    ofs = _offset(fields)
    return items[ofs : ofs + PAGE], len(items)


def _offset(fields: Fields) -> int:
    """A page's `ofs`: plain ASCII digits (a Decimal such as 1e999999 would take minutes to
    turn into an int, holding the whole exchange)."""
    raw = fields.get("ofs") or "0"
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise KrakenError(f"{INVALID_ARGUMENTS}:ofs")
    return int(raw)


def _seconds(fields: Fields, name: str) -> Decimal | None:
    return _decimal(fields, name, zero_ok=True)


def _validate_only(fields: Fields) -> bool:
    """AddOrder's `validate`: true checks the order and places nothing. A client that writes
    Python's True sends "True"; taken as false, that placed the order it meant only to check."""
    value = fields.get("validate", "").strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0", ""):
        return False
    raise KrakenError(f"{INVALID_ARGUMENTS}:validate")
