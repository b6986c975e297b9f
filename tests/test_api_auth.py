"""Tokens, roles, the TOTP second factor and the auth-failure limit."""

from __future__ import annotations

import argparse
import json
import re

import pyotp
from rich.console import Console
from sqlalchemy import select

from conftest import eventually
from test_api_support import PASSPHRASE, bearer, build_app, client, replayed_node
from tradeguard.api.app import mutating_routes
from tradeguard.api.auth import FailureLimiter, Role, TokenStore, hash_token
from tradeguard.api.server import exposure_warning
from tradeguard.cli.api import add_api_parsers
from tradeguard.secrets.vault import ScryptParams
from tradeguard.storage.db import Database
from tradeguard.storage.tables import api_tokens, kv_state

# A body each mutating route accepts, so a refusal is about auth and never about the body.
BODIES = {
    "/api/v1/orders": {"venue": "paper", "symbol": "BTC/USDT", "side": "buy", "amount": "0.001"},
    "/api/v1/risk/validate": {
        "venue": "paper", "symbol": "BTC/USDT", "side": "buy", "amount": "0.001",
    },
    "/api/v1/kill": {"reason": "auth test"},
    "/api/v1/resume": {"reason": "auth test"},
    "/api/v1/mode": {"mode": "paper"},
    "/api/v1/paper/reset": {},
    "/api/trading/reset": {},
}  # fmt: skip


async def test_every_mutating_route_refuses_a_missing_token_and_a_viewer_token(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, tokens = build_app(node)
    routes = mutating_routes(app)
    assert ("POST", "/api/v1/orders") in routes and ("POST", "/api/v1/kill") in routes
    async with client(app) as http:
        for method, path in routes:
            body = BODIES.get(path, {})
            missing = await http.request(method, path, json=body)
            assert missing.status_code == 401, (method, path, missing.text)
            wrong = await http.request(method, path, json=body, headers=bearer("tg_not-a-token"))
            assert wrong.status_code == 401, (method, path)
            viewer = await http.request(method, path, json=body, headers=bearer(tokens.viewer))
            assert viewer.status_code == 403, (method, path, viewer.text)
            assert "viewer" in viewer.json()["detail"]
    assert node.risk.state.value == "ACTIVE"
    assert node.storage.load_orders() == []
    node.close()


def read_routes(app) -> list[str]:
    """List the path of every GET operation in the app's OpenAPI schema."""
    return sorted(path for path, ops in app.openapi()["paths"].items() if "get" in ops)


async def test_every_read_route_refuses_a_missing_token_and_answers_a_viewer_token(
    tmp_path, data_dir
):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, tokens = build_app(node)
    routes = read_routes(app)
    assert {"/api/v1/arb/executions", "/api/v1/arb/summary", "/metrics"} <= set(routes)
    async with client(app) as http:
        for path in routes:
            url = path.replace("{client_order_id}", "paper-1").replace("{strategy_id}", "manual")
            url = re.sub(r"\{[a-z_]+\}", "x1", url)  # any other id: a well-formed unknown one
            missing = await http.get(url)
            viewer = await http.get(url, headers=bearer(tokens.viewer))
            if path == "/api/v1/health":
                assert missing.status_code == 200
                continue
            assert missing.status_code == 401, (path, missing.text)
            assert (await http.get(url, headers=bearer("tg_not-a-token"))).status_code == 401
            assert viewer.status_code in (200, 404), (path, viewer.status_code, viewer.text)
    node.close()


async def test_tokens_are_stored_hashed_and_totp_secrets_sealed(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'tg.db'}")
    db.migrate()
    store = TokenStore(db)
    info, token = store.create("phone", Role.TRADER)
    uri = store.setup_totp("phone", PASSPHRASE, ScryptParams(n=2**14))
    secret = pyotp.parse_uri(uri).secret
    with db.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(api_tokens)).all()]
        kv = [dict(r._mapping) for r in conn.execute(select(kv_state)).all()]
    dump = json.dumps(rows + kv, default=str)
    assert token not in dump and secret not in dump
    assert rows[0]["token_hash"] == hash_token(token)
    verified = store.verify(token)
    assert verified is not None and verified.id == info.id and verified.role is Role.TRADER
    assert store.get("phone").totp is True
    store.verify_totp(info.id, pyotp.TOTP(secret).now(), PASSPHRASE)
    db.dispose()


async def test_a_revoked_token_is_refused_at_once(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, tokens = build_app(node)
    store: TokenStore = app.state.api.tokens
    async with client(app) as http:
        before = await http.get("/api/v1/state", headers=bearer(tokens.viewer))
        store.revoke("viewer")
        after = await http.get("/api/v1/state", headers=bearer(tokens.viewer))
    assert before.status_code == 200 and after.status_code == 401
    node.close()


def test_a_token_revoked_by_another_process_stops_working_within_the_recheck_interval(tmp_path):
    url = f"sqlite:///{tmp_path / 'tokens.db'}"
    served, cli = Database(url), Database(url)  # the node's store, and the CLI's in its process
    served.migrate()
    api = TokenStore(served, recheck_s=0.05)
    _, token = TokenStore(cli).create("phone", Role.VIEWER)
    assert api.verify(token) is not None  # now cached

    TokenStore(cli).revoke("phone")

    eventually(lambda: api.verify(token) is None, timeout_s=5)
    assert api.verify(token) is None  # and it stays refused
    served.dispose()
    cli.dispose()


async def test_auth_failures_from_one_address_are_rate_limited(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, _ = build_app(node, failures_per_min=5)
    async with client(app) as http:
        codes = [
            (await http.get("/api/v1/state", headers=bearer("tg_guess"))).status_code
            for _ in range(6)
        ]
        still_limited = await http.get("/api/v1/mode", headers=bearer("tg_guess"))
    assert codes == [401] * 5 + [429]
    assert still_limited.status_code == 429
    assert "Retry-After" in still_limited.headers
    failures = node.storage.load_events(kind_prefix="api.auth_failed")
    assert len(failures) == 5 and failures[0].data["client"] == "127.0.0.1"
    node.close()


async def test_a_valid_token_passes_while_its_address_is_limited_and_the_kill_switch_works(
    tmp_path, data_dir
):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, tokens = build_app(node, failures_per_min=10)
    async with client(app) as http:
        guesses = [
            (await http.post("/api/v1/kill", json={}, headers=bearer("tg_guess"))).status_code
            for _ in range(11)
        ]
        state = await http.get("/api/v1/state", headers=bearer(tokens.viewer))
        kill = await http.post(
            "/api/v1/kill", json={"reason": "stop"}, headers=bearer(tokens.trader)
        )
        after = await http.get("/api/v1/mode", headers=bearer("tg_guess"))
    assert guesses == [401] * 10 + [429]
    assert state.status_code == 200
    assert kill.status_code == 200 and kill.json()["trading_state"] == "HALTED"
    assert after.status_code == 429  # guessing stays limited
    node.close()


def test_failure_limiter_forgets_failures_after_the_window():
    limiter = FailureLimiter(limit=2, window_s=60)
    limiter.fail("10.0.0.1", now=0.0)
    limiter.fail("10.0.0.1", now=1.0)
    assert limiter.blocked_for("10.0.0.1", now=2.0) == 58.0  # until the oldest failure ages out
    assert limiter.blocked_for("10.0.0.2", now=2.0) == 0.0
    assert limiter.blocked_for("10.0.0.1", now=61.5) == 0.0


def test_a_non_loopback_bind_without_tls_is_warned_about():
    assert exposure_warning("127.0.0.1", 8000, tls=False) is None
    assert exposure_warning("::1", 8000, tls=False) is None
    assert exposure_warning("0.0.0.0", 8000, tls=True) is None
    warning = exposure_warning("0.0.0.0", 8000, tls=False)
    assert warning is not None and "WITHOUT TLS" in warning


def _run_cli(argv: list[str]) -> int:
    """Run an API command the way `tradeguard` dispatches it."""
    parser = argparse.ArgumentParser(prog="tradeguard")
    add_api_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args, Console(highlight=False))
    return code


def test_token_cli_creates_lists_and_revokes(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'tg.db'}"
    assert (
        _run_cli(["token", "create", "--db", db, "--name", "ci", "--role", "admin", "--json"]) == 0
    )
    created = json.loads(capsys.readouterr().out)
    assert created["token"].startswith("tg_") and created["role"] == "admin"
    assert _run_cli(["token", "list", "--db", db, "--json"]) == 0
    listed = capsys.readouterr().out
    assert created["token"] not in listed and json.loads(listed)[0]["name"] == "ci"
    assert _run_cli(["token", "revoke", "--db", db, "--name", "ci", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == created["id"]
    assert _run_cli(["token", "list", "--db", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["revoked"] is True


def test_totp_setup_cli_prints_a_provisioning_uri_once(tmp_path, capsys, monkeypatch):
    db = f"sqlite:///{tmp_path / 'tg.db'}"
    monkeypatch.setenv("TG_MASTER_PASSPHRASE", PASSPHRASE)
    assert _run_cli(["token", "create", "--db", db, "--name", "ops", "--role", "trader"]) == 0
    capsys.readouterr()
    assert _run_cli(["token", "totp-setup", "--db", db, "--name", "ops", "--json"]) == 0
    uri = json.loads(capsys.readouterr().out)["provisioning_uri"]
    assert uri.startswith("otpauth://totp/") and "issuer=tradeguard" in uri
    assert _run_cli(["token", "list", "--db", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["totp"] is True


async def test_state_reads_the_authorization_header_exactly_as_every_other_route(
    tmp_path, data_dir
):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, tokens = build_app(node)
    good = tokens.viewer
    variants = [
        f"Bearer {good}", f"bearer {good}", f"BEARER   {good}  ", f"Bearer {good}x",
        f"Basic {good}", f"Bearer{good}", "Bearer", "Bearer ", good, "", f"Token {good}",
    ]  # fmt: skip
    async with client(app) as http:
        for value in variants:
            headers = {"Authorization": value}
            state = await http.get("/api/v1/state", headers=headers)
            other = await http.get("/api/v1/mode", headers=headers)  # the framework's path
            assert state.status_code == other.status_code, value
        answered = await http.get("/api/v1/state", headers=bearer(good))
    assert answered.status_code == 200
    assert answered.headers["content-type"] == "application/json"
    assert answered.json()["trading_state"] == "ACTIVE"
    node.close()
