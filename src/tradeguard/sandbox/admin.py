"""Admin endpoints (loopback only): faults, house book, house trades, accounts, clock."""

from __future__ import annotations

from decimal import Decimal
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
        r.add_post("/admin/withdraw", self.withdraw)
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
        symbol = text(body, "symbol")
        bids, asks = levels(body, "bids"), levels(body, "asks")
        result = self.ex.set_book(symbol, bids, asks)
        return web.json_response({"trades": len(result.trades)})

    async def trade(self, request: web.Request) -> web.Response:
        body = await request.json()
        symbol, side = text(body, "symbol"), text(body, "side")
        price, qty = amount(body.get("price"), "price"), amount(body.get("qty"), "qty")
        result = self.ex.trade_through(symbol, side, price, qty)
        return web.json_response({"trades": len(result.trades)})

    async def ws_disconnect(self, request: web.Request) -> web.Response:
        return web.json_response({"disconnected": self.ex.disconnect_websockets()})

    async def add_account(self, request: web.Request) -> web.Response:
        body = await request.json()
        account_id = self.ex.add_account(
            text(body, "api_key"),
            text(body, "secret"),
            balances(body),
            flag(body, "can_withdraw") or False,
            flag(body, "bnb_fees"),
        )
        return web.json_response({"account_id": account_id})

    async def withdraw(self, request: web.Request) -> web.Response:
        """Take free balances out of a key's account, as a withdrawal to elsewhere would:
        {"api_key": ..., "balances": {"USDT": "1000"}}; more than is free changes nothing."""
        body = await request.json()
        key = self.ex.auth.keys.get(text(body, "api_key"))
        if key is None:
            raise ValueError("api_key: no account has this key")
        acc = self.ex.engine.accounts[key.account_id]
        taken = balances(body)
        for asset, amount in taken.items():
            free = acc.bal(asset).free
            if amount > free:
                raise ValueError(
                    f"balances.{asset}={amount}: more than the {free} free (a resting order's "
                    "reserve cannot be withdrawn)"
                )
        for asset, amount in taken.items():
            acc.bal(asset).free -= amount
        return web.json_response({"balances": {a: str(acc.bal(a).free) for a in sorted(taken)}})

    async def clock(self, request: web.Request) -> web.Response:
        body = await request.json()
        offset = body.get("offset_ms")
        if (
            isinstance(offset, bool)
            or not isinstance(offset, int)
            or abs(offset) > MAX_CLOCK_OFFSET_MS
        ):
            raise ValueError(
                f"offset_ms={offset!r}: expected a whole number of milliseconds from "
                f"-{MAX_CLOCK_OFFSET_MS} to {MAX_CLOCK_OFFSET_MS} (ten years)"
            )
        self.ex.clock_offset_ms = offset
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


MAX_CLOCK_OFFSET_MS = 10 * 365 * 86_400_000
_MAX_TEXT = 256


def text(body: dict[str, Any], name: str) -> str:
    """A required string field: present, non-empty, printable, at most 256 characters."""
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > _MAX_TEXT:
        raise ValueError(f"{name}={value!r}: expected a string of 1 to {_MAX_TEXT} characters")
    if not value.isprintable():
        raise ValueError(f"{name}={value!r}: holds control characters")
    return value


def amount(value: object, field: str, zero: bool = False) -> Decimal:
    """A finite number above 0 (or from 0, with `zero`), given as a string or a JSON number."""
    try:
        result = dec(value, field)
    except ValueError:
        result = Decimal("NaN")
    if not result.is_finite() or result < 0 or (result == 0 and not zero):
        limit = ">= 0" if zero else "> 0"
        raise ValueError(f"{field}={value!r}: expected a finite number {limit}")
    return result


def levels(body: dict[str, Any], side: str) -> list[tuple[Decimal, Decimal]]:
    """A house book side: a list of [price, qty] pairs, each a finite number above 0."""
    rows = body.get(side, [])
    if not isinstance(rows, list):
        raise ValueError(f"{side}={rows!r}: expected a list of [price, qty] pairs")
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != 2:
            raise ValueError(f"{side}[{i}]={row!r}: expected a [price, qty] pair")
        out.append((amount(row[0], f"{side}[{i}] price"), amount(row[1], f"{side}[{i}] qty")))
    return out


def balances(row: dict[str, Any]) -> dict[str, Decimal]:
    """An account row's balances: asset code -> finite amount >= 0."""
    given = row.get("balances", {})
    if not isinstance(given, dict):
        raise ValueError(f"balances={given!r}: expected a table of asset -> amount")
    out = {}
    for asset, value in given.items():
        if not (asset.isascii() and asset.isalnum() and len(asset) <= 20):
            raise ValueError(f"balances key {asset!r}: expected an asset code such as USDT")
        out[asset] = amount(value, f"balances.{asset}", zero=True)
    return out


def flag(row: dict[str, Any], name: str) -> bool | None:
    """A true/false field of an account row (None when absent); "false" is no boolean."""
    value = row.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise ValueError(f"{name} must be true or false (a JSON boolean), got {value!r}")
