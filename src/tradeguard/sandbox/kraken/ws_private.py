"""Kraken's authenticated websocket API v2 (`<ws_auth_url>`): the `executions` and `balances`
channels of the account a token names.

A token comes from the signed REST call `GetWebSocketsToken` (`issue`) and must be used within
`token_ttl_s` of it (900 s, as Kraken's); a socket subscribed with it keeps streaming after
that. A missing, unknown or expired token, or one of another account than the socket's, is
refused with Kraken's error shape (`ESession:Invalid session`). Connections and their caps are
`ws_conn`'s, shared with the public socket.

`executions`: a snapshot of the open orders (`snap_orders`, default on) and of the account's
last 50 fills (`snap_trades`, default off), then one update per order event: `new`, `trade`
(one per fill, `exec_id` the trade's txid as TradesHistory names it), `filled`, `canceled`,
`expired`. Fills and order states go in separate messages (a reader such as ccxt.pro tells a
message's kind by its first row). `balances`: a snapshot of every asset, then an update for each
asset an engine result moved. Every channel message carries the socket's `sequence`.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tradeguard.sandbox.kraken import ws_feed as feed
from tradeguard.sandbox.kraken.names import trade_txid, txid
from tradeguard.sandbox.kraken.wire import ordertype
from tradeguard.sandbox.kraken.ws_conn import Conn, Refused, WsEndpoint
from tradeguard.sandbox.orders import FEE_ACCOUNT, HOUSE_ACCOUNT, EngineOrder, Execution, Trade

if TYPE_CHECKING:
    from tradeguard.sandbox.kraken.server import KrakenSandbox
    from tradeguard.sandbox.orders import Result

TOKEN_TTL_S = 900.0
MAX_TOKENS = 10_000  # past it the oldest token is forgotten
TRADE_SNAPSHOT = 50
MAX_RATE_COUNT = 180
INVALID_SESSION = "ESession:Invalid session"
_FIELDS = {
    "executions": frozenset(
        {"channel", "token", "snap_orders", "snap_trades", "order_status", "ratecounter"}
    ),
    "balances": frozenset({"channel", "token", "snapshot"}),
}
_STATUS = {"NEW": "new", "CANCELED": "canceled", "EXPIRED": "expired", "REJECTED": "canceled"}


@dataclass(slots=True)
class PrivateSub:
    channel: str
    snap_orders: bool = True
    snap_trades: bool = False


class KrakenPrivateWs(WsEndpoint):
    """The authenticated socket's connections, each bound to the account of its token."""

    def __init__(self, ex: KrakenSandbox) -> None:
        super().__init__(ex)
        self.token_ttl_s = TOKEN_TTL_S
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> account, deadline (monotonic)

    # -- tokens --------------------------------------------------------------------------

    def issue(self, account: str, fields: dict[str, str]) -> dict[str, Any]:
        """`GetWebSocketsToken`: a new token for `account`."""
        now = time.monotonic()
        for token, (_, deadline) in list(self._tokens.items()):
            if now > deadline:
                del self._tokens[token]
        while len(self._tokens) >= MAX_TOKENS:
            del self._tokens[next(iter(self._tokens))]
        token = secrets.token_urlsafe(32)
        self._tokens[token] = (account, now + self.token_ttl_s)
        return {"token": token, "expires": int(self.token_ttl_s)}

    def _account(self, conn: Conn, params: dict[str, Any]) -> str:
        token = params.get("token")
        entry = self._tokens.get(token) if isinstance(token, str) else None
        if entry is None or time.monotonic() > entry[1]:
            raise Refused(INVALID_SESSION)
        if conn.account is not None and conn.account != entry[0]:
            raise Refused(INVALID_SESSION)
        return entry[0]

    # -- requests ------------------------------------------------------------------------

    def request(
        self, conn: Conn, method: str, req_id: int | None, params: Any, time_in: str
    ) -> None:
        if not isinstance(params, dict):
            raise Refused("Subscription field must be an object")
        channel = params.get("channel")
        if not isinstance(channel, str) or channel not in _FIELDS:
            raise Refused("Subscription name invalid")
        unknown = sorted(str(k) for k in params if k not in _FIELDS[channel])
        if unknown:
            raise Refused(f"Subscription object unsupported field: {unknown[0][:32]}")
        flags = {k: v for k, v in params.items() if k not in ("channel", "token")}
        for name, value in flags.items():
            if not isinstance(value, bool):
                raise Refused(f"Malformed request: {name} must be true or false")
        account = self._account(conn, params)
        if method == "unsubscribe":
            if conn.subs.pop(channel, None) is None:
                raise Refused("Subscription Not Found")
            self.acknowledge(conn, method, req_id, {"channel": channel}, time_in)
            return
        if channel in conn.subs:
            raise Refused("Already subscribed")
        conn.account = account
        if channel == "balances":
            sub = PrivateSub(channel, snap_orders=flags.get("snapshot", True))
            result = {"channel": channel, "snapshot": sub.snap_orders}
        else:
            sub = PrivateSub(
                channel, flags.get("snap_orders", True), flags.get("snap_trades", False)
            )
            snapshot = sub.snap_orders or sub.snap_trades
            result = {"channel": channel, "maxratecount": MAX_RATE_COUNT, "snapshot": snapshot,
                      "warnings": []}  # fmt: skip
        conn.subs[channel] = sub
        self.acknowledge(conn, method, req_id, result, time_in)
        self._snapshot(conn, sub)

    def _message(self, conn: Conn, channel: str, kind: str, data: list[dict[str, Any]]) -> None:
        conn.sequence += 1
        self.send(conn, {"channel": channel, "type": kind, "data": data, "sequence": conn.sequence})

    def _snapshot(self, conn: Conn, sub: PrivateSub) -> None:
        account = conn.account or ""
        if sub.channel == "balances":
            if sub.snap_orders:
                acc = self.ex.engine.accounts[account]
                rows = [_balance_row(a, b.free + b.locked) for a, b in sorted(acc.balances.items())]
                self._message(conn, "balances", "snapshot", rows)
            return
        if sub.snap_trades:
            trades = self._account_trades(account)[-TRADE_SNAPSHOT:]
            rows = [self._trade_snapshot_row(account, t) for t in trades]
            if rows:
                self._message(conn, "executions", "snapshot", rows)
        if sub.snap_orders:
            orders = [
                o for o in self.ex.engine.orders.values()
                if o.account_id == account and not o.is_final
            ]  # fmt: skip
            rows = [self._order_row(o) for o in sorted(orders, key=lambda o: o.order_id)]
            self._message(conn, "executions", "snapshot", rows)

    def _account_trades(self, account: str) -> list[Trade]:
        trades = [
            t for ts in self.ex.engine.trades.values() for t in ts
            if account in (t.buyer_account, t.seller_account)
        ]  # fmt: skip
        return sorted(trades, key=lambda t: (t.time_ms, t.trade_id))

    # -- rows ------------------------------------------------------------------------------

    def _order_ids(self, order_id: int) -> dict[str, Any]:
        private = self.ex.kraken_private
        ids: dict[str, Any] = {
            "order_id": txid(order_id), "order_userref": private.userrefs.get(order_id, 0)
        }  # fmt: skip
        cl_ord_id = private.cl_ord_ids.get(order_id)
        if cl_ord_id:
            ids["cl_ord_id"] = cl_ord_id
        return ids

    def _order_row(self, o: EngineOrder) -> dict[str, Any]:
        spec = self.ex.engine.markets[o.symbol]
        status = "partially_filled" if o.executed_qty else "new"
        return {
            **self._order_ids(o.order_id), "symbol": feed.ws_symbol(spec), "exec_type": "new",
            "order_status": status, "order_type": ordertype(o.type), "side": o.side.lower(),
            "order_qty": float(o.orig_qty), "cum_qty": float(o.executed_qty),
            "cum_cost": float(o.cum_quote),
            "avg_price": float(o.cum_quote / o.executed_qty) if o.executed_qty else 0.0,
            "limit_price": float(o.price or 0), "stop_price": float(o.stop_price or 0),
            "time_in_force": o.time_in_force, "timestamp": feed.iso(o.created_ms),
        }  # fmt: skip

    def _trade_snapshot_row(self, account: str, t: Trade) -> dict[str, Any]:
        is_buyer = t.buyer_account == account
        order_id = t.buyer_order_id if is_buyer else t.seller_order_id
        order = self.ex.engine.orders.get(order_id)
        spec = self.ex.engine.markets[t.symbol]
        maker = t.buyer_is_maker if is_buyer else not t.buyer_is_maker
        return {
            **self._order_ids(order_id), "exec_id": trade_txid(t.trade_id), "exec_type": "trade",
            "trade_id": t.trade_id, "symbol": feed.ws_symbol(spec),
            "side": "buy" if is_buyer else "sell", "last_qty": float(t.qty),
            "last_price": float(t.price), "liquidity_ind": "m" if maker else "t",
            "cost": float(t.quote_qty),
            "order_type": ordertype(order.type) if order is not None else "limit",
            "fees": [{"asset": spec.quote,
                      "qty": float(t.buyer_fee if is_buyer else t.seller_fee)}],
            "timestamp": feed.iso(t.time_ms),
        }  # fmt: skip

    def _execution_rows(self, e: Execution) -> list[dict[str, Any]]:
        """The rows one engine event makes: a fill, and its order's state when it changed."""
        spec = self.ex.engine.markets[e.symbol]
        base = {
            **self._order_ids(e.order_id), "symbol": feed.ws_symbol(spec), "side": e.side.lower(),
            "order_type": ordertype(e.type), "order_qty": float(e.orig_qty),
            "cum_qty": float(e.executed_qty), "cum_cost": float(e.cum_quote),
            "avg_price": float(e.cum_quote / e.executed_qty) if e.executed_qty else 0.0,
            "timestamp": feed.iso(e.event_ms),
        }  # fmt: skip
        if e.exec_type == "TRADE":
            done = e.status == "FILLED"
            fill = {
                **base, "exec_id": trade_txid(e.trade_id), "exec_type": "trade",
                "trade_id": e.trade_id, "last_qty": float(e.last_qty),
                "last_price": float(e.last_price), "liquidity_ind": "m" if e.is_maker else "t",
                "cost": float(e.last_qty * e.last_price),
                "order_status": "filled" if done else "partially_filled",
                "fees": [{"asset": e.commission_asset or spec.quote,
                          "qty": float(e.commission)}],
            }  # fmt: skip
            if not done:
                return [fill]
            return [fill, {**base, "exec_type": "filled", "order_status": "filled"}]
        status = _STATUS.get(e.exec_type)
        if status is None:
            return []
        row = {**base, "exec_type": status, "order_status": status}
        if status == "new":
            row.update(limit_price=float(e.price), stop_price=float(e.stop_price),
                       time_in_force=e.time_in_force)  # fmt: skip
        return [row]

    # -- engine results --------------------------------------------------------------------

    def on_result(self, result: Result, withhold_reports_of: str | None = None) -> None:
        """Send each subscriber the order events and balance moves of its own account."""
        if not self.conns:
            return
        for conn in list(self.conns):
            account = conn.account
            if account in (None, FEE_ACCOUNT, HOUSE_ACCOUNT):
                continue
            if "executions" in conn.subs and account != withhold_reports_of:
                for e in result.executions:
                    if e.account_id == account:
                        for row in self._execution_rows(e):
                            self._message(conn, "executions", "update", [row])
            assets = result.touched.get(account or "")
            if "balances" in conn.subs and assets:
                acc = self.ex.engine.accounts[account or ""]
                rows = [_balance_update(a, acc.bal(a).free + acc.bal(a).locked, self.now_iso())
                        for a in sorted(assets)]  # fmt: skip
                self._message(conn, "balances", "update", rows)


def _balance_row(asset: str, total: Any) -> dict[str, Any]:
    wallet = {"type": "spot", "id": "main", "balance": float(total)}
    return {"asset": asset, "asset_class": "currency", "balance": float(total), "wallets": [wallet]}


def _balance_update(asset: str, total: Any, when: str) -> dict[str, Any]:
    return {
        "asset": asset, "asset_class": "currency", "balance": float(total),
        "wallet_type": "spot", "wallet_id": "main", "type": "trade", "timestamp": when,
    }  # fmt: skip
