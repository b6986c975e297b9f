"""One check of every query and path parameter, run before any route reads them.

```python
app = FastAPI(dependencies=[Depends(checked_parameters)])
```

A route's own declaration (type, bounds, length, pattern) says what a value may be; this says
what no value of a parameter a route reads (its path parameters and the query parameters it
declares) may be, whatever the route: a NUL byte (PostgreSQL
stores none, so a filter holding one raised in the database), bytes that are not UTF-8 (a lone
surrogate, which the framework would silently turn into U+FFFD), more than `MAX_VALUE_CHARS`
characters, or a parameter given twice (which of the two a route used was the framework's
choice). A query parameter the route does not declare is refused too, naming the ones it
takes, and itself only if its name is a plain one (never a token pasted as a name, nor its
value): `?limt=10` silently served the default page (the dashboard page, `PAGES`, takes any
query: it reads none, and a browser's link may carry one), except `_`, the cache-buster that
browsers' scripts and monitoring probes append (`/api/v1/health?_=1733460000`), which every
route takes and none reads. A refusal is the API's usual 422, one
line naming the parameter, its value and the limit.
"""

from __future__ import annotations

import weakref
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import params
from fastapi.dependencies.utils import get_flat_params
from fastapi.exceptions import RequestValidationError, WebSocketRequestValidationError
from starlette.requests import HTTPConnection

from tradeguard.api.errors import CREDENTIAL_HINT, names_a_credential, shown_name
from tradeguard.api.kill_body import KILL_ROUTES, note_ignored
from tradeguard.api.schemas import NO_NUL

MAX_VALUE_CHARS = 256
# Pages a browser opens read no query parameter; a link to one may carry some (a bookmark's
# tracking tag, a cache-buster): the page opens rather than answering a JSON refusal.
PAGES = frozenset({"/"})
CACHE_BUSTER = "_"


def checked_parameters(conn: HTTPConnection) -> None:
    """Refuse the request (422) if any query or path parameter is one no route can take."""
    route = conn.scope.get("route")
    query = b"" if getattr(route, "path", None) in PAGES else conn.scope.get("query_string", b"")
    errors = _query_errors(query, _declared(route))
    errors.extend(_path_errors(conn))
    if errors:
        if getattr(route, "path", None) in KILL_ROUTES:  # it halts, then lists them
            note_ignored(conn.scope, errors)
            return
        if conn.scope["type"] == "websocket":  # the close reason is not redacted: no values
            raise WebSocketRequestValidationError([{**e, "input": None} for e in errors])
        raise RequestValidationError(errors)


# id(route) -> (the route, weakly, and its names); routes compare by value, so are not keys.
_DECLARED: dict[int, tuple[weakref.ref[Any], frozenset[str]]] = {}


def _declared(route: Any) -> frozenset[str]:
    """The query parameter names `route` reads (its dependencies' included), computed once."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return frozenset()
    known = _DECLARED.get(id(route))
    if known is not None and known[0]() is route:
        return known[1]
    fields = get_flat_params(dependant)
    names = frozenset(f.alias for f in fields if isinstance(f.field_info, params.Query))
    _DECLARED[id(route)] = (weakref.ref(route), names)
    return names


def _query_errors(query_string: bytes, declared: frozenset[str]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for pair in query_string.split(b"&"):
        raw_name, _, raw_value = pair.partition(b"=")
        name = _decode(raw_name)
        if not pair:
            continue  # `?` alone, `&&`
        if name not in declared and name != CACHE_BUSTER:  # None (not UTF-8): never declared
            errors.append(_unknown(name, declared))
            continue
        value = _decode(raw_value)
        if value is None:
            lossy = unquote_to_bytes(raw_value.replace(b"+", b" ")).decode("utf-8", "replace")
            errors.append(_error(name, lossy, "not valid UTF-8 (e.g. a lone surrogate)"))
        else:
            errors.extend(_value_errors("query", name, value))
        if name in seen:
            errors.append(_error(name, value, "given more than once; give it once"))
        seen.add(name)
    return errors


def _unknown(name: str | None, declared: frozenset[str]) -> dict[str, Any]:
    """The refusal of a parameter the route does not take: its value never shown, its name
    only when a plain one (errors.shown_name)."""
    shown = shown_name(name or "")
    takes = ", ".join(sorted(declared)) if declared else "none"
    msg = f"unknown query parameter; this route takes: {takes}"
    if names_a_credential(shown):
        msg += f"; {CREDENTIAL_HINT}"
    return _error(shown, None, msg)


def _path_errors(conn: HTTPConnection) -> list[dict[str, Any]]:
    # The server decodes the path leniently (bad bytes become U+FFFD); the raw path tells.
    bad_utf8 = _decode(conn.scope.get("raw_path") or b"") is None
    errors: list[dict[str, Any]] = []
    for name, value in conn.path_params.items():
        if not isinstance(value, str):
            continue
        if bad_utf8 and "\ufffd" in value:
            errors.append(_error(name, value, "not valid UTF-8 (e.g. a lone surrogate)", "path"))
        else:
            errors.extend(_value_errors("path", name, value))
    return errors


def _decode(raw: bytes) -> str | None:
    try:
        return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _value_errors(where: str, name: str, value: str) -> list[dict[str, Any]]:
    if "\x00" in value:
        return [_error(name, value, "must not contain a NUL byte", where)]
    if len(value) > MAX_VALUE_CHARS:
        return [
            _error(
                name, value, f"{len(value)} characters is too long (at most {MAX_VALUE_CHARS})",
                where, max_length=MAX_VALUE_CHARS,
            )
        ]  # fmt: skip
    return []


def _error(
    name: str, value: str | None, msg: str, where: str = "query", **limits: Any
) -> dict[str, Any]:
    """One error in pydantic's shape, so the API's 422 handler words it like any other."""
    return {"type": "value_error", "loc": (where, name), "msg": msg, "input": value,
            "ctx": limits}  # fmt: skip


def declare_limits(spec: dict[str, Any]) -> dict[str, Any]:
    """Write the limits above into `spec` (OpenAPI), on every string query or path parameter."""
    for ops in spec.get("paths", {}).values():
        for op in ops.values():
            for param in op.get("parameters", []) if isinstance(op, dict) else []:
                if param.get("in") not in ("query", "path"):
                    continue
                schema = param.get("schema", {})
                for typed in schema.get("anyOf", [schema]):
                    if typed.get("type") == "string":
                        typed["maxLength"] = min(typed.get("maxLength", MAX_VALUE_CHARS),
                                                 MAX_VALUE_CHARS)  # fmt: skip
                        typed.setdefault("pattern", NO_NUL)
    return spec
