"""Polymarket's WebSocket channels on the local CLOB: `market` (books, trades) and `user`."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tradeguard.sandbox.binary_book import BinaryOrder, Trade
from tradeguard.sandbox.ws_hub import WsConn

if TYPE_CHECKING:
    from tradeguard.sandbox.polymarket.server import PolymarketExchange


async def market_ws(ex: PolymarketExchange, request: web.Request) -> web.WebSocketResponse:
    """`{"assets_ids": [...], "type": "market"}` subscribes; each book comes first in full."""
    ws = web.WebSocketResponse(heartbeat=10)
    await ws.prepare(request)
    conn = WsConn(ws, "")
    ex.hub.conns.append(conn)
    try:
        async for msg in ws:
            try:
                sub = msg.json()
                assets = {str(a) for a in sub["assets_ids"]}
            except (ValueError, KeyError, TypeError):
                await ws.send_json({"error": 'expected {"assets_ids": [...], "type": "market"}'})
                continue
            ex.hub.subscribe(conn, "market", assets)
            await ws.send_json([
                {"event_type": "book", **ex.book_json(a)} for a in sorted(assets) if a in ex.tokens
            ])  # fmt: skip
    finally:
        ex.hub.conns.remove(conn)
    return ws


async def user_ws(ex: PolymarketExchange, request: web.Request) -> web.WebSocketResponse:
    """`{"auth": {"apiKey", "secret", "passphrase"}, "type": "user"}`: this account's events."""
    ws = web.WebSocketResponse(heartbeat=10)
    await ws.prepare(request)
    conn: WsConn | None = None
    try:
        async for msg in ws:
            try:
                auth = msg.json()["auth"]
                secret, passphrase, address = ex.creds[auth["apiKey"]]
            except (ValueError, KeyError, TypeError):
                await ws.send_json({"error": "Unauthorized/Invalid api key"})
                await ws.close()
                break
            if not (
                hmac.compare_digest(str(auth.get("secret", "")), secret)
                and hmac.compare_digest(str(auth.get("passphrase", "")), passphrase)
            ):
                await ws.send_json({"error": "Unauthorized/Invalid api key"})
                await ws.close()
                break
            if conn is None:
                conn = WsConn(ws, address.lower())
                ex.hub.conns.append(conn)
            ex.hub.subscribe(conn, "user", set())
            await ws.send_json({"event_type": "subscribed", "channel": "user"})
    finally:
        if conn is not None:
            ex.hub.conns.remove(conn)
    return ws


def publish_book(ex: PolymarketExchange, condition_id: str) -> None:
    market = ex.markets[condition_id]
    for token in (market.yes_token, market.no_token):
        book = {"event_type": "book", **ex.book_json(token)}
        ex.hub.publish("market", token, lambda _sid, b=book: b)  # type: ignore[misc]


def publish_trades(ex: PolymarketExchange, trades: list[Trade], rows: list[dict[str, Any]]) -> None:
    """Last trade prices on the market channel; each side's trade row on its user channel."""
    for t in trades:
        market = ex.markets[t.market]
        for token, price in ((market.yes_token, t.yes_price), (market.no_token, 1 - t.yes_price)):
            event = {
                "event_type": "last_trade_price", "asset_id": token, "market": t.market,
                "price": str(price), "size": str(t.size), "timestamp": str(t.ts),
            }  # fmt: skip
            ex.hub.publish("market", token, lambda _sid, e=event: e)  # type: ignore[misc]
    for row in rows:
        event = {"event_type": "trade", **row, "status": "MATCHED"}
        ex.hub.publish("user", "", lambda _sid, e=event: e, account=str(row["owner"]))  # type: ignore[misc]


def publish_order(ex: PolymarketExchange, order: BinaryOrder, kind: str) -> None:
    event = {"event_type": "order", "type": kind, **ex.order_json(order)}
    ex.hub.publish("user", "", lambda _sid: event, account=order.account)
