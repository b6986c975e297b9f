"""The dependencies every router shares: the API state, the caller and their role, TOTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request, WebSocket
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tradeguard.api.auth import AuthError, Role, TokenInfo
from tradeguard.api.clients import client_address
from tradeguard.api.state import ApiState, Principal
from tradeguard.node.health import STARTING_REASON

API = "/api/v1"
MAX_LIMIT = 500

# Query parameters several routes take, each range defined once
VenueParam = Annotated[str | None, Query(min_length=1, max_length=64)]
SinceTsParam = Annotated[int | None, Query(ge=0, le=10**15, description="epoch ms, inclusive")]
LimitParam = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
OffsetParam = Annotated[int, Query(ge=0, le=1_000_000)]

bearer_scheme = HTTPBearer(
    auto_error=False, description="an API token from `tradeguard token create`"
)


def api_state(request: Request) -> ApiState:
    """Return the API state of the app serving `request`."""
    state: ApiState = request.app.state.api
    return state


def client_of(conn: Request | WebSocket) -> str:
    """Return the caller's address (behind a trusted proxy, the one it forwards)."""
    known = conn.scope.get("state", {}).get("client")
    if isinstance(known, str):
        return known
    api: ApiState = conn.app.state.api
    return client_address(conn.scope, api.proxies)


def authenticate(
    state: ApiState,
    token: str | None,
    client: str,
    channel: str = "http",
    reason: str | None = None,
) -> TokenInfo:
    """Return the token's info, or raise 401 (counted, audited) or 429 (client over the limit).

    A valid token always passes: the failed-auth limit holds back guessing, never a holder.
    """
    info = state.tokens.verify(token) if token else None
    if info is not None:
        return info
    limiter = state.limiter
    wait = limiter.blocked_for(client, everyone=False)
    if wait > 0:
        raise HTTPException(
            429,
            f"too many failed authentications from {client}; try again in {wait:.0f} s",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    wait = limiter.everyone_blocked_for()
    if wait > 0:  # one guesser holding many networks: no one without a valid token gets in
        raise HTTPException(
            429,
            f"too many failed authentications from all clients ({limiter.global_limit} within "
            f"{limiter.window_s:g} s, api.auth_failures_per_min_global); try again in "
            f"{wait:.0f} s (a valid token still passes)",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    state.limiter.fail(client)
    state.audit(
        "api.auth_failed",
        None,
        {"reason": reason or ("missing" if not token else "invalid"), "channel": channel},
        "warning",
        client=client,
    )
    raise HTTPException(
        401,
        "a valid API token is required: send `Authorization: Bearer <token>` "
        "(create one with `tradeguard token create --name NAME --role viewer`)",
        headers={"WWW-Authenticate": "Bearer"},
    )


def bot_scope(info: TokenInfo) -> str:
    """Say why a token bound to a bot is refused a route of the whole account."""
    return (
        f"token {info.name!r} is bound to bot {info.bot!r}; it reads and trades only as that "
        "bot, through /api/v1/safety, /api/v1/trades and /api/v1/bots/{bot}/stats"
    )


def require(role: Role, bots: bool = False) -> Callable[..., Awaitable[Principal]]:
    """Build the dependency admitting a token of `role` or higher.

    A token bound to a bot passes only routes built with `bots=True`, which answer or act for
    that bot alone (they check the bot themselves): the account-wide reads refuse it.
    """

    async def dependency(
        request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)
    ) -> Principal:
        client = client_of(request)
        info = request.scope.get("state", {}).get("token")  # checked at the gate
        if not isinstance(info, TokenInfo):
            token = creds.credentials if creds is not None else None
            info = authenticate(api_state(request), token, client)
        if info.bot is not None and not bots:
            raise HTTPException(403, bot_scope(info))
        if info.role < role:
            raise HTTPException(
                403,
                f"token {info.name!r} has role {info.role.label}; this needs {role.label} "
                "or higher (create one with `tradeguard token create --role "
                f"{role.label}`)",
            )
        return Principal(info, client)

    return dependency


viewer: Any = Depends(require(Role.VIEWER))
trader: Any = Depends(require(Role.TRADER))
admin: Any = Depends(require(Role.ADMIN))
bot_trader: Any = Depends(require(Role.TRADER, bots=True))
bot_viewer: Any = Depends(require(Role.VIEWER, bots=True))  # the route reads one bot's rows
state_dep: Any = Depends(api_state)


class NotStarted(Exception):
    """The node's markets are not loaded yet (`tradeguard run` serves the API while it
    starts): answered 503 STARTING with Retry-After, as `POST /orders` answers."""


def require_started(api: ApiState = state_dep) -> None:
    """Refuse (NotStarted) a request that would act on the node before its markets load."""
    if not api.node.markets_loaded:
        raise NotStarted


started: Any = Depends(require_started)
STARTING_RESPONSE: dict[int | str, dict[str, Any]] = {
    503: {"description": "the node is starting (markets not loaded): retry"}
}


def starting_response() -> JSONResponse:
    """The answer to an order or a bot's trade sent before the node's markets are loaded."""
    refused = {"status": "denied", "code": "STARTING", "reason": STARTING_REASON}
    return JSONResponse(refused, status_code=503, headers={"Retry-After": "1"})


def second_factor(
    state: ApiState, who: Principal, request: Request, action: str, held: bool = True
) -> None:
    """Check the TOTP code in X-TOTP for `action`; raise 401 saying what is wrong.

    Wrong codes count against the token too: past `api.auth_failures_per_min` of them within
    the minute its codes are not checked (429) until they age out, from whatever address, so a
    holder of the token cannot guess them without end. The kill is checked still (`held=False`):
    the emergency stop above all. Wrong and missing codes come from the holder of a valid token:
    they count against that token and the address, never in the budget all clients share
    (`api.auth_failures_per_min_global`), which one stolen token would otherwise spend for
    everyone. A token's wrong codes are counted in a table of their own, apart from the
    addresses: requests from many of them push no token's count out.
    """
    wait = state.limiter.code_blocked_for(who.token.id) if held else 0.0
    if wait > 0:
        raise HTTPException(
            429,
            f"too many wrong TOTP codes for token {who.token.name!r}; try again in {wait:.0f} s",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    code = request.headers.get("x-totp")
    if len(set(request.headers.getlist("x-totp"))) > 1:  # which one was meant? (a guess each)
        state.limiter.fail(who.client, everyone=False)
        state.limiter.code_fail(who.token.id)
        raise HTTPException(401, "X-TOTP is given twice with different values: send one code")
    if not code:
        state.limiter.fail(who.client, everyone=False)
        if not state.tokens.has_totp(who.token.id):
            # asking for a code the token cannot have sends its holder looking for it
            raise HTTPException(
                401,
                f"{action} needs a second factor, and token {who.token.name!r} has no TOTP "
                f"second factor; an admin runs `tradeguard token totp-setup --name "
                f"{who.token.name}` for it, then send its current code in X-TOTP",
            )
        raise HTTPException(
            401, f"{action} needs a second factor: send the current TOTP code in X-TOTP"
        )
    try:
        state.tokens.verify_totp(who.token.id, code, state.passphrase)
    except AuthError as exc:
        state.limiter.fail(who.client, everyone=False)
        state.limiter.code_fail(who.token.id)
        state.audit("api.totp_failed", who, {"action": action}, "warning")
        raise HTTPException(401, str(exc)) from None
