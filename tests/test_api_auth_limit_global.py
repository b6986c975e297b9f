"""A guesser holding many networks gets one budget in all, not one per network: failed
authentications from every client together are counted, and past
`api.auth_failures_per_min_global` within the minute every client without a valid token gets
429 until the oldest ages out; a valid token still passes. Before, each /24 (or /48) was a
fresh budget of its own."""

from __future__ import annotations

import httpx

from test_api_support import bearer, build_app, replayed_node
from tradeguard.api.auth import FailureLimiter
from tradeguard.api.server import ApiServer
from tradeguard.apiconfig import ApiConfig


def test_failures_from_many_networks_exhaust_the_global_budget():
    limiter = FailureLimiter(limit=3, window_s=60.0, wide_limit=5, global_limit=8)
    for n in range(8):  # one failure from each of eight /24s: far under each network's limit
        assert limiter.blocked_for(f"198.51.{n}.1", now=0.0) == 0
        limiter.fail(f"198.51.{n}.1", now=float(n))
    assert limiter.everyone_blocked_for(now=8.0) == 52.0  # until the first ages out
    assert limiter.blocked_for("203.0.113.9", now=8.0) == 52.0  # a client never seen
    assert limiter.blocked_for("203.0.113.9", now=8.0, everyone=False) == 0
    assert limiter.blocked_for("203.0.113.9", now=60.5) == 0  # the oldest aged out


def test_a_key_left_out_of_the_global_budget_does_not_spend_it():
    limiter = FailureLimiter(limit=100, window_s=60.0, global_limit=2)
    for _ in range(5):
        limiter.fail("totp of token t1", now=0.0, everyone=False)
    assert limiter.everyone_blocked_for(now=0.0) == 0


def test_the_global_budget_has_a_default_and_a_range():
    assert ApiConfig().auth_failures_per_min_global == 200
    assert FailureLimiter().global_limit == 200
    try:
        ApiConfig(auth_failures_per_min_global=0)
    except ValueError as exc:
        assert "auth_failures_per_min_global" in str(exc)
    else:
        raise AssertionError("0 accepted")


async def _get(port: int, source: str, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with httpx.AsyncClient(transport=transport, timeout=10) as http:
        return await http.get(f"http://127.0.0.1:{port}/api/v1/positions", headers=headers)


async def test_sources_across_127_networks_with_spoofed_forwarded_for_share_one_budget(
    tmp_path, data_dir
):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    node.config.api.auth_failures_per_min_global = 12
    app, tokens = build_app(node, failures_per_min=10)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    try:
        codes, details = [], []
        for n in range(16):  # 16 source addresses, each in a /24 of its own on 127.0.0.0/8
            spoof = {**bearer("tg_guess"), "X-Forwarded-For": f"10.{n}.0.1, 192.0.2.{n}"}
            r = await _get(server.port, f"127.{n + 1}.0.1", spoof)
            codes.append(r.status_code)
            details.append(r.json()["detail"])
        held = await _get(server.port, "127.200.0.1", bearer(tokens.viewer))
        fresh = await _get(server.port, "127.201.0.1", bearer("tg_other_guess"))
    finally:
        await server.stop()
    assert codes == [401] * 12 + [429] * 4, codes
    assert "from all clients (12 within 60 s, api.auth_failures_per_min_global)" in details[-1]
    assert held.status_code == 200  # the operator's valid token is never locked out
    assert fresh.status_code == 429 and int(fresh.headers["retry-after"]) > 0
    failures = node.storage.load_events(kind_prefix="api.auth_failed")
    # the forwarded addresses were not believed: the peers are what was counted
    assert {e.data["client"] for e in failures} == {f"127.{n + 1}.0.1" for n in range(12)}
    node.close()
