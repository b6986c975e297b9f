"""Request bodies read as strict JSON: an object naming a key twice is refused.

```python
router = APIRouter(route_class=StrictJsonRoute)
```

Python's parser keeps the last of two equal keys, while a proxy, a log or the bot's own check
may read the first: `{"side": "sell", "side": "buy"}` would be one order to one reader and
another to the next. The refusal is the parser's own (a 422 naming the key and where it is).

A body nesting deeper than `MAX_DEPTH` arrays and objects is refused before it is parsed: the
parser's own limit is the interpreter's recursion limit, which a library may raise (py_ecc sets
100,000), so what it gave up on depended on what else the process had imported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

MAX_DEPTH = 64  # arrays and objects within one another
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# an escaped surrogate not part of a pair: a high one with no low one after it, or a low one
# with no high one before it (only looked for once the parsed body is known to hold one)
_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


# Python reads no longer integer (int() raises past it): one is named by its key instead of the
# parser's "could not be read" for the whole body
MAX_INT_DIGITS = 4300


class _LongNumber:
    """An integer past MAX_INT_DIGITS, as the parser met it: its key's check names it."""

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _int(text: str) -> int | _LongNumber:
    digits = len(text) - text.startswith("-")  # JSON's only sign: no digit of the number
    return int(text) if digits <= MAX_INT_DIGITS else _LongNumber(digits)


def _long_in(value: Any) -> _LongNumber | None:
    """The `_LongNumber` that `value` is or holds in its lists (an object within was checked
    by its own keys), else None."""
    if type(value) is _LongNumber:
        return value
    if type(value) is list:
        for item in value:
            found = _long_in(item)
            if found is not None:
                return found
    return None


def _too_long(where: str, number: _LongNumber, text: str) -> json.JSONDecodeError:
    return json.JSONDecodeError(
        f"{where} holds a number of {number.digits} digits (at most {MAX_INT_DIGITS}; send "
        "figures as decimal strings)",
        text,
        0,
    )


class TooDeep(ValueError):
    """A body nesting deeper than MAX_DEPTH (answered as a body the parser gave up on)."""


def _check_depth(body: bytes) -> None:
    depth = 0
    for ch in _STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        depth += 1 if ch in b"[{" else -1
        if depth > MAX_DEPTH:
            raise TooDeep(f"nests deeper than {MAX_DEPTH}")


def _parse(body: bytes) -> Any:
    _check_depth(body)
    text = body.decode("utf-8", "replace")  # to say where a key repeats; the parser reads bytes

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            long = _long_in(value)  # in a list too: it went on into a signal, the db's 500
            if long is not None:
                raise _too_long(f"key {json.dumps(key)}", long, text)
            if key in out:
                quoted = json.dumps(key)
                first = text.find(quoted)
                at = text.find(quoted, first + 1) if first >= 0 else -1
                raise json.JSONDecodeError(f"key {quoted} given twice", text, max(at, 0))
            out[key] = value
        return out

    doc = json.loads(body, object_pairs_hook=no_duplicates, parse_int=_int)
    long = _long_in(doc)  # a number, or a list, as the whole body: under no key
    if long is not None:
        raise _too_long("the body", long, text)
    _check_unicode(doc, body, text)
    return doc


def _check_unicode(doc: Any, body: bytes, text: str) -> None:
    """Raise a JSONDecodeError when a string of `doc` holds a lone surrogate."""
    if b"\\u" not in body:  # a raw surrogate is no UTF-8, so only an escape can make one
        return
    try:
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        found = _LONE_SURROGATE.search(body)  # where, in characters as the text reads
        at = len(body[: found.start()].decode("utf-8", "replace")) if found else 0
        why = "a lone UTF-16 surrogate in a string (text must be whole Unicode characters)"
        raise json.JSONDecodeError(why, text, at) from None


strict_parse = _parse  # for a route that reads its body itself


class _StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = _parse(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """A route whose JSON body may not name a key twice."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictJsonRequest(request.scope, request.receive))

        return strict


def _body_error(message: str, value: Any = None) -> RequestValidationError:
    """A refusal of the whole body, worded by the API's 422 handler like any other."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("body",), "msg": message, "input": value}]
    )


# what marks, in the OpenAPI spec, an operation whose optional body may not be a JSON null
NOT_NULL_MARK = "x-body-not-null"
NO_NULL_BODY: dict[str, Any] = {NOT_NULL_MARK: True}  # the route's `openapi_extra`


def declare_not_null(spec: dict[str, Any]) -> dict[str, Any]:
    """Drop `null` from the body schema of each operation marked NOT_NULL_MARK (a route
    taking `refuse_null_body`: no body is still the defaults, a JSON null is refused)."""
    for ops in spec.get("paths", {}).values():
        for op in ops.values():
            if not isinstance(op, dict) or not op.pop(NOT_NULL_MARK, False):
                continue
            for content in op.get("requestBody", {}).get("content", {}).values():
                schema = content.get("schema", {})
                if "anyOf" in schema:
                    schema["anyOf"] = [k for k in schema["anyOf"] if k != {"type": "null"}]
    return spec


async def refuse_null_body(request: Request) -> None:
    """Refuse (422) a JSON `null` as the body of a route whose body is optional: FastAPI
    reads it as no body, so `null` (a client's unset variable) did what the defaults do."""
    if (await request.body()).strip() == b"null":
        raise _body_error(
            "the body is JSON null, no object: send an object, or no body for the defaults"
        )


async def refuse_any_body(request: Request) -> None:
    """Refuse (422) a body sent to a route that reads none, but for no body or `{}`: a
    `{"reason": ...}` was taken and dropped unread, so the caller thought it recorded."""
    raw = (await request.body()).strip()
    if not raw:
        return
    try:
        value = _parse(raw)
    except (ValueError, RecursionError):
        value = None
    if value != {}:
        raise _body_error("this route reads no body: send none, or {}", value)
