"""Every API route that takes a JSON body, swept with hostile bodies built from the OpenAPI
schema: each field of the wrong type, a number past any float (1e400), NaN and Infinity, a
field nested 10,000 deep, a key given twice, and bytes that are not UTF-8. Each answer must be
a 4xx whose one-line JSON error names the field (or the body, for what is no JSON at all),
never a 500 and never a logged traceback. A kill or an emergency stop halts instead, naming
the field (or the body) in its answer's `ignored`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from test_api_hostile_queries import FILLER, _node
from test_api_support import bearer, build_app, client
from tradeguard.api.kill_body import KILL_ROUTES

DEEP = 10_000


def _schema(spec: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in ref:
        ref = spec["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]
    return ref


def _body_routes(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], bool]]:
    """(method, path with its parameters filled, the body's properties, whether a body is
    required) of every route with a JSON body."""
    out = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            content = op.get("requestBody", {}).get("content", {}).get("application/json")
            if content is None:
                continue
            schema = content["schema"]
            typed = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
            props = _schema(spec, typed[0]).get("properties", {})
            filled = "/".join(
                FILLER if s.startswith("{") else s for s in path.split("/")
            )  # fmt: skip
            required = op["requestBody"].get("required", False)
            out.append((method, filled, props, required))
    return out


def _wrong(schema: dict[str, Any]) -> str:
    kinds = {s.get("type") for s in schema.get("anyOf", [schema])}
    return "[1]" if "object" in kinds else '{"a": [1]}'


def _bodies(props: dict[str, Any]) -> list[tuple[str, str, bytes]]:
    """(kind, the field the answer must name, raw body) of each hostile body."""
    out = []
    for name, schema in props.items():
        key = json.dumps(name)
        for kind, value in [("wrong type", _wrong(schema)), ("1e400", "1e400"),
                            ("NaN", "NaN"), ("Infinity", "-Infinity"), ("5000 digits", "9" * 5000),
                            ("deep", "[" * DEEP + "]" * DEEP)]:  # fmt: skip
            out.append((kind, name if kind != "deep" else "", f"{{{key}: {value}}}".encode()))
        out.append(("twice", name, f'{{{key}: "a", {key}: "b"}}'.encode()))
        out.append(("not UTF-8", "", f'{{{key}: "'.encode() + b'\xff\xfe"}'))
    for kind, raw in [("array", b"[]"), ("null", b"null"), ("cut", b'{"a": '), ("BOM", b"\xef")]:
        out.append((kind, "", raw))
    return out


def _ignored(r: Any, name: str) -> str | None:
    if r.status_code != 200 or r.json().get("trading_state") != "HALTED":
        return f"status {r.status_code}, not halted: {r.text[:120]}"
    ignored = r.json().get("ignored", [])
    first = ignored[0] if ignored else {"field": "", "message": ""}
    # the field, or the body when the parser gave up on it (its message naming the key)
    named = first["field"] == name or (first["field"] == "(body)" and name in first["message"])
    return None if named else f"ignored does not name {name or '(body)'}: {ignored}"


def _problem(r: Any, name: str) -> str | None:
    if not 400 <= r.status_code < 500:
        return f"status {r.status_code}: {r.text[:120]}"
    try:
        body = r.json()
    except ValueError:
        return f"not JSON: {r.text[:80]!r}"
    line = body.get("error") or body.get("detail")
    if not isinstance(line, str) or "\n" in line:
        return f"no one-line error: {str(body)[:120]}"
    if r.status_code == 422 and name and name not in line:
        return f"error does not name {name}: {line[:160]}"
    return None


async def test_every_body_route_answers_hostile_bodies_with_a_4xx_naming_the_field(
    tmp_path: Path, data_dir: Path, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    node = await _node("sqlite", tmp_path, data_dir, request)
    caplog.set_level(logging.WARNING)
    failures = []
    try:
        app, tokens = build_app(node)
        routes = _body_routes(app.openapi())
        assert len(routes) >= 8, routes  # the sweep reaches every route with a body
        headers = {**bearer(tokens.admin, tokens.admin_totp), "Content-Type": "application/json"}
        async with client(app) as http:
            for method, path, props, required in routes:
                for kind, name, raw in _bodies(props):
                    if kind == "null" and not required:
                        continue  # JSON null is no body: a body that may be left out
                    try:
                        r = await http.request(method, path, content=raw, headers=headers)
                    except Exception as exc:  # the app raised: a 500 in production
                        failures.append(f"{method} {path} {name} {kind}: raised {exc!r}")
                        continue
                    if path in KILL_ROUTES:  # it halts anyway, naming what it ignored
                        why = _ignored(r, name)
                        node.risk.resume("test", "next body")
                    else:
                        why = _problem(r, name)
                    if why is not None:
                        failures.append(f"{method.upper()} {path} {name} {kind}: {why}")
    finally:
        await node.stop()
        node.close()
    tracebacks = [rec.getMessage()[:200] for rec in caplog.records if rec.exc_info]
    assert not failures, "\n".join(failures)
    assert not tracebacks, tracebacks
