"""How the API answers a request it refuses: one clear line naming the field and the limit."""

from __future__ import annotations

import json
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from tradeguard.secrets.redact import redact

_LIMIT_KEYS = ("gt", "ge", "lt", "le", "max_length", "min_length", "pattern")


def invalid_request(exc: RequestValidationError) -> JSONResponse:
    """Answer 422 with every invalid field, its value (redacted, cut short) and its limit."""
    errors = []
    for e in exc.errors():
        if e.get("type") == "json_invalid":  # loc is ("body", char offset), input is {}
            errors.append(_not_json(e))
            continue
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "(body)"
        ctx = e.get("ctx") or {}
        limits = {k: str(v) for k, v in ctx.items() if k in _LIMIT_KEYS}
        value = e.get("input")
        shown = redact(json.dumps(value, default=str))[:120] if value is not None else None
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")  # pydantic's label
        errors.append({"field": loc, "value": shown, "message": redact(msg), **limits})
    summary = "; ".join(
        f"{x['field']}{'' if x['value'] is None else ' = ' + x['value']}: {x['message']}"
        for x in errors
    )
    return JSONResponse({"error": f"invalid request: {summary}", "errors": errors}, status_code=422)


def _not_json(e: dict[str, Any]) -> dict[str, Any]:
    """The body could not be parsed: say so, with the parser's reason and where it stopped."""
    loc = e.get("loc", ())
    at = f" at character {loc[-1]}" if loc and isinstance(loc[-1], int) else ""
    why = str((e.get("ctx") or {}).get("error", "")) or "not JSON"
    return {"field": "(body)", "value": None,
            "message": f"the body is not valid JSON ({why}{at}); send one JSON object"}  # fmt: skip


# FastAPI's answer when the JSON parser fails other than on syntax (nesting past Python's
# recursion limit, an integer past its digit limit): it names neither.
_PARSE_FAILED = "There was an error parsing the body"


def unparsable_body(exc: HTTPException) -> JSONResponse | None:
    """Answer 422 naming the limits for a body the JSON parser gave up on; None for others."""
    if exc.status_code != 400 or exc.detail != _PARSE_FAILED:
        return None
    message = ("the body could not be read as JSON: it nests too deeply (at most 64 arrays and "
               "objects within one another) or holds a number with too many digits (at most "
               "4300); send one JSON object of plain values")  # fmt: skip
    errors = [{"field": "(body)", "value": None, "message": message}]
    return JSONResponse({"error": f"invalid request: (body): {message}", "errors": errors},
                        status_code=422)  # fmt: skip


# What the schema declares for refusals --------------------------------------------------------
class Refusal(BaseModel):
    """A refusal: the reason and what to do, in one line."""

    detail: str


class FieldError(BaseModel):
    field: str
    value: str | None
    message: str


class InvalidRequest(BaseModel):
    """A 422: every invalid field with its value and limit."""

    error: str
    errors: list[FieldError]


class Conflict(BaseModel):
    """A 409: the action cannot be done in the node's present state; the error says why."""

    error: str


def _refusal(description: str) -> dict[str, Any]:
    return {"model": Refusal, "description": description}


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _refusal("the request could not be read"),
    401: _refusal("no valid API token (or, where needed, no valid TOTP code in X-TOTP)"),
    403: _refusal("the token's role is too low for this"),
    413: _refusal("the body exceeds api.max_body_bytes"),
    422: {"model": InvalidRequest | Refusal, "description": "invalid fields, each named"},
    429: _refusal("too many failed authentications from this client; see Retry-After"),
}
OPEN_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: AUTH_RESPONSES[400],
    413: AUTH_RESPONSES[413],
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _refusal("no such item")}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": Conflict, "description": "refused in the node's present state"}
}
