"""The OpenAPI schema holds: a schemathesis run passes every check, no response carries a secret."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import pyotp
import schemathesis
import websockets
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import FailureGroup

from test_api_support import PASSPHRASE, bearer, build_app, replayed_node, resting_buy
from tradeguard.api.server import ApiServer
from tradeguard.model.text import one_line_error
from tradeguard.secrets.redact import find_secrets, register_secret
from tradeguard.secrets.vault import ScryptParams, Vault

MAX_EXAMPLES = 6
load_all_checks()
ALL_CHECKS = CHECKS.get_all()
# The health answers 503 by design while the node is degraded (a fuzzed kill halts it).
HEALTH_CHECKS = [c for c in ALL_CHECKS if c.__name__ != "not_a_server_error"]


def _window_in_order(case: Any) -> bool:
    # until_ts must be after since_ts: a rule across two parameters that OpenAPI cannot state
    # (the parameter's description says it), so a case breaking it is not a valid request.
    query = case.query or {}
    since, until = query.get("since_ts"), query.get("until_ts")
    return not (isinstance(since, int) and isinstance(until, int) and until <= since)


def _one_sizing_figure(case: Any) -> bool:
    # A bot signal's score and temperature name one figure: two that differ are refused (the
    # field's description says it), another rule across two fields OpenAPI cannot state.
    body = case.body if isinstance(case.body, dict) else {}
    score, temperature = body.get("score"), body.get("temperature")
    if not (isinstance(score, str) and isinstance(temperature, str)):
        return True
    try:
        return Decimal(score) == Decimal(temperature)
    except InvalidOperation:
        return True  # not a decimal: the pattern refuses it, as the schema says


def _one_key(case: Any) -> bool:
    # The same for an execute's Idempotency-Key header and its body's idempotency_key.
    body = case.body if isinstance(case.body, dict) else {}
    header = (case.headers or {}).get("Idempotency-Key")
    return header is None or body.get("idempotency_key") in (None, header)


def _one_line_throughout(value: Any) -> bool:
    if isinstance(value, str):
        return one_line_error(value) is None
    if isinstance(value, dict):
        return all(_one_line_throughout(k) and _one_line_throughout(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_one_line_throughout(v) for v in value)
    return True


def _plain_signal(case: Any) -> bool:
    # Every key and string of a signal is one line of text (the field's description says it),
    # a rule on every string at any depth that OpenAPI cannot state.
    body = case.body if isinstance(case.body, dict) else {}
    return _one_line_throughout(body.get("signal"))


def _valid(case: Any) -> bool:
    return (
        _window_in_order(case) and _one_sizing_figure(case) and _one_key(case)
        and _plain_signal(case)
    )  # fmt: skip


def _fuzz(schema_doc: dict[str, Any], base_url: str, headers: dict[str, str]) -> list[str]:
    """Call every operation with generated requests; return every failed schemathesis check."""
    schema = schemathesis.openapi.from_dict(schema_doc)
    failures: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        op = result.ok()

        @settings(
            max_examples=MAX_EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        @given(case=op.as_strategy().filter(_valid))
        def run(case: Any) -> None:
            nonlocal calls
            calls += 1
            response = case.call(base_url=base_url, headers=headers, timeout=10)
            try:
                # every check schemathesis has, as `--checks all` runs them
                degraded = case.path == "/api/v1/health" and response.status_code == 503
                checks = HEALTH_CHECKS if degraded else ALL_CHECKS
                case.validate_response(response, checks=checks, headers=headers)
            except (AssertionError, FailureGroup) as exc:
                first = str(exc).strip().splitlines()
                failures.append(f"{case.method} {case.formatted_path}: {first[:12]}")

        run()
    assert calls >= 20, f"only {calls} generated calls: the fuzz run did not exercise the API"
    return failures


async def test_schemathesis_run_with_every_check_finds_no_failure(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=120)
    await resting_buy(node)
    # the run without a token fails auth thousands of times: past the global budget every such
    # request would be 429 (tests/test_api_auth_limit_global.py pins that), not the 401 checked here
    node.config.api.auth_failures_per_min_global = 1_000_000
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    try:
        schema = app.openapi()
        # as an admin (bodies reach the handlers), then without a token (the auth layer)
        failures = await asyncio.to_thread(_fuzz, schema, server.url, bearer(tokens.admin))
        failures += await asyncio.to_thread(_fuzz, schema, server.url, {})
    finally:
        await server.stop()
        node.close()
    assert failures == [], "\n".join(failures)


def _example_path(path: str) -> str:
    return path.replace("{client_order_id}", "paper-1").replace("{strategy_id}", "manual")


async def test_no_response_carries_a_secret(tmp_path, data_dir):
    vault = Vault(tmp_path / "vault.json", kdf=ScryptParams(n=2**14))
    vault.create(PASSPHRASE)
    fake = {"api_key": "AKfake0123456789abcdefAPIKEY", "secret": "SKfake9876543210zyxwSECRET"}
    vault.add("binance-main", "binance", fake)
    creds = vault.get("binance-main")
    node = await replayed_node(tmp_path, data_dir, rows=120)
    await resting_buy(node)
    app, tokens = build_app(node)
    totp_secrets = [tokens.trader_totp.secret, tokens.admin_totp.secret]
    secrets = [creds.field("api_key"), creds.field("secret"), PASSPHRASE, tokens.viewer,
               tokens.trader, tokens.admin, *totp_secrets]  # fmt: skip
    for s in secrets:
        register_secret(s)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    blobs: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            for path, ops in app.openapi()["paths"].items():
                for method in ops:
                    for headers in (bearer(tokens.admin), {}, bearer("tg_wrong")):
                        r = await http.request(method.upper(), _example_path(path),
                                               headers=headers, json={})  # fmt: skip
                        blobs.append(json.dumps(dict(r.headers)) + r.text)
            bad = await http.post(
                "/api/v1/orders", headers=bearer(tokens.trader),
                json={"venue": "paper", "symbol": "BTC/USDT", "side": "buy", "amount": "0.001",
                      "strategy_id": tokens.trader},
            )  # fmt: skip
            blobs.append(bad.text)
            for page in ("/", "/static/app.js", "/openapi.json"):
                blobs.append((await http.get(page)).text)
            resume = await http.post(
                "/api/v1/resume", json={"reason": "x"},
                headers={**bearer(tokens.trader),
                         "X-TOTP": pyotp.TOTP(tokens.trader_totp.secret).now()},
            )  # fmt: skip
            blobs.append(resume.text)
        url = f"ws://127.0.0.1:{server.port}/api/v1/stream?token={tokens.viewer}"
        async with websockets.connect(url) as ws:
            blobs.append(await ws.recv())
    finally:
        await server.stop()
        node.close()
    assert bad.status_code == 422  # the token as a strategy id is refused, not echoed
    assert len(blobs) > 60
    found = [hit for blob in blobs for hit in find_secrets(blob, secrets)]
    assert found == []
