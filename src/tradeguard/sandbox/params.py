"""Binance request parameters and error answers: parsing, checking, and the `{code, msg}` body."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from aiohttp import web

_NUM_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_INT_RE = re.compile(r"^-?[0-9]{1,19}$")


class ApiError(Exception):
    """A Binance error answer: `{"code": code, "msg": msg}` with an HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status


def error_response(exc: ApiError) -> web.Response:
    """The JSON body Binance sends for an error."""
    return web.json_response({"code": exc.code, "msg": exc.msg}, status=exc.status)


def strip_signature(raw: str) -> tuple[str, str]:
    """Split `a=1&b=2&signature=x` into (`a=1&b=2`, `x`), keeping the raw encoding."""
    if not raw:
        return "", ""
    kept = []
    sig = ""
    for part in raw.split("&"):
        if part.startswith("signature="):
            sig = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), sig


def required(params: Any, name: str) -> str:
    """The value of a mandatory parameter, else Binance's -1102."""
    value = params.get(name)
    if not value:
        raise ApiError(
            -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
        )
    return str(value)


def num(params: Any, name: str) -> Decimal | None:
    """A decimal parameter (at most 8 decimals), or None when absent."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not _NUM_RE.fullmatch(raw):  # as Binance: "1\n" is -1100 (match() reads it as 1)
        raise ApiError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is "
            "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
        )
    value = Decimal(raw)
    if value != value.quantize(Decimal("0.00000001"), rounding="ROUND_DOWN"):
        raise ApiError(-1111, f"Parameter '{name}' has too much precision.")
    return value


def int_param(params: Any, name: str, default: int | None = None) -> int | None:
    """An integer parameter, or `default` when absent."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not _INT_RE.fullmatch(str(raw)):
        raise ApiError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is '^-?[0-9]{{1,19}}$'.",
        )
    return int(raw)


def limit_param(params: Any, default: int, maximum: int) -> int:
    """The `limit` parameter within 1..maximum, else Binance's -1100."""
    value = int_param(params, "limit", default)
    assert value is not None
    if not 1 <= value <= maximum:
        raise ApiError(
            -1100, f"Illegal characters found in parameter 'limit'; legal range is '1..{maximum}'."
        )
    return value


def ws_value(v: Any) -> str:
    """A ws-api parameter as it appears in the signed payload."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
