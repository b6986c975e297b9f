"""Every GET route of the API, swept with hostile parameter values on SQLite and PostgreSQL.

Each parameter the OpenAPI spec declares (query or path) gets, one at a time: a NUL byte
(PostgreSQL stores none), a lone UTF-16 surrogate, a 10 KB string, integers past int64, a
negative number, NaN and infinity, and the parameter given twice. Each answer must be a 4xx
whose one-line JSON error names the parameter, and nothing may log a traceback.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from node_support import paper_config, write_slice
from test_api_support import PERMISSIVE, bearer, build_app, client
from tradeguard.api.server import ApiServer
from tradeguard.node import build_node

# Raw (already percent-encoded) query values.
HOSTILE = {
    "nul": "k%00x",
    "surrogate": "%ED%A0%80",
    "ten_kb": "a" * 10_240,
    "past_int64": "9223372036854775808",
    "past_int64_neg": "-9223372036854775809",
    "negative": "-1",
    "nan": "nan",
    "inf": "inf",
}
# A plausible value per parameter, used for the copies of other path parameters.
FILLER = "x1"


NUMERIC_ONLY = {"past_int64", "past_int64_neg", "negative", "nan", "inf"}


def _get_params(spec: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(path, parameter, where, schema) for every parameter of every GET route in the spec."""
    out = []
    for path, ops in spec["paths"].items():
        for p in ops.get("get", {}).get("parameters", []):
            if p["in"] in ("query", "path"):
                schema = p["schema"]
                typed = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
                out.append((path, p["name"], p["in"], typed[0] if typed else {}))
    return out


def _must_refuse(kind: str, schema: dict[str, Any]) -> bool:
    """Whether `kind` is out of bounds for a parameter of this schema (else it may be served)."""
    if kind not in NUMERIC_ONLY:
        return True
    if schema.get("type") not in ("integer", "number"):
        return False  # "-1", "nan" or a long digit string is a plain text filter value
    return kind != "negative" or schema.get("minimum", -1) >= 0


def _url(path: str, name: str, where: str, raw: str, twice: bool = False) -> str:
    filled = path
    for segment in path.split("/"):
        if segment.startswith("{") and segment.endswith("}"):
            value = raw if (where == "path" and segment[1:-1] == name) else FILLER
            filled = filled.replace(segment, value)
    if where == "path":
        return filled
    query = f"{name}={raw}"
    return f"{filled}?{query}&{name}=1" if twice else f"{filled}?{query}"


async def _node(backend: str, tmp_path: Path, data_dir: Path, request: pytest.FixtureRequest):
    sqlite = f"sqlite:///{tmp_path / 'tg.db'}"
    url = sqlite if backend == "sqlite" else request.getfixturevalue("pg_url")
    data = write_slice(data_dir, tmp_path / "btc.csv", 30)
    node = build_node(paper_config(url, data, strategies=False, risk=PERMISSIVE, tmp=tmp_path))
    await node.start()
    return node


def _problem(r: Any, name: str) -> str | None:
    """Why the answer `r` is not a one-line 4xx naming `name`, or None if it is."""
    if not 400 <= r.status_code < 500:
        return f"status {r.status_code}"
    try:
        body = r.json()
    except ValueError:
        return f"not JSON: {r.text[:80]!r}"
    line = body.get("error") or body.get("detail")
    if not isinstance(line, str) or "\n" in line:
        return f"no one-line error: {str(body)[:120]}"
    if name not in line:
        return f"error does not name {name}: {line[:160]}"
    return None


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_every_get_route_refuses_hostile_parameters_in_one_line(
    backend: str,
    tmp_path: Path,
    data_dir: Path,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Every kind of hostile value against one node per backend (the GETs change nothing): a
    # node and a database each, as before, took nine starts per backend for the same answers.
    node = await _node(backend, tmp_path, data_dir, request)
    caplog.set_level(logging.WARNING)
    failures = []
    try:
        app, tokens = build_app(node)
        params = _get_params(app.openapi())
        assert len(params) > 20  # the sweep reaches the whole API
        async with client(app) as http:
            for kind in [*HOSTILE, "twice"]:
                for path, name, where, schema in params:
                    if kind == "twice" and where == "path":
                        continue
                    raw = HOSTILE.get(kind, "1")
                    url = _url(path, name, where, raw, twice=kind == "twice")
                    try:
                        r = await http.get(url, headers=bearer(tokens.viewer))
                    except Exception as exc:  # the app raised: a 500 in production
                        failures.append(
                            f"{kind}: {path} {name}: raised {type(exc).__name__}: {exc}"
                        )
                        continue
                    if _must_refuse(kind, schema):
                        why = _problem(r, name)
                    else:  # served or refused, but never a server error
                        why = f"status {r.status_code}" if r.status_code >= 500 else None
                    if why is not None:
                        failures.append(f"{kind}: {path} {name}={raw[:24]}: {why}")
    finally:
        await node.stop()
        node.close()
    tracebacks = [rec.getMessage()[:200] for rec in caplog.records if rec.exc_info]
    assert not failures, "\n".join(failures)
    assert not tracebacks, tracebacks


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/v1/orders?venue=k%00x", "query.venue"),
        ("/api/v1/events?kind_prefix=%ED%A0%80", "query.kind_prefix"),
        ("/api/v1/fills?symbol=" + "a" * 10_240, "query.symbol"),
        ("/api/v1/trades?limit=9223372036854775808", "query.limit"),
        ("/api/v1/orders/k%00x", "path.client_order_id"),
        ("/api/v1/orders?symbol=a&symbol=b", "query.symbol"),
    ],
)
async def test_a_served_node_on_postgresql_answers_hostile_parameters_without_a_traceback(
    url: str,
    name: str,
    tmp_path: Path,
    data_dir: Path,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    node = await _node("postgres", tmp_path, data_dir, request)
    caplog.set_level(logging.INFO)
    app, tokens = build_app(node)
    api = ApiServer(node, "127.0.0.1", 0, app=app)
    await api.start()
    try:
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
            r = await http.get(url, headers=bearer(tokens.viewer))
            ok = await http.get("/api/v1/orders?venue=paper", headers=bearer(tokens.viewer))
    finally:
        await api.stop()
        await node.stop()
        node.close()
    assert r.status_code == 422, r.text
    line = r.json()["error"]
    assert line.startswith(f"invalid request: {name} = ") and "\n" not in line, line
    assert ok.status_code == 200
    logged = [rec for rec in caplog.records if rec.exc_info or "Traceback" in rec.getMessage()]
    assert not logged, [rec.getMessage()[:200] for rec in logged]


async def test_the_spec_declares_the_limits_every_string_parameter_is_held_to(
    tmp_path: Path, data_dir: Path, request: pytest.FixtureRequest
) -> None:
    # so a client generating values from the spec never sends one the API refuses
    node = await _node("sqlite", tmp_path, data_dir, request)
    try:
        app, _ = build_app(node)
        strings = [
            (path, name, schema)
            for path, name, _, schema in _get_params(app.openapi())
            if schema.get("type") == "string"
        ]
    finally:
        await node.stop()
        node.close()
    assert len(strings) > 10
    for path, name, schema in strings:
        assert schema["maxLength"] <= 256 and "pattern" in schema, (path, name, schema)
