"""How the API answers a request it refuses: one clear line naming the field and the limit."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from tradeguard.api.bot_schemas import BOT_ID, IDEMPOTENCY_KEY, PCT, SCORE
from tradeguard.api.schemas import (
    ISSUED_ID,
    MONEY_PATTERN,
    NO_NUL,
    ONE_LINE,
    ORDER_ID,
    REASON,
    STRATEGY_ID,
    VENUE_NAME,
)
from tradeguard.model.instrument import SYMBOL_PATTERN, SYMBOL_RULE
from tradeguard.model.text import ONE_LINE_RULE, REASON_RULE
from tradeguard.secrets.redact import redact

_LIMIT_KEYS = ("gt", "ge", "lt", "le", "max_length", "min_length")
# Every pattern a route declares, in words: an answer never shows a regular expression.
PATTERN_RULES = {
    SYMBOL_PATTERN: f"a symbol: {SYMBOL_RULE}",
    BOT_ID: "1 to 32 of a-z, 0-9, '_', '-', the first a-z or 0-9",
    IDEMPOTENCY_KEY: "1 to 128 printable ASCII characters, no spaces",
    SCORE: 'a decimal string such as "0.82", from -1000000 to 1000000, at most 18 places',
    PCT: 'a percentage string such as "2.5", above 0 and at most 100, at most 8 places',
    MONEY_PATTERN: 'a decimal string above 0 and below 1e12, at most 18 places, e.g. "0.015"',
    NO_NUL: "text without a NUL byte",
    ONE_LINE: ONE_LINE_RULE,
    REASON: REASON_RULE,
    STRATEGY_ID: "1 to 40 of A-Z, a-z, 0-9, '_', '.', ':', '-'",
    VENUE_NAME: "1 to 32 of a-z, 0-9, '_', '-'",
    ISSUED_ID: "1 to 64 of A-Z, a-z, 0-9, '_', '-'",
    ORDER_ID: "1 to 128 printable ASCII characters, no spaces",
}
_CHOICES = re.compile(r"\^\(([\w.-]+(?:\|[\w.-]+)*)\)\$")  # ^(a|b|c)$
# pydantic's wording by error type where it names Python types or internals
_TYPE_WORDS = {
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a JSON array",
    "string_type": "must be a string",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "missing": "is required",
    "extra_forbidden": "is not a field of this request",
    "is_instance_of": "has the wrong type",
    "arguments_type": "has the wrong type",
}
# loc parts pydantic adds for a union's branch or a validator: no field's name
_TAG = re.compile(r"^(str|int|float|bool|list|dict|none|Decimal|.*\[.*\])$")


# A name the client chose (an unknown query parameter, an unknown body field) is shown back only
# if plain: a token pasted as a name, an escape sequence or a NUL byte never is.
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,31}")
NAME_NOT_SHOWN = "(name not shown)"
# A name asking for a credential: what it carries is never shown, and the answer says where
# the API's own credential goes.
_CREDENTIAL_NAME = re.compile(r"(?i)key|secret|token|pass|auth|sign|session|bearer|cred")
CREDENTIAL_HINT = (
    "a credential is never read from the URL or the body: send the API token as "
    "`Authorization: Bearer <token>`"
)


def shown_name(name: str) -> str:
    """`name` if it is a plain one to show back, else NAME_NOT_SHOWN: a name of up to 32
    letters, digits, '_', '-', '.', unless 16 or more of them mix letters and digits (how a
    key or token looks, not a field name)."""
    if not _PLAIN_NAME.fullmatch(name):
        return NAME_NOT_SHOWN
    random_like = len(name) >= 16 and any(c.isdigit() for c in name)
    return NAME_NOT_SHOWN if random_like else name


def names_a_credential(name: str) -> bool:
    """Whether `name` (a plain one) asks for a key, a secret, a token or a password."""
    return bool(_CREDENTIAL_NAME.search(name))


def pattern_rule(pattern: str) -> str:
    """The rule `pattern` enforces, in words."""
    choices = _CHOICES.fullmatch(pattern)
    if choices:
        return "one of " + ", ".join(choices.group(1).split("|"))
    return PATTERN_RULES.get(pattern, "a value of the documented form (see the API schema)")


def _message(e: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """What is wrong, in words, and the limits to show with it."""
    ctx = e.get("ctx") or {}
    limits = {k: str(v) for k, v in ctx.items() if k in _LIMIT_KEYS}
    kind = e.get("type", "")
    if kind == "string_pattern_mismatch":
        rule = pattern_rule(str(ctx.get("pattern", "")))
        return f"must be {rule}", {**limits, "rule": rule}
    if kind in _TYPE_WORDS:
        return _TYPE_WORDS[kind], limits
    msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")  # pydantic's label
    return msg.replace("Input should be", "must be"), limits


# What a 422 echoes of the request, at most: a body of 64 KiB with one long key or thousands
# of unknown ones was answered with all of it, the summary repeating it.
MAX_ERRORS = 20
_FIELD_CHARS = 64
_MESSAGE_CHARS = 300


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "\u2026"


def invalid_request(exc: RequestValidationError) -> JSONResponse:
    """Answer 422 with the invalid fields (the first `MAX_ERRORS`), each with its value
    (redacted, cut short) and its limit."""
    found = exc.errors()
    errors = described(found)
    summary = "; ".join(
        f"{x['field']}{'' if x['value'] is None else ' = ' + x['value']}: {x['message']}"
        for x in errors
    )
    if len(found) > MAX_ERRORS:
        summary += f"; and {len(found) - MAX_ERRORS} more (at most {MAX_ERRORS} are listed)"
    return JSONResponse({"error": f"invalid request: {summary}", "errors": errors}, status_code=422)


def described(found: Any) -> list[dict[str, Any]]:
    """Each of the errors `found` (pydantic's shape; the first `MAX_ERRORS`) as the API shows
    it: the field, its value (redacted, cut short) and a message with the limit."""
    errors = []
    for e in found[:MAX_ERRORS]:
        if e.get("type") == "json_invalid":  # loc is ("body", char offset), input is {}
            errors.append(_not_json(e))
            continue
        parts = [str(p) for p in e.get("loc", ()) if p != "body"]
        value = None if e.get("type") == "missing" else e.get("input")  # input: the parent
        if e.get("type") == "extra_forbidden" and parts:  # a name the client made up
            parts[-1] = shown_name(parts[-1])
            if parts[-1] == NAME_NOT_SHOWN or names_a_credential(parts[-1]):
                value = None
        loc = ".".join(p for i, p in enumerate(parts) if not (i and _TAG.match(p))) or "(body)"
        loc = redact(_cut(loc, _FIELD_CHARS))
        msg, limits = _message(e)
        if isinstance(value, bytes):  # a body not sent as JSON reaches the model unparsed
            value = value.decode("utf-8", "replace")
            msg += "; send it as JSON, with Content-Type: application/json"
        shown = redact(json.dumps(value, default=str))[:120] if value is not None else None
        msg = redact(_cut(msg, _MESSAGE_CHARS))
        errors.append({"field": loc, "value": shown, "message": msg, **limits})
    return errors


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
