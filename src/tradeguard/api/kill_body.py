"""What a kill or an emergency stop reads of its request: all it can, never a refusal.

```python
body, ignored = await lenient_body(request, KillRequest)
```

A kill switch halts on any request its caller may make (a valid token, and X-TOTP where
`api.require_totp_for_kill` asks it): a query parameter it does not take (`?flatten=true`, a
body field), a body that is no JSON object or larger than `api.max_body_bytes`, a field it does
not know or a value it cannot take are each ignored, the field's default kept, and listed in
the answer's `ignored` as a 422 would word them. A reason holding control characters is kept
with each written as its escape. Such a request was a 422, and trading went on.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import HTTPException, Request
from pydantic import BaseModel, ValidationError

from tradeguard.api.deps import API
from tradeguard.api.errors import described
from tradeguard.api.strict_json import strict_parse
from tradeguard.model.text import escaped

KILL_ROUTES = frozenset({f"{API}/kill", f"{API}/safety/emergency-stop"})
IGNORED = "ignored"  # scope["state"] key: what the request held that the kill did not take

Model = TypeVar("Model", bound=BaseModel)


def declared_body(model: type[BaseModel]) -> dict[str, Any]:
    """The route's `openapi_extra`: its optional JSON body, as a body parameter declares it."""
    schema = model.model_json_schema()
    return {"requestBody": {"content": {"application/json": {"schema": schema}}}}


def note_ignored(scope: Any, errors: list[dict[str, Any]]) -> None:
    """Keep `errors` (pydantic's shape) for the kill route to list once it has halted."""
    scope.setdefault("state", {}).setdefault(IGNORED, []).extend(errors)


async def lenient_body(request: Request, model: type[Model]) -> tuple[Model, list[dict[str, Any]]]:
    """The body as `model`, keeping each field that holds a value it takes, and what was
    ignored of the request (its query parameters' errors first), as the API shows errors."""
    errors: list[dict[str, Any]] = list(request.scope.get("state", {}).get(IGNORED, []))
    try:
        raw = (await request.body()).strip()
    except HTTPException as exc:  # the body streamed past api.max_body_bytes
        errors.append(_whole(str(exc.detail)))
        raw = b""
    fields: dict[str, Any] = {}
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if raw and not (kind == "application/json" or kind.endswith("+json")):
        errors.append(_whole(f"sent as {kind!r}, not read: send JSON as application/json"))
    elif raw and raw != b"null":  # null: no body, as a client's unset variable sends it
        fields = _fields(raw, model, errors)
    return model.model_validate(fields), described(errors)


def _whole(message: str, value: Any = None) -> dict[str, Any]:
    return {"type": "value_error", "loc": ("body",), "msg": message, "input": value}


def _fields(raw: bytes, model: type[BaseModel], errors: list[dict[str, Any]]) -> dict[str, Any]:
    try:
        doc = strict_parse(raw)
    except (ValueError, RecursionError) as exc:
        errors.append({"type": "json_invalid", "loc": ("body", 0), "ctx": {"error": str(exc)}})
        return {}
    if not isinstance(doc, dict):
        errors.append(_whole("not a JSON object", doc))
        return {}
    fields: dict[str, Any] = {}
    for key, value in doc.items():
        try:
            model.model_validate({key: value})
        except ValidationError as exc:
            found = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
            errors.extend(found)
            kept = escaped(value) if isinstance(value, str) else None
            if key == "reason" and kept is not None and _takes(model, key, kept):
                fields[key] = kept  # its words, each control character as its escape
            continue
        fields[key] = value
    return fields


def _takes(model: type[BaseModel], key: str, value: Any) -> bool:
    try:
        model.model_validate({key: value})
    except ValidationError:
        return False
    return True
