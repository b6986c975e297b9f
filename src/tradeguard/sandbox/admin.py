"""Admin endpoints (loopback only): faults, house book, house trades, accounts, clock."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from tradeguard.model.errors import ConfigError
from tradeguard.model.money import dec

if TYPE_CHECKING:
    from tradeguard.sandbox.server import SandboxExchange


class AdminRoutes:
    """Handlers of `/admin/*`."""

    def __init__(self, ex: SandboxExchange) -> None:
        self.ex = ex

    def register(self, r: web.UrlDispatcher) -> None:
        """Add the routes to an app's router."""
        r.add_get("/admin/faults", self.get_faults)
        r.add_post("/admin/faults", self.set_faults)
        r.add_post("/admin/faults/reset", self.reset_faults)
        r.add_post("/admin/book", self.book)
        r.add_post("/admin/trade", self.trade)
        r.add_post("/admin/ws/disconnect", self.ws_disconnect)
        r.add_post("/admin/accounts", self.add_account)
        r.add_post("/admin/clock", self.clock)
        r.add_get("/admin/replay", self.replay)
        r.add_post("/admin/replay", self.set_replay)

    async def get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self.ex.faults.to_dict())

    async def set_faults(self, request: web.Request) -> web.Response:
        try:
            self.ex.faults.update(await request.json())
        except ConfigError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(self.ex.faults.to_dict())

    async def reset_faults(self, request: web.Request) -> web.Response:
        self.ex.faults.reset()
        return web.json_response(self.ex.faults.to_dict())

    async def book(self, request: web.Request) -> web.Response:
        body = await request.json()
        result = self.ex.set_book(body["symbol"], body.get("bids", []), body.get("asks", []))
        return web.json_response({"trades": len(result.trades)})

    async def trade(self, request: web.Request) -> web.Response:
        body = await request.json()
        result = self.ex.trade_through(body["symbol"], body["side"], body["price"], body["qty"])
        return web.json_response({"trades": len(result.trades)})

    async def ws_disconnect(self, request: web.Request) -> web.Response:
        return web.json_response({"disconnected": self.ex.disconnect_websockets()})

    async def add_account(self, request: web.Request) -> web.Response:
        body = await request.json()
        account_id = self.ex.add_account(
            body["api_key"],
            body["secret"],
            {k: dec(str(v), k) for k, v in body.get("balances", {}).items()},
            bool(body.get("can_withdraw", False)),
            flag(body, "bnb_fees"),
        )
        return web.json_response({"account_id": account_id})

    async def clock(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.ex.clock_offset_ms = int(body["offset_ms"])
        return web.json_response({"offset_ms": self.ex.clock_offset_ms, "now_ms": self.ex.now_ms()})

    async def replay(self, request: web.Request) -> web.Response:
        """Each replayed market: its file, speed and time shift (recorded time + shift_ms)."""
        return web.json_response({"replays": [r.describe() for r in self.ex.replays]})

    async def set_replay(self, request: web.Request) -> web.Response:
        """Change the speed of every replay (or of `symbol`'s) from now on: {"speed": "60"}."""
        body = await request.json()
        chosen = [r for r in self.ex.replays if body.get("symbol") in (None, r.source.symbol)]
        if not chosen:
            return web.json_response({"error": f"no replay of {body.get('symbol')}"}, status=404)
        try:
            speed = dec(str(body.get("speed")), "speed")
            for r in chosen:
                r.set_speed(speed)
        except (ConfigError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"replays": [r.describe() for r in self.ex.replays]})


def flag(row: dict[str, Any], name: str) -> bool | None:
    """A true/false field of an account row (None when absent); "false" is no boolean."""
    value = row.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise ValueError(f"{name} must be true or false (a JSON boolean), got {value!r}")
