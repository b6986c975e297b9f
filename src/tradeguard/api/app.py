"""The HTTP API, WebSocket stream, metrics and dashboard of one running node.

```python
app = create_app(node)               # FastAPI; serve it with ApiServer(node, host, port)
```

Every route lives under `/api/v1`. Reads need a viewer token, actions a trader token, the paper
reset an admin token; resume, flatten, the paper reset and a switch to live also need the
token's TOTP code in `X-TOTP`. Handlers are all `async`: they run on the node's event loop, so
they never race the trading loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import Depends, FastAPI, HTTPException, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from tradeguard.api.actions import (
    PAPER_RESET,
    Confirmations,
    paper_venues,
    reset_paper_account,
)
from tradeguard.api.arb_figures import ArbFigures, execution_json, held_now
from tradeguard.api.auth import AuthError, FailureLimiter, Role, TokenInfo, TokenStore
from tradeguard.api.metrics import CONTENT_TYPE, NodeMetrics
from tradeguard.api.schemas import (
    IntentRequest,
    KillRequest,
    ModeRequest,
    ResetRequest,
    ResumeRequest,
)
from tradeguard.model.enums import TradingMode, TradingState
from tradeguard.model.events import Event
from tradeguard.model.fill import Fill
from tradeguard.model.order import Order
from tradeguard.model.position import Position
from tradeguard.portfolio import analytics
from tradeguard.portfolio.arb_summary import OUTCOMES, ArbSummary
from tradeguard.risk.engine import ResumeRefused
from tradeguard.secrets.redact import redact
from tradeguard.secrets.vault import PASSPHRASE_ENV
from tradeguard.storage.arb_repository import count_arb_executions, load_arb_executions

if TYPE_CHECKING:
    from tradeguard.node import TradingNode

API = "/api/v1"
_STATE_PATH = f"{API}/state"
STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_LIMIT = 500
_OUTCOME_PATTERN = "^(" + "|".join(OUTCOMES) + ")$"
WS_AUTH_TIMEOUT_S = 5.0
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_bearer = HTTPBearer(auto_error=False, description="an API token from `tradeguard token create`")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token (never its value) and the client address."""

    token: TokenInfo
    client: str

    @property
    def by(self) -> str:
        return f"api:{self.token.name}({self.token.id})"


@dataclass
class ApiState:
    """What the routes share: the node, the token store and the guards around them."""

    node: TradingNode
    tokens: TokenStore
    limiter: FailureLimiter
    passphrase: str | None
    metrics: NodeMetrics
    arb: ArbFigures
    confirmations: Confirmations = field(default_factory=Confirmations)

    def audit(
        self,
        kind: str,
        who: Principal | None,
        data: dict[str, Any],
        severity: str = "info",
        client: str = "",
    ) -> None:
        """Publish an API action to the bus and write the audit log at once."""
        payload = {"wall_ts": int(time.time() * 1000), **data}
        if who is not None:
            payload.update(
                token_id=who.token.id,
                token_name=who.token.name,
                role=who.token.role.label,
                client=who.client,
            )
        elif client:
            payload["client"] = client
        node = self.node
        node.bus.publish(Event(kind, node.clock.now_ms(), payload, severity=severity))
        node.flush_audit()


# JSON shapes ---------------------------------------------------------------------------------
def _s(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


def _encode_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"cannot encode a {type(value).__name__} as JSON")


def json_response(content: Any, status_code: int = 200) -> Response:
    """Encode `content` to JSON once (Decimal as its exact string), with no validation pass.

    For hot reads: FastAPI would otherwise validate the returned dict against its annotation
    and serialize it again.
    """
    body = orjson.dumps(content, default=_encode_default, option=orjson.OPT_NON_STR_KEYS)
    return Response(body, status_code, media_type="application/json")


def _clean(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in value]
    return value


def order_json(o: Order) -> dict[str, Any]:
    """Describe an order for the API."""
    return {
        "client_order_id": o.client_order_id,
        "venue_order_id": o.venue_order_id,
        "strategy_id": o.strategy_id,
        "venue": o.venue,
        "symbol": o.symbol,
        "side": o.side.value,
        "type": o.type.value,
        "amount": str(o.amount),
        "price": _s(o.price),
        "time_in_force": o.time_in_force.value,
        "reduce_only": o.reduce_only,
        "status": o.status.value,
        "filled": str(o.filled),
        "avg_price": str(o.avg_price),
        "fee": str(o.fee),
        "reason": o.reason,
        "price_bound": _s(o.price_bound),
        "stop_loss": _s(o.stop_loss),
        "take_profit": _s(o.take_profit),
        "signal": _clean(o.signal),
        "created_ts": o.created_ts,
        "updated_ts": o.updated_ts,
    }


def fill_json(f: Fill) -> dict[str, Any]:
    """Describe a fill for the API."""
    return {
        "venue": f.venue,
        "symbol": f.symbol,
        "client_order_id": f.client_order_id,
        "venue_order_id": f.venue_order_id,
        "trade_id": f.trade_id,
        "side": f.side.value,
        "price": str(f.price),
        "amount": str(f.amount),
        "fee": str(f.fee),
        "fee_asset": f.fee_asset,
        "liquidity": f.liquidity.value,
        "ts": f.ts,
    }


def position_json(p: Position, mark: Decimal | None) -> dict[str, Any]:
    """Describe an open position, valued at `mark`."""
    return {
        "venue": p.venue,
        "symbol": p.symbol,
        "strategy_id": p.strategy_id,
        "side": "long" if p.quantity > 0 else "short",
        "quantity": str(p.quantity),
        "entry_price": str(p.avg_entry),
        "mark": _s(mark),
        "unrealized_pnl": _s(p.unrealized_pnl(mark)) if mark is not None else None,
        "realized_pnl": str(p.realized_pnl),
        "fees": str(p.fees),
        "stop_loss": _s(p.stop_loss),
        "take_profit": _s(p.take_profit),
        "opened_ts": p.opened_ts,
        "status": "open",
    }


def _page(items: list[Any], limit: int, offset: int, total: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"items": items, "limit": limit, "offset": offset, "count": len(items)}
    if total is not None:
        out["total"] = total
    return out


def state_payload(node: TradingNode) -> dict[str, Any]:
    """Build the body of GET /state from the node's live objects (never cached).

    Read on every request: it must show a kill, a resume or a fill at once.
    """
    risk = node.risk
    snap = risk.snapshot()
    portfolio = node.portfolio
    stats = node.stats
    equity = portfolio.equity()
    day_start = risk.day_start_equity
    daily = snap["limits"]["daily_loss"]
    return {
        "mode": node.mode.value,
        "trading_state": risk.state.value,
        "reason": risk.state_reason,
        "by": risk.state_by,
        "kill_switch": {
            "engaged": risk.state is TradingState.HALTED and risk.last_kill is not None,
            "last": risk.last_kill,
        },
        "daily_pnl": {
            "pnl": equity - day_start if day_start is not None else None,
            "loss_used": daily.get("used"),
            "limit": daily.get("limit"),
            "used_pct": daily.get("used_pct"),
        },
        "equity": equity,
        "start_equity": stats.start_equity,
        "peak_equity": stats.peak_equity,
        "max_drawdown_pct": stats.max_drawdown_pct,
        "realized_pnl": portfolio.realized_pnl,
        "unrealized_pnl": portfolio.unrealized_pnl(),
        "fees": portfolio.fees_paid,
        "open_orders": len(node.orders.open),
        "open_positions": len(portfolio.open_positions()),
        "valuation_asset": portfolio.valuation_asset,
        "risk": snap,
        "ts": node.clock.now_ms(),
    }


class _StatePath:
    """Answer GET /state for a valid viewer token straight from the ASGI scope.

    Dashboards and monitors poll it while a replay shares the event loop, where FastAPI's
    routing, dependency resolution and exception layers cost more than the answer itself. Only
    a request the route would answer with 200 is taken here, after the same bearer parsing, rate
    limit and token check; every other one (no token, a bad or revoked one, a client being
    limited) goes on to the route, which refuses and audits it as always.
    """

    def __init__(self, app: ASGIApp, api: ApiState) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == _STATE_PATH
            and scope["method"] == "GET"
            and self._viewer(scope)
        ):
            await json_response(state_payload(self.api.node))(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _viewer(self, scope: Scope) -> bool:
        header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if header is None:
            return False
        # As HTTPBearer reads it: "<scheme> <credentials>", scheme case-insensitive.
        scheme, _, credentials = header.decode("latin-1").partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials:
            return False
        client = scope["client"][0] if scope.get("client") else "unknown"
        if self.api.limiter.blocked_for(client) > 0:
            return False
        info = self.api.tokens.verify(credentials)
        return info is not None and info.role >= Role.VIEWER


# the app ----------------------------------------------------------------------------------------
def create_app(
    node: TradingNode,
    *,
    tokens: TokenStore | None = None,
    passphrase: str | None = None,
    auth_failures_per_min: int | None = None,
) -> FastAPI:
    """Build the API, stream, metrics and dashboard for `node`."""
    limit = auth_failures_per_min or node.config.api.auth_failures_per_min
    arb = ArbFigures(node.storage)
    state = ApiState(
        node=node,
        tokens=tokens or TokenStore(node.db, node.storage),
        limiter=FailureLimiter(limit, 60.0),
        passphrase=passphrase if passphrase is not None else os.environ.get(PASSPHRASE_ENV),
        metrics=NodeMetrics(node, arb=arb),
        arb=arb,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.metrics.start()
        try:
            yield
        finally:
            await state.metrics.stop()

    app = FastAPI(
        title="tradeguard",
        version="1",
        summary="Watch and steer a trading node: every order passes the risk engine.",
        lifespan=lifespan,
    )
    app.state.api = state

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "(body)"
            ctx = e.get("ctx") or {}
            limits = {
                k: str(v)
                for k, v in ctx.items()
                if k in ("gt", "ge", "lt", "le", "max_length", "min_length", "pattern")
            }
            value = e.get("input")
            shown = redact(json.dumps(value, default=str))[:120] if value is not None else None
            msg = str(e.get("msg", "invalid"))
            errors.append({"field": loc, "value": shown, "message": redact(msg), **limits})
        summary = "; ".join(f"{x['field']} = {x['value']}: {x['message']}" for x in errors)
        return JSONResponse(
            {"error": f"invalid request: {summary}", "errors": errors}, status_code=422
        )

    # auth ---------------------------------------------------------------------------------------
    def _client(request: Request | WebSocket) -> str:
        return request.client.host if request.client is not None else "unknown"

    def _authenticate(token: str | None, client: str) -> TokenInfo:
        wait = state.limiter.blocked_for(client)
        if wait > 0:
            raise HTTPException(
                429,
                f"too many failed authentications from {client}; try again in {wait:.0f} s",
                headers={"Retry-After": str(int(wait) + 1)},
            )
        info = state.tokens.verify(token) if token else None
        if info is None:
            state.limiter.fail(client)
            state.audit(
                "api.auth_failed",
                None,
                {"reason": "missing" if not token else "invalid"},
                "warning",
                client=client,
            )
            raise HTTPException(
                401,
                "a valid API token is required: send `Authorization: Bearer <token>` "
                "(create one with `tradeguard token create --name NAME --role viewer`)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return info

    def require(role: Role) -> Callable[..., Awaitable[Principal]]:
        async def dependency(
            request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)
        ) -> Principal:
            client = _client(request)
            info = _authenticate(creds.credentials if creds is not None else None, client)
            if info.role < role:
                raise HTTPException(
                    403,
                    f"token {info.name!r} has role {info.role.label}; this needs {role.label} "
                    "or higher (create one with `tradeguard token create --role "
                    f"{role.label}`)",
                )
            return Principal(info, client)

        return dependency

    viewer = Depends(require(Role.VIEWER))
    trader = Depends(require(Role.TRADER))
    admin = Depends(require(Role.ADMIN))

    def second_factor(who: Principal, request: Request, action: str) -> None:
        code = request.headers.get("x-totp")
        if not code:
            state.limiter.fail(who.client)
            raise HTTPException(
                401, f"{action} needs a second factor: send the current TOTP code in X-TOTP"
            )
        try:
            state.tokens.verify_totp(who.token.id, code, state.passphrase)
        except AuthError as exc:
            state.limiter.fail(who.client)
            state.audit("api.totp_failed", who, {"action": action}, "warning")
            raise HTTPException(401, str(exc)) from None

    # reads --------------------------------------------------------------------------------------
    @app.get(f"{API}/health", tags=["status"])
    async def health() -> dict[str, Any]:
        """Say the API is up (no token needed)."""
        return {"status": "ok", "ts": int(time.time() * 1000)}

    @app.get(f"{API}/mode", tags=["status"])
    async def get_mode(who: Principal = viewer) -> dict[str, Any]:
        """Return the trading mode and how to change it."""
        return {
            "mode": node.mode.value,
            "switchable_at_runtime": False,
            "how_to_change": "set `mode` in the config file and restart; live also needs "
            "--confirm-live",
        }

    @app.get(f"{API}/state", tags=["status"], response_model=None)
    async def get_state(who: Principal = viewer) -> Response:
        """Return trading state, breakers, kill switch and daily P&L against its limit."""
        return json_response(state_payload(node))

    # Valid requests for the state skip the framework (see _StatePath); the route above stays
    # for the schema and for every request that must be refused.
    app.add_middleware(_StatePath, api=state)

    @app.get(f"{API}/balances", tags=["portfolio"])
    async def get_balances(who: Principal = viewer) -> dict[str, Any]:
        """Return the ledger balances per venue and asset, valued in the valuation asset."""
        items = []
        for b in node.portfolio.all_balances():
            if not b.total:
                continue
            price = node.portfolio.price_of(b.asset)
            items.append(
                {
                    "venue": b.venue,
                    "asset": b.asset,
                    "free": str(b.free),
                    "locked": str(b.locked),
                    "total": str(b.total),
                    "value": _s(b.total * price) if price is not None else None,
                }
            )
        return {"items": items, "valuation_asset": node.portfolio.valuation_asset}

    @app.get(f"{API}/positions", tags=["portfolio"])
    async def get_positions(
        who: Principal = viewer,
        status: str = Query("open", pattern="^(open|closed)$"),
        strategy_id: str | None = Query(None, max_length=64),
        limit: int = Query(100, ge=1, le=MAX_LIMIT),
        offset: int = Query(0, ge=0, le=1_000_000),
    ) -> dict[str, Any]:
        """Return open positions (live), or closed round trips from the database."""
        if status == "open":
            marks = node.portfolio.marks
            items = [
                position_json(p, marks.get(p.symbol))
                for p in node.portfolio.open_positions()
                if strategy_id is None or p.strategy_id == strategy_id
            ]
            return _page(items[offset : offset + limit], limit, offset, len(items))
        rows = node.storage.load_position_rows("closed", strategy_id, limit + offset)
        return _page([_clean(r) for r in rows[offset:]], limit, offset)

    @app.get(f"{API}/orders", tags=["orders"])
    async def get_orders(
        who: Principal = viewer,
        status: str = Query("all", pattern="^(all|open)$"),
        venue: str | None = Query(None, max_length=64),
        symbol: str | None = Query(None, max_length=64),
        strategy_id: str | None = Query(None, max_length=64),
        limit: int = Query(100, ge=1, le=MAX_LIMIT),
        offset: int = Query(0, ge=0, le=1_000_000),
    ) -> dict[str, Any]:
        """Return orders, newest first; `status=open` reads the live book of open orders."""
        if status == "open":
            live = sorted(node.orders.open_orders(), key=lambda o: o.created_ts, reverse=True)
            items = [
                o
                for o in live
                if (venue is None or o.venue == venue)
                and (symbol is None or o.symbol == symbol)
                and (strategy_id is None or o.strategy_id == strategy_id)
            ]
            return _page(
                [order_json(o) for o in items[offset : offset + limit]], limit, offset, len(items)
            )
        stored = node.storage.load_orders(
            venue=venue, symbol=symbol, strategy_id=strategy_id, limit=limit, offset=offset
        )
        known = node.orders.orders
        # The in-memory order may be ahead of its journal row (acknowledgements are written behind).
        fresh = [known.get(o.client_order_id, o) for o in stored]
        return _page([order_json(o) for o in fresh], limit, offset)

    @app.get(f"{API}/orders/{{client_order_id}}", tags=["orders"])
    async def get_order(client_order_id: str, who: Principal = viewer) -> dict[str, Any]:
        """Return one order by client order id."""
        order = node.orders.orders.get(client_order_id) or node.storage.get_order(client_order_id)
        if order is None:
            raise HTTPException(404, f"no order with client order id {client_order_id!r}")
        return order_json(order)

    @app.get(f"{API}/fills", tags=["orders"])
    async def get_fills(
        who: Principal = viewer,
        venue: str | None = Query(None, max_length=64),
        symbol: str | None = Query(None, max_length=64),
        strategy_id: str | None = Query(None, max_length=64),
        since_ts: int | None = Query(None, ge=0, le=10**15),
        limit: int = Query(100, ge=1, le=MAX_LIMIT),
        offset: int = Query(0, ge=0, le=1_000_000),
    ) -> dict[str, Any]:
        """Return fills, newest first."""
        fills = node.storage.load_fills(
            venue=venue,
            symbol=symbol,
            strategy_id=strategy_id,
            since_ts=since_ts,
            limit=limit,
            offset=offset,
            newest_first=True,
        )
        return _page([fill_json(f) for f in fills], limit, offset)

    def _trades(strategy_id: str | None, symbol: str | None, limit: int, offset: int) -> list[Any]:
        fills = node.storage.load_fills(
            symbol=symbol, strategy_id=strategy_id, limit=limit, offset=offset, newest_first=True
        )
        known = node.orders.orders
        out = []
        for f in fills:
            order = known.get(f.client_order_id) or node.storage.get_order(f.client_order_id)
            item = fill_json(f)
            item["strategy_id"] = order.strategy_id if order is not None else ""
            item["signal"] = _clean(order.signal) if order is not None else {}
            item["order_type"] = order.type.value if order is not None else None
            out.append(item)
        return out

    @app.get(f"{API}/trades", tags=["orders"])
    async def get_trades(
        who: Principal = viewer,
        strategy_id: str | None = Query(None, max_length=64),
        symbol: str | None = Query(None, max_length=64),
        limit: int = Query(50, ge=1, le=MAX_LIMIT),
        offset: int = Query(0, ge=0, le=1_000_000),
    ) -> dict[str, Any]:
        """Return recent trades (fills), each with the signal that caused its order."""
        return _page(_trades(strategy_id, symbol, limit, offset), limit, offset)

    def _strategy_ids(arb_ids: list[str]) -> list[str]:
        ids = [s.id for s in node.strategies]
        for r in node.storage.load_run_states():
            if r.strategy_id not in ids:
                ids.append(r.strategy_id)
        for o in node.orders.orders.values():
            if o.strategy_id not in ids and o.strategy_id:
                ids.append(o.strategy_id)
        ids.extend(sid for sid in arb_ids if sid not in ids)
        return ids

    def _arb_json(summary: ArbSummary) -> dict[str, Any]:
        return {
            **summary.to_json(),
            "held_now": held_now(summary.held, node.portfolio.all_balances()),
        }

    def _arb_performance(summary: ArbSummary) -> analytics.Performance:
        """Score a triangular strategy by its cycles: their legs open no positions.

        Each cycle with a fill is one trade; its profit is valued in the valuation asset at the
        current price of its start asset (a cycle whose start asset has no price is left out of
        the P&L figures, never out of the counts).
        """
        valued = []
        for r in summary.results:
            price = node.portfolio.price_of(r.start_asset)
            if price is not None:
                valued.append(r.profit * price)
        perf = analytics.performance(valued, [r.profit_pct for r in summary.results])
        n, wins = summary.with_fill, summary.profitable
        return replace(perf, trades=n, wins=wins, losses=n - wins, win_rate=wins / n if n else None)

    async def _strategy(sid: str, arb_ids: list[str]) -> dict[str, Any]:
        strat = next((s for s in node.strategies if s.id == sid), None)
        run = node.storage.load_run_state(sid)
        kind = strat.kind if strat is not None else "external"
        if strat is None and sid in arb_ids:
            kind = "triangular"
        arb: dict[str, Any] | None = None
        if kind == "triangular":
            summary = await state.arb.summary(sid)
            perf = _arb_performance(summary)
            arb = _arb_json(summary)
        else:
            rows = node.storage.load_position_rows(status="closed", strategy_id=sid)
            pnls = [r["pnl"] for r in rows if r.get("pnl") is not None]
            pcts = [r["pnl_pct"] for r in rows if r.get("pnl_pct") is not None]
            perf = analytics.performance(pnls, pcts if len(pcts) == len(pnls) else None)
        position = sum(
            (p.quantity for p in node.portfolio.open_positions() if p.strategy_id == sid),
            Decimal(0),
        )
        return {
            "id": sid,
            "kind": kind,
            "venue": strat.venue if strat is not None else None,
            "symbol": strat.symbol if strat is not None else None,
            "status": ("running" if strat is not None else "external")
            if node.risk.state is TradingState.ACTIVE
            else node.risk.state.value.lower(),
            "open_orders": sum(1 for o in node.orders.open.values() if o.strategy_id == sid),
            "position": str(position),
            "performance": perf.to_json(),
            "arb": arb,
            "run": None
            if run is None
            else {
                "total_trades": run.total_trades,
                "winning_trades": run.winning_trades,
                "losing_trades": run.losing_trades,
                "total_pnl": str(run.total_pnl),
                "last_signal_ts": run.last_signal_ts,
                "last_trade_ts": run.last_trade_ts,
            },
        }

    for prefix, tag in (("strategies", "strategies"), ("bots", "bots")):

        @app.get(f"{API}/{prefix}", tags=[tag], name=f"list_{prefix}")
        async def list_strategies(who: Principal = viewer) -> dict[str, Any]:
            """Return every strategy (bot) with its status and performance summary.

            A triangular strategy is scored by its arbitrage cycles and carries their summary
            in `arb` (see GET /arb/summary).
            """
            arb_ids = state.arb.strategy_ids()
            return {"items": [await _strategy(sid, arb_ids) for sid in _strategy_ids(arb_ids)]}

        @app.get(f"{API}/{prefix}/{{strategy_id}}", tags=[tag], name=f"get_{prefix}")
        async def get_strategy(strategy_id: str, who: Principal = viewer) -> dict[str, Any]:
            """Return one strategy (bot) with its status and performance summary."""
            arb_ids = state.arb.strategy_ids()
            if strategy_id not in _strategy_ids(arb_ids):
                raise HTTPException(
                    404, f"no strategy {strategy_id!r}; GET {API}/strategies lists them"
                )
            return await _strategy(strategy_id, arb_ids)

        @app.get(f"{API}/{prefix}/{{strategy_id}}/trades", tags=[tag], name=f"{prefix}_trades")
        async def strategy_trades(
            strategy_id: str,
            who: Principal = viewer,
            limit: int = Query(50, ge=1, le=MAX_LIMIT),
            offset: int = Query(0, ge=0, le=1_000_000),
        ) -> dict[str, Any]:
            """Return a strategy's (bot's) recent trades, each with the signal behind it."""
            if strategy_id not in _strategy_ids(state.arb.strategy_ids()):
                raise HTTPException(404, f"no strategy {strategy_id!r}")
            return _page(_trades(strategy_id, None, limit, offset), limit, offset)

    # arbitrage ----------------------------------------------------------------------------------
    def _window(since_ts: int | None, until_ts: int | None) -> None:
        if since_ts is not None and until_ts is not None and until_ts <= since_ts:
            raise RequestValidationError(
                [
                    {
                        "loc": ("query", "until_ts"),
                        "msg": f"must be after since_ts={since_ts} (the window is [since, until))",
                        "type": "value_error",
                        "input": until_ts,
                        "ctx": {"gt": since_ts},
                    }
                ]
            )

    @app.get(f"{API}/arb/executions", tags=["arbitrage"])
    async def get_arb_executions(
        who: Principal = viewer,
        strategy_id: str | None = Query(None, max_length=64),
        outcome: str | None = Query(None, pattern=_OUTCOME_PATTERN),
        since_ts: int | None = Query(None, ge=0, le=10**15, description="epoch ms, inclusive"),
        until_ts: int | None = Query(None, ge=0, le=10**15, description="epoch ms, exclusive"),
        limit: int = Query(50, ge=1, le=MAX_LIMIT),
        offset: int = Query(0, ge=0, le=1_000_000),
    ) -> dict[str, Any]:
        """Return recorded arbitrage cycles, newest first: expected versus actual, every order."""
        _window(since_ts, until_ts)
        rows = load_arb_executions(
            node.storage, strategy_id=strategy_id, outcome=outcome, since_ts=since_ts,
            until_ts=until_ts, limit=limit, offset=offset, newest_first=True,
        )  # fmt: skip
        total = count_arb_executions(
            node.storage, strategy_id=strategy_id, outcome=outcome, since_ts=since_ts,
            until_ts=until_ts,
        )  # fmt: skip
        return _page([execution_json(r) for r in rows], limit, offset, total)

    @app.get(f"{API}/arb/summary", tags=["arbitrage"])
    async def get_arb_summary(
        who: Principal = viewer,
        strategy_id: str | None = Query(None, max_length=64),
        since_ts: int | None = Query(None, ge=0, le=10**15, description="epoch ms, inclusive"),
        until_ts: int | None = Query(None, ge=0, le=10**15, description="epoch ms, exclusive"),
    ) -> dict[str, Any]:
        """Return arbitrage figures: cycles by outcome, profit, slippage, latency, held assets."""
        _window(since_ts, until_ts)
        summary = await state.arb.summary(strategy_id, since_ts, until_ts)
        return {
            "strategy_id": strategy_id,
            "since_ts": since_ts,
            "until_ts": until_ts,
            **_arb_json(summary),
        }

    @app.get(f"{API}/equity", tags=["portfolio"])
    async def get_equity(
        who: Principal = viewer, points: int = Query(500, ge=2, le=5000)
    ) -> dict[str, Any]:
        """Return the equity curve and its drawdown (percent from the running peak)."""
        curve = list(node.equity_curve)
        now = node.clock.now_ms()
        if not curve or curve[-1][0] < now:
            curve.append((now, node.portfolio.equity()))
        if len(curve) > points:
            step = len(curve) / points
            curve = [curve[int(i * step)] for i in range(points - 1)] + [curve[-1]]
        dd = analytics.drawdowns([e for _, e in curve])
        return {
            "points": [
                {"ts": t, "equity": str(e), "drawdown_pct": round(d, 4)}
                for (t, e), d in zip(curve, dd, strict=True)
            ],
            "max_drawdown_pct": round(max(dd, default=0.0), 4),
        }

    @app.get(f"{API}/events", tags=["status"])
    async def get_events(
        who: Principal = viewer,
        kind_prefix: str | None = Query(None, max_length=64),
        limit: int = Query(100, ge=1, le=MAX_LIMIT),
    ) -> dict[str, Any]:
        """Return recent audit-log events, newest first."""
        node.flush_audit()
        events = node.storage.load_events(kind_prefix=kind_prefix, limit=limit)
        return {"items": [_event_json(e) for e in events]}

    # actions ------------------------------------------------------------------------------------
    @app.post(f"{API}/risk/validate", tags=["orders"])
    async def validate(body: IntentRequest, who: Principal = trader) -> dict[str, Any]:
        """Run the risk checks on an intent without placing anything."""
        intent = body.to_intent(who.by)
        if intent.venue not in node.venues:
            return {
                "approved": False,
                "code": "UNKNOWN_VENUE",
                "reason": f"unknown venue {intent.venue!r}; known: {sorted(node.venues)}",
            }
        decision = node.risk.check(intent, node.orders, node.market, dry_run=True)
        state.audit("api.validate", who, {"symbol": intent.symbol, "code": decision.code})
        return {
            "approved": decision.approved,
            "code": decision.code,
            "reason": decision.reason,
            "rule": decision.rule,
            "value": _s(decision.value),
            "limit": _s(decision.limit),
            "price_bound": _s(decision.price_bound),
        }

    @app.post(
        f"{API}/orders",
        tags=["orders"],
        status_code=201,
        responses={200: {"description": "denied or rejected: no order is working"}},
    )
    async def post_order(body: IntentRequest, who: Principal = trader) -> JSONResponse:
        """Send an external intent down the one order path: risk, journal, venue."""
        intent = body.to_intent(who.by)
        result = await node.submit(intent)
        out: dict[str, Any] = {
            "status": result.status,
            "code": result.code or "OK",
            "reason": result.reason,
        }
        if result.order is not None:
            out["client_order_id"] = result.order.client_order_id
            out["order"] = order_json(result.order)
        state.audit(
            "api.order",
            who,
            {
                "symbol": intent.symbol,
                "side": intent.side.value,
                "amount": str(intent.amount),
                "status": result.status,
                "code": out["code"],
                "client_order_id": out.get("client_order_id"),
            },
        )
        return JSONResponse(out, status_code=201 if result.ok else 200)

    @app.post(f"{API}/kill", tags=["control"])
    async def kill(body: KillRequest, request: Request, who: Principal = trader) -> dict[str, Any]:
        """Halt trading and cancel every open order; `flatten` (needs X-TOTP) closes positions."""
        if body.flatten:
            second_factor(who, request, "flatten")
        report = await node.kill(body.reason, who.by, flatten=body.flatten)
        state.audit(
            "api.kill",
            who,
            {
                "reason": body.reason,
                "flatten": body.flatten,
                "cancelled": len(report.get("cancelled", [])),
            },
            "critical",
        )
        return {"trading_state": node.risk.state.value, "report": _clean(report)}

    @app.post(f"{API}/resume", tags=["control"])
    async def resume(body: ResumeRequest, request: Request, who: Principal = trader) -> Any:
        """Leave HALTED/REDUCING (needs X-TOTP); refused (409) while a daily-loss halt holds."""
        second_factor(who, request, "resume")
        before = node.risk.state.value
        try:
            node.risk.resume(who.by, body.reason)
        except ResumeRefused as exc:
            state.audit("api.resume_refused", who, {"reason": body.reason, "why": str(exc)})
            return JSONResponse({"error": str(exc), "trading_state": before}, status_code=409)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        state.audit("api.resume", who, {"reason": body.reason, "from": before}, "warning")
        return {"trading_state": node.risk.state.value, "from": before}

    @app.put(f"{API}/mode", tags=["control"])
    async def put_mode(body: ModeRequest, request: Request, who: Principal = trader) -> Any:
        """Switch mode: only a restart can, so any real change answers 409 saying how."""
        if body.mode is TradingMode.LIVE:
            second_factor(who, request, "switching to live")
        current = node.mode
        if body.mode is current:
            return {"mode": current.value, "changed": False}
        state.audit("api.mode_refused", who, {"from": current.value, "to": body.mode.value})
        how = f'set mode = "{body.mode.value}" in the config file and restart the node'
        if body.mode is TradingMode.LIVE:
            how += " with `tradeguard run --confirm-live` (live trading is an explicit opt-in)"
        return JSONResponse(
            {
                "error": f"switching from {current.value} to {body.mode.value} needs a restart: "
                "venues and the clock are fixed when the node starts; " + how,
                "mode": current.value,
                "changed": False,
            },
            status_code=409,
        )

    @app.post(f"{API}/paper/reset", tags=["control"])
    async def paper_reset(body: ResetRequest, request: Request, who: Principal = admin) -> Any:
        """Reset the paper account: call once for a confirmation code, again with it (X-TOTP)."""
        if node.mode is TradingMode.LIVE or not paper_venues(node):
            return JSONResponse(
                {"error": f"no paper account to reset in {node.mode.value} mode"}, status_code=409
            )
        if body.confirm is None:
            code = state.confirmations.issue(PAPER_RESET, who.token.id)
            state.audit("api.paper_reset_requested", who, {})
            return {
                "confirm": code,
                "expires_in_s": int(state.confirmations.ttl_s),
                "next": f'POST {API}/paper/reset with {{"confirm": "<code>"}} and X-TOTP '
                "to cancel open orders, close positions and restore the configured "
                "balances",
            }
        second_factor(who, request, "paper reset")
        if not state.confirmations.redeem(body.confirm, PAPER_RESET, who.token.id):
            return JSONResponse(
                {"error": "the confirmation code is unknown, used or expired; ask for a new one"},
                status_code=409,
            )
        report = await reset_paper_account(node, who.by)
        state.audit("api.paper_reset", who, {"cancelled": len(report["cancelled"])}, "warning")
        return {"reset": True, "report": _clean(report)}

    # metrics, stream, dashboard ----------------------------------------------------------------
    @app.get("/metrics", tags=["status"])
    async def metrics(who: Principal = viewer) -> Response:
        """Prometheus metrics (viewer token: set `authorization` in the scrape config)."""
        await state.metrics.collect_arb()
        return Response(state.metrics.render(), media_type=CONTENT_TYPE)

    @app.websocket(f"{API}/stream")
    async def stream(ws: WebSocket) -> None:
        """Push every event as JSON; authenticate with ?token= or a first {"token": ...}."""
        await ws.accept()
        client = _client(ws)
        token = ws.query_params.get("token")
        try:
            if not token:
                first = await asyncio.wait_for(ws.receive_text(), WS_AUTH_TIMEOUT_S)
                with contextlib.suppress(ValueError, AttributeError):
                    token = json.loads(first).get("token")
            info = _authenticate(token, client)
        except (HTTPException, TimeoutError, WebSocketDisconnect) as exc:
            reason = exc.detail if isinstance(exc, HTTPException) else "authentication timed out"
            with contextlib.suppress(Exception):
                await ws.close(code=4401, reason=str(reason)[:120])
            return
        queue = node.bus.queue(2_000)
        await ws.send_text(
            json.dumps({"type": "hello", "token_id": info.id, "role": info.role.label})
        )
        closed = asyncio.Event()

        async def watch() -> None:
            with contextlib.suppress(Exception):
                while True:
                    msg = await ws.receive()
                    if msg["type"] == "websocket.disconnect":
                        break
            closed.set()

        watcher = asyncio.create_task(watch())
        try:
            while not closed.is_set():
                getter = asyncio.ensure_future(queue.get())
                stopper = asyncio.ensure_future(closed.wait())
                done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                stopper.cancel()
                await ws.send_text(redact(json.dumps(_event_json(getter.result()), default=str)))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            node.bus.release(queue)
            watcher.cancel()

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    return app


def _event_json(e: Event) -> dict[str, Any]:
    return {
        "type": "event",
        "kind": e.kind,
        "ts": e.ts,
        "venue": e.venue,
        "symbol": e.symbol,
        "strategy_id": e.strategy_id,
        "severity": e.severity,
        "data": _clean(e.data),
    }


def mutating_routes(app: FastAPI) -> list[tuple[str, str]]:
    """List (method, path) of every state-changing operation in the app's OpenAPI schema."""
    out = []
    for path, ops in app.openapi().get("paths", {}).items():
        for method in ops:
            if method.upper() in _MUTATING:
                out.append((method.upper(), path))
    return sorted(out)
