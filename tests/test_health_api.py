"""GET /api/v1/health over HTTP on 127.0.0.1: ok with 200, degraded or down with 503, and why.

A sandbox node streams from an in-process sandbox; its own controls (a silenced stream, venue
errors, the kill switch, a stop) move the answer. No token is needed unless `verbose` is asked.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from live_support import move_books, sandbox_config, two_symbol_sandbox, write_vault
from test_api_support import Tokens, bearer, build_app, replayed_node
from tradeguard.api.server import ApiServer
from tradeguard.marketdata.live.subscriptions import Subscription
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.market import Quote
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.node.health import assess
from tradeguard.sandbox.testing import eventually

HEALTH = "/api/v1/health"
D = Decimal


@contextlib.asynccontextmanager
async def served(node: TradingNode) -> AsyncIterator[tuple[httpx.AsyncClient, Tokens]]:
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            yield http, tokens
    finally:
        await server.stop()


async def _until(http: httpx.AsyncClient, check: Any, timeout_s: float = 10.0) -> httpx.Response:
    """GET the health until `check(response)` holds (bounded); return that response."""
    last: list[httpx.Response] = []

    async def probe() -> bool:
        last[:] = [await http.get(HEALTH)]
        return bool(check(last[0]))

    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await probe():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"health never matched; last answer {last[0].json()}")
        await asyncio.sleep(0.05)
    return last[0]


def _check(r: httpx.Response, name: str) -> dict[str, Any]:
    checks: dict[str, Any] = r.json()["checks"]
    return checks[name]  # type: ignore[no-any-return]


async def test_a_live_node_is_ok_then_degraded_by_a_stale_stream_and_down_once_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_vault(tmp_path, monkeypatch)
    async with two_symbol_sandbox() as ex:
        config = sandbox_config(tmp_path, ex, [])
        config.risk.stale_data_s = 1
        config.venues[0].symbols = ["BTC/USDT", "ETH/USDT"]
        node = TradingNode(config)
        await node.start()
        mover = asyncio.create_task(move_books(ex))
        run: asyncio.Task[Any] | None = None
        try:
            async with served(node) as (http, tokens):
                before = await http.get(HEALTH)
                assert before.status_code == 200, before.json()
                assert _check(before, "heartbeat")["state"] == "not_live"
                run = asyncio.create_task(node.run_live())
                await eventually(lambda: node.live is not None)
                assert node.live is not None
                node.live.subscribe(
                    Subscription(kind, "binance", sym, depth=5 if kind == "book" else 0)
                    for sym in ("BTC/USDT", "ETH/USDT") for kind in ("book", "quotes")
                )  # fmt: skip
                ok = await _until(
                    http,
                    lambda r: (
                        _check(r, "market_data")["streams"] == 4
                        and _user_stream(r)["state"] == "connected"
                        and r.is_success
                    ),
                )
                body = ok.json()
                assert (ok.status_code, body["status"], body["mode"]) == (200, "ok", "sandbox")
                assert _check(ok, "heartbeat")["state"] == "beating"
                assert _check(ok, "heartbeat")["age_s"] < 5
                [(name, venue)] = _check(ok, "venues")["venues"].items()
                assert (name, venue["breaker"], venue["user_stream"]["state"]) == (
                    "binance", "closed", "connected",
                ), venue  # fmt: skip

                ex.faults.update({"silent_streams": ["ethusdt@depth"]})
                stale = await _until(http, lambda r: r.json()["status"] == "degraded")
                assert stale.status_code == 503
                assert _check(stale, "market_data") == {
                    "status": "degraded", "state": "streaming", "streams": 4, "stale": 1,
                    "rest_fallback": 0, "polled": 0, "limit": 0,
                }  # fmt: skip
                assert "ETH/USDT" not in stale.text, "names only for a token holder"
                detail = await http.get(HEALTH, params={"verbose": 1},
                                        headers=bearer(tokens.viewer))  # fmt: skip
                streams = _check(detail, "market_data")["stale_streams"]
                assert [(s["symbol"], s["stream"]) for s in streams] == [("ETH/USDT", "book")]

                ex.faults.update({"silent_streams": []})
                await _until(http, lambda r: r.status_code == 200)

                node.request_stop()
                await run
                down = await http.get(HEALTH)
                assert (down.status_code, down.json()["status"]) == (503, "down")
                assert _check(down, "heartbeat")["state"] == "stopped"
        finally:
            node.request_stop()
            if run is not None:
                await run
            mover.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await mover
            await node.stop()
            node.close()


async def test_venue_errors_and_the_kill_switch_degrade_the_health_with_the_reason(
    tmp_path: Path, data_dir: Path
) -> None:
    node = await replayed_node(tmp_path, data_dir, rows=30)
    try:
        async with served(node) as (http, tokens):
            ok = await http.get(HEALTH)
            assert (ok.status_code, ok.json()["status"]) == (200, "ok"), ok.json()
            assert (await http.head(HEALTH)).status_code == 200
            assert _check(ok, "heartbeat") == {
                "status": "ok", "state": "not_live", "age_s": None, "limit_s": 30.0,
            }  # fmt: skip
            now = node.clock.now_ms()
            for _ in range(node.config.risk.venue_error_threshold):
                node.risk.observe_venue_error("paper", now, "HTTP 502 from the venue")
            tripped = await http.get(HEALTH)
            assert (tripped.status_code, tripped.json()["status"]) == (503, "degraded")
            head = await http.head(HEALTH)  # uptime checkers that read the code alone
            assert (head.status_code, head.content) == (503, b"")
            assert _check(tripped, "venues")["venues"]["paper"] == {
                "breaker": "open", "user_stream": {"state": "none"},  # paper fills in-process
            }  # fmt: skip
            assert _check(tripped, "trading")["status"] == "ok"

            await node.kill("health drill", by="operator")
            halted = await http.get(HEALTH)
            trading = _check(halted, "trading")
            assert halted.status_code == 503
            assert trading == {
                "status": "degraded", "state": "HALTED", "reason": trading["reason"],
                "kill_switch": True,
            }  # fmt: skip
            assert "health drill" not in trading["reason"], "the cause for a token holder only"
            detail = await http.get(HEALTH, params={"verbose": 1}, headers=bearer(tokens.viewer))
            assert "health drill" in _check(detail, "trading")["reason"]
    finally:
        node.close()


async def test_a_breaker_s_halt_is_told_without_its_figures_to_a_caller_without_a_token(
    tmp_path: Path, data_dir: Path
) -> None:
    # was: "drawdown 12.5% from the equity peak 10,000.00 USDT ..." to anyone who asked
    node = await replayed_node(tmp_path, data_dir, rows=30)
    try:
        async with served(node) as (http, tokens):
            cause = "drawdown 12.5% from the equity peak 10,000.00 USDT reached max_drawdown_pct=10"
            node.risk.halt(cause, "breaker:drawdown")
            public = await http.get(HEALTH)
            assert public.status_code == 503
            assert _check(public, "trading") == {
                "status": "degraded", "state": "HALTED", "kill_switch": False,
                "reason": "halted: the cause is shown to an account token "
                "(GET /api/v1/health?verbose=true)",
            }  # fmt: skip
            for figure in ("10,000.00", "12.5", "max_drawdown_pct", "equity"):
                assert figure not in public.text, public.text
            detail = await http.get(HEALTH, params={"verbose": 1}, headers=bearer(tokens.viewer))
            assert _check(detail, "trading")["reason"] == cause
    finally:
        node.close()


async def test_hostile_health_queries_get_a_clear_4xx_never_a_traceback(
    tmp_path: Path, data_dir: Path
) -> None:
    node = await replayed_node(tmp_path, data_dir, rows=30)
    try:
        async with served(node) as (http, tokens):
            answers = {
                q: await http.get(f"{HEALTH}?{q}")
                for q in ("verbose=banana", "verbose=%00", "verbose=1e9", "verbose=" + "x" * 5000)
            }
            anonymous = await http.get(HEALTH, params={"verbose": "true"})
            forged = await http.get(HEALTH, params={"verbose": "1"}, headers=bearer("tg_forged"))
            viewer = await http.get(HEALTH, params={"verbose": "true"},
                                    headers=bearer(tokens.viewer))  # fmt: skip
            quiet = await http.get(HEALTH, params={"verbose": "0", "extra": "[]"})
            viewer_auth = bearer(tokens.viewer)
            # A word that only looks like a boolean is refused, as in request bodies: a guess
            # at it would answer a question nobody asked.
            guessed = {
                word: await http.get(HEALTH, params={"verbose": word}, headers=viewer_auth)
                for word in ("yes", "no", "on", "off", "True", "t", "y", "")
            }
    finally:
        node.close()
    for query, r in answers.items():
        assert r.status_code == 422, (query, r.text)
        assert "verbose" in r.json()["error"] and "Traceback" not in r.text
    assert anonymous.status_code == 401 and "token" in anonymous.json()["detail"]
    assert forged.status_code == 401
    assert viewer.status_code == 200 and "errors_in_window" not in viewer.text
    assert quiet.status_code == 422  # a parameter the route does not take: named, not ignored
    assert "query.extra: unknown query parameter; this route takes: verbose" in quiet.text
    for word, r in guessed.items():
        assert r.status_code == 422, (word, r.text)
        [error] = r.json()["errors"]
        assert error["field"] == "query.verbose" and error["value"] == f'"{word}"', error
        assert "true, false, 1 or 0" in error["message"], error


async def test_a_heartbeat_older_than_the_limit_is_down(tmp_path: Path, data_dir: Path) -> None:
    node = await replayed_node(tmp_path, data_dir, rows=30)
    try:
        node.liveness.start()
        beat = node.liveness.beat_ms
        limit_ms = int(node.config.health.heartbeat_max_age_s * 1000)
        fresh = assess(node, 0.01, now_ms=beat + limit_ms)
        late = assess(node, 0.01, now_ms=beat + limit_ms + 1)
        slow_loop = assess(node, node.config.health.loop_lag_max_s + 0.5, now_ms=beat)
    finally:
        node.close()
    assert (fresh["status"], fresh["checks"]["heartbeat"]["state"]) == ("ok", "beating")
    assert (late["status"], late["checks"]["heartbeat"]["state"]) == ("down", "late")
    assert slow_loop["status"] == "degraded"
    assert slow_loop["checks"]["event_loop"]["lag_s"] == pytest.approx(1.5)
    assert Decimal(str(late["checks"]["heartbeat"]["age_s"])) > Decimal("30")


async def test_an_order_the_venue_cannot_answer_for_degrades_the_health_until_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tradeguard.model.enums import OrderType, Side
    from tradeguard.model.order import OrderIntent
    from tradeguard.sandbox.testing import seeded_exchange

    write_vault(tmp_path, monkeypatch)
    async with seeded_exchange() as ex:
        node = TradingNode(sandbox_config(tmp_path, ex, []))
        await node.start()
        run = asyncio.create_task(node.run_live())
        try:
            async with served(node) as (http, _):
                beating = await _until(http, lambda r: _check(r, "heartbeat")["state"] == "beating")
                assert beating.status_code == 200 and node.live is not None
                node.live.subscribe([Subscription("quotes", "binance", "BTC/USDT")])
                await eventually(lambda: node.market.last_update_ms("BTC/USDT") is not None)
                ex.faults.update({"http_5xx_rate": 1.0})  # the order and every query after it
                result = await node.submit(
                    OrderIntent("http", "binance", "BTC/USDT", Side.BUY, Decimal("0.01"),
                                OrderType.LIMIT, price=Decimal("49000"))
                )  # fmt: skip
                assert result.order is not None
                assert result.order.client_order_id in node.orders.unknown, result
                stuck = await http.get(HEALTH)
                assert stuck.status_code == 503
                assert _check(stuck, "orders") == {
                    "status": "degraded", "unresolved": 1, "open": _check(stuck, "orders")["open"],
                    "limit": 0,
                }  # fmt: skip
                ex.faults.update({"http_5xx_rate": 0.0})
                await _until(http, lambda r: _check(r, "orders")["unresolved"] == 0, 20)
        finally:
            node.request_stop()
            await run
            await node.stop()
            node.close()


def _user_stream(r: httpx.Response) -> dict[str, Any]:
    return _check(r, "venues")["venues"]["binance"]["user_stream"]  # type: ignore[no-any-return]


async def test_the_user_stream_flag_goes_false_when_the_sandbox_websockets_die_and_comes_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_vault(tmp_path, monkeypatch)
    async with two_symbol_sandbox() as ex:
        node = TradingNode(sandbox_config(tmp_path, ex, []))
        await node.start()
        try:
            async with served(node) as (http, _):
                up = await _until(http, lambda r: _user_stream(r)["state"] == "connected")
                first = _user_stream(up)
                assert (first["connected"], first["reconnects"]) == (True, 0)
                # an update on the private stream: a resting order's execution report
                now = node.clock.now_ms()
                await node.on_quote(Quote("BTC/USDT", now, D(49_999), D(1), D(50_001), D(1)))
                buy = OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, D("0.001"),
                                  OrderType.LIMIT, price=D(49_000))  # fmt: skip
                assert (await node.orders.submit(buy)).ok
                heard = await _until(
                    http, lambda r: _user_stream(r)["last_message_age_s"] is not None
                )
                assert _user_stream(heard)["last_message_age_s"] >= 0

                ex.faults.update({"refuse_ws": True})  # the stream side goes down
                assert ex.disconnect_websockets() >= 1
                down = await _until(http, lambda r: _user_stream(r)["state"] == "disconnected")
                lost = _user_stream(down)
                assert (lost["connected"], lost["reconnects"]) == (False, 1)
                assert lost["since_ms"] > first["since_ms"]
                assert (down.status_code, _check(down, "venues")["status"]) == (503, "degraded")

                ex.faults.update({"refuse_ws": False})  # and comes back
                back = await _until(
                    http, lambda r: _user_stream(r)["state"] == "connected", timeout_s=30
                )
                again = _user_stream(back)
                assert (again["connected"], again["reconnects"]) == (True, 1)
                assert again["since_ms"] > lost["since_ms"]
                assert _check(back, "venues")["status"] == "ok"
        finally:
            await node.stop()
            node.close()
