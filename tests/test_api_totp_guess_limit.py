"""A holder of a token (stolen, say) cannot guess its TOTP codes without end: after
`api.auth_failures_per_min` wrong codes for one token within the minute, its second factor is
not checked for the rest of it (429, from any address), while the emergency stop with a valid
code still halts. Before, every wrong code was a plain 401 and the next guess was checked again:
one in some 333,000 guesses hits one of the three codes accepted at any time."""

from __future__ import annotations

import time

from test_api_support import bearer, build_app, client, replayed_node
from tradeguard.model import TradingState


def _wrong(totp) -> str:
    now = time.time()
    valid = {totp.at(now + drift) for drift in (-60, -30, 0, 30, 60)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444", "555555", "666666")
                if c not in valid)  # fmt: skip


async def test_wrong_totp_codes_for_one_token_are_held_off_after_the_limit(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    node.config.api.require_totp_for_kill = True
    node.config.api.trusted_proxies = ["127.0.0.1"]  # the test client's address
    app, tokens = build_app(node, failures_per_min=3)
    wrong = {**bearer(tokens.trader), "X-TOTP": _wrong(tokens.trader_totp)}
    flatten = {"reason": "guess", "flatten": True}
    async with client(app) as http:
        codes = []
        for n in range(5):  # from a new address each time: the token is what counts
            headers = {**wrong, "X-Forwarded-For": f"203.0.{n}.9"}
            r = await http.post("/api/v1/kill", json=flatten, headers=headers)
            codes.append(r.status_code)
        assert codes == [401, 401, 401, 429, 429], codes
        held = await http.post(
            "/api/v1/kill", json=flatten, headers=bearer(tokens.trader, tokens.trader_totp)
        )
        assert held.status_code == 429, held.text  # not checked while held, right or wrong
        assert "too many wrong TOTP codes" in held.json()["detail"]
        assert int(held.headers["retry-after"]) > 0
        assert node.risk.state is TradingState.ACTIVE
        # the emergency stop above all: a valid code still halts
        r = await http.post(
            "/api/v1/kill",
            json={"reason": "real"},
            headers=bearer(tokens.trader, tokens.trader_totp),
        )
    assert r.status_code == 200, r.text
    assert node.risk.state is TradingState.HALTED
    node.close()


async def test_wrong_totp_codes_of_one_token_leave_the_global_login_budget_alone(
    tmp_path, data_dir
):
    """A TOTP code is guessed by the holder of a valid token: its wrong (and missing) codes are
    counted against that token and the address they come from, never in the budget all clients
    share. Before, one stolen token and a stream of wrong codes at the kill (checked still, so
    never held) spent `api.auth_failures_per_min_global`, and everyone who mistyped a token,
    from anywhere, got 429 for the rest of the minute."""
    node = await replayed_node(tmp_path, data_dir, rows=60)
    node.config.api.require_totp_for_kill = True
    node.config.api.trusted_proxies = ["127.0.0.1"]
    node.config.api.auth_failures_per_min_global = 4
    app, tokens = build_app(node, failures_per_min=3)
    wrong = {**bearer(tokens.trader), "X-TOTP": _wrong(tokens.trader_totp)}
    codes = []
    async with client(app) as http:
        for n in range(8):  # wrong codes at the kill, then no code at a flatten, new addresses
            headers = {**wrong, "X-Forwarded-For": f"198.51.{n}.7"}
            if n % 2:
                headers.pop("X-TOTP")
            body = {"reason": "guess", "flatten": bool(n % 2)}
            r = await http.post("/api/v1/kill", json=body, headers=headers)
            codes.append(r.status_code)
        typo = await http.get(
            "/api/v1/positions",
            headers={**bearer("tg_mistyped"), "X-Forwarded-For": "203.0.113.50"},
        )
    assert set(codes) <= {401, 403, 429} and codes[:2] == [403, 401], codes
    assert node.risk.state is TradingState.ACTIVE
    # another user mistyping a token is told so (401), not held off with everyone (429)
    assert typo.status_code == 401, typo.text
    node.close()


async def test_requests_from_many_addresses_do_not_wipe_a_tokens_wrong_code_count(
    tmp_path, data_dir
):
    """A token's wrong TOTP codes are counted where no address can push them out. Before, they
    shared the table of failing addresses (`max_tracked` keys, the least recently failed one
    not locked out dropped when full): codes one short of the limit, then requests without a
    code from as many new addresses, and the token's count was gone, its guesses checked
    again, from a table that never fills with tokens."""
    from tradeguard.api.auth import FailureLimiter

    node = await replayed_node(tmp_path, data_dir, rows=60)
    node.config.api.trusted_proxies = ["127.0.0.1"]
    app, tokens = build_app(node, failures_per_min=3)
    app.state.api.limiter = FailureLimiter(3, 60.0, max_tracked=8)
    wrong = {**bearer(tokens.trader), "X-TOTP": _wrong(tokens.trader_totp)}
    resume = {"reason": "guess"}
    codes = []
    async with client(app) as http:
        for _ in range(2):  # one short of the limit
            r = await http.post("/api/v1/resume", json=resume, headers=wrong)
            codes.append(r.status_code)
        for m in range(8):  # no code, each from a new address
            headers = {**bearer(tokens.trader), "X-Forwarded-For": f"198.51.100.{m}"}
            r = await http.post("/api/v1/resume", json=resume, headers=headers)
            assert r.status_code == 401, r.text
        for _ in range(2):  # the third wrong code, then one the token is held off from
            r = await http.post("/api/v1/resume", json=resume, headers=wrong)
            codes.append(r.status_code)
    assert codes == [401, 401, 401, 429], codes
    node.close()
