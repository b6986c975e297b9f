"""Account endpoints: balances, API key restrictions and listen keys for user data streams."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from aiohttp import web

from tradeguard.sandbox.params import ApiError
from tradeguard.sandbox.wire import d8

if TYPE_CHECKING:
    from tradeguard.sandbox.server import SandboxExchange


class AccountRoutes:
    """Handlers of the account and listen-key endpoints."""

    def __init__(self, ex: SandboxExchange) -> None:
        self.ex = ex
        self.auth = ex.auth

    def register(self, r: web.UrlDispatcher) -> None:
        """Add the routes to an app's router."""
        r.add_get("/api/v3/account", self.account)
        r.add_get("/sapi/v1/account/apiRestrictions", self.api_restrictions)
        r.add_post("/api/v3/userDataStream", self.listen_key_new)
        r.add_put("/api/v3/userDataStream", self.listen_key_keepalive)
        r.add_delete("/api/v3/userDataStream", self.listen_key_close)

    async def account(self, request: web.Request) -> web.Response:
        key, params = await self.auth.signed(request)
        acc = self.ex.engine.accounts[key.account_id]
        omit_zero = params.get("omitZeroBalances", "false").lower() == "true"
        balances = [
            {"asset": a, "free": d8(b.free), "locked": d8(b.locked)}
            for a, b in sorted(acc.balances.items())
            if not (omit_zero and b.free == 0 and b.locked == 0)
        ]
        return web.json_response(
            {
                "makerCommission": 10,
                "takerCommission": 10,
                "buyerCommission": 0,
                "sellerCommission": 0,
                "commissionRates": {
                    "maker": "0.00100000",
                    "taker": "0.00100000",
                    "buyer": "0.00000000",
                    "seller": "0.00000000",
                },
                "canTrade": True,
                "canWithdraw": key.can_withdraw,
                "canDeposit": True,
                "brokered": False,
                "requireSelfTradePrevention": False,
                "preventSor": False,
                "updateTime": self.ex.now_ms(),
                "accountType": "SPOT",
                "balances": balances,
                "permissions": ["SPOT"],
                "uid": int(key.account_id.split("-")[-1]),
            }
        )

    async def api_restrictions(self, request: web.Request) -> web.Response:
        key, _ = await self.auth.signed(request)
        return web.json_response(
            {
                "ipRestrict": False,
                "createTime": key.created_ms,
                "enableReading": True,
                "enableSpotAndMarginTrading": True,
                "enableWithdrawals": key.can_withdraw,
                "enableInternalTransfer": False,
                "enableMargin": False,
                "enableFutures": False,
                "permitsUniversalTransfer": False,
                "enableVanillaOptions": False,
                "enableFixApiTrade": False,
                "enableFixReadOnly": False,
                "enablePortfolioMarginTrading": False,
            }
        )

    async def listen_key_new(self, request: web.Request) -> web.Response:
        key = self.auth.key_from_header(request)
        return web.json_response({"listenKey": self.auth.new_listen_key(key.account_id)})

    async def listen_key_keepalive(self, request: web.Request) -> web.Response:
        self.auth.key_from_header(request)
        params = dict(parse_qsl(await request.text())) | dict(request.query)
        if params.get("listenKey") not in self.auth.listen_keys:
            raise ApiError(-1125, "This listenKey does not exist.")
        return web.json_response({})

    async def listen_key_close(self, request: web.Request) -> web.Response:
        self.auth.key_from_header(request)
        params = dict(parse_qsl(await request.text())) | dict(request.query)
        self.auth.listen_keys.pop(params.get("listenKey", ""), None)
        return web.json_response({})
