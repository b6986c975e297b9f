"""How the API answers a request it refuses: one clear line naming the field and the limit."""

from __future__ import annotations

import json

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from tradeguard.secrets.redact import redact

_LIMIT_KEYS = ("gt", "ge", "lt", "le", "max_length", "min_length", "pattern")


def invalid_request(exc: RequestValidationError) -> JSONResponse:
    """Answer 422 with every invalid field, its value (redacted, cut short) and its limit."""
    errors = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "(body)"
        ctx = e.get("ctx") or {}
        limits = {k: str(v) for k, v in ctx.items() if k in _LIMIT_KEYS}
        value = e.get("input")
        shown = redact(json.dumps(value, default=str))[:120] if value is not None else None
        msg = str(e.get("msg", "invalid"))
        errors.append({"field": loc, "value": shown, "message": redact(msg), **limits})
    summary = "; ".join(f"{x['field']} = {x['value']}: {x['message']}" for x in errors)
    return JSONResponse({"error": f"invalid request: {summary}", "errors": errors}, status_code=422)
