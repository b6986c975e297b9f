"""Polymarket's WebSocket channels on the local CLOB: `market` (books, changes, trades), `user`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from tradeguard.sandbox.auth import same_secret
from tradeguard.sandbox.binary_book import BinaryOrder, Trade
from tradeguard.sandbox.coalesce import CoalescedFeed
from tradeguard.sandbox.ws_hub import WsConn, refusal, refuse_if_down

if TYPE_CHECKING:
    from tradeguard.sandbox.polymarket.server import PolymarketExchange


async def market_ws(ex: PolymarketExchange, request: web.Request) -> web.WebSocketResponse:
    """`{"assets_ids": [...], "type": "market"}` subscribes; each book comes first in full."""
    refuse_if_down(ex.faults.refuse_ws)
    ex.hub.refuse_if_full()
    ws = web.WebSocketResponse(heartbeat=10)
    await ws.prepare(request)
    conn = WsConn(ws, "", transport=request.transport)
    ex.hub.conns.append(conn)
    try:
        async for msg in ws:
            try:
                sub = msg.json()
                assets = {str(a) for a in sub["assets_ids"]}
            except (ValueError, KeyError, TypeError, RecursionError):  # deep nesting recurses
                await ws.send_json({"error": 'expected {"assets_ids": [...], "type": "market"}'})
                continue
            if not ex.hub.widen(conn, "market", assets):
                held = next((ks for ch, ks in conn.subs.values() if ch == "market"), set())
                await ws.send_json({"error": refusal(conn, assets, held, "asset id")})
                continue
            await ws.send_json([ex.feed.snapshot(a) for a in sorted(assets) if a in ex.tokens])
    finally:
        ex.hub.conns.remove(conn)
    return ws


async def user_ws(ex: PolymarketExchange, request: web.Request) -> web.WebSocketResponse:
    """`{"auth": {"apiKey", "secret", "passphrase"}, "type": "user"}`: this account's events."""
    refuse_if_down(ex.faults.refuse_ws)
    ex.hub.refuse_if_full()
    ws = web.WebSocketResponse(heartbeat=10)
    await ws.prepare(request)
    conn: WsConn | None = None
    ex.hub.unbound += 1  # open before it authenticates: counted toward the cap all the same
    try:
        async for msg in ws:
            try:
                auth = msg.json()["auth"]
                secret, passphrase, address = ex.creds[auth["apiKey"]]
            except (ValueError, KeyError, TypeError, RecursionError):
                await ws.send_json({"error": "Unauthorized/Invalid api key"})
                await ws.close()
                break
            given = (auth.get("secret"), auth.get("passphrase"))
            if not (same_secret(given[0], secret) and same_secret(given[1], passphrase)):
                await ws.send_json({"error": "Unauthorized/Invalid api key"})
                await ws.close()
                break
            if conn is None:
                conn = WsConn(ws, address.lower(), transport=request.transport)
                ex.hub.conns.append(conn)
                ex.hub.unbound -= 1
            ex.hub.widen(conn, "user", set())
            await ws.send_json({"event_type": "subscribed", "channel": "user"})
    finally:
        if conn is not None:
            ex.hub.conns.remove(conn)
        else:
            ex.hub.unbound -= 1
    return ws


class MarketFeed(CoalescedFeed):
    """The `market` channel's book messages: `book` on subscribe, then `price_change` events.

    Changes are coalesced per event-loop turn; each `price_change` lists the levels of one
    token whose size changed, with the new size (0 removes the level), as Polymarket sends them.
    """

    def __init__(self, ex: PolymarketExchange) -> None:
        self.ex = ex
        self.sent: dict[str, dict[tuple[str, str], str]] = {}  # token -> (side, price) -> size
        super().__init__()
        ex.book.listeners.append(self.changed)

    def snapshot(self, token: str) -> dict[str, Any]:
        """The full book of `token`, after publishing what is pending (so no change is lost)."""
        self.flush()
        book = self.ex.book_json(token)
        self.sent[token] = _levels(book)
        return {"event_type": "book", **book}

    def flush(self) -> None:
        for cid in self.take_dirty():
            market = self.ex.markets.get(cid)
            if market is None:
                continue
            for token in (market.yes_token, market.no_token):
                self._publish(cid, token)

    def _publish(self, cid: str, token: str) -> None:
        book = self.ex.book_json(token)
        old, new = self.sent.get(token, {}), _levels(book)
        self.sent[token] = new
        best_bid = book["bids"][-1]["price"] if book["bids"] else "0"
        best_ask = book["asks"][-1]["price"] if book["asks"] else "1"
        changes = [
            {"asset_id": token, "price": price, "size": new.get((side, price), "0"),
             "side": side, "hash": "", "best_bid": best_bid, "best_ask": best_ask}
            for side, price in sorted(old.keys() | new.keys())
            if old.get((side, price)) != new.get((side, price))
        ]  # fmt: skip
        if changes:
            event = {
                "event_type": "price_change", "market": cid, "price_changes": changes,
                "timestamp": book["timestamp"],
            }  # fmt: skip
            self.ex.hub.publish("market", token, lambda _sid, e=event: e)  # type: ignore[misc]


def _levels(book: dict[str, Any]) -> dict[tuple[str, str], str]:
    out = {("BUY", lv["price"]): lv["size"] for lv in book["bids"]}
    out.update({("SELL", lv["price"]): lv["size"] for lv in book["asks"]})
    return out


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
        # the channel's `maker_orders` entries name no side (the CLOB's user channel)
        makers = [{k: v for k, v in m.items() if k != "side"} for m in row["maker_orders"]]
        trade: dict[str, Any] = {
            "event_type": "trade", **row, "maker_orders": makers, "matchtime": row["match_time"],
            "status": "MATCHED",
        }  # fmt: skip
        ex.hub.publish("user", "", lambda _sid, e=trade: e, account=str(row["owner"]))  # type: ignore[misc]


def publish_order(ex: PolymarketExchange, order: BinaryOrder, kind: str) -> None:
    event = {"event_type": "order", "type": kind, **ex.order_json(order)}
    ex.hub.publish("user", "", lambda _sid: event, account=order.account)
