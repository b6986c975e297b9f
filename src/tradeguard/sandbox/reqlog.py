"""The optional request log: one JSON line per call, API key masked and signature dropped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qsl

_SECRET_PARAMS = frozenset({"signature", "secret", "apikey", "api_key", "listenkey"})


def mask(value: str) -> str:
    """Keep only enough of a key to tell keys apart: `abcd…wxyz` (4 + 4 characters)."""
    if len(value) <= 8:
        return "***"
    return f"{value[:4]}…{value[-4:]}"


def redact_params(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Parameters with signatures dropped and keys masked."""
    out: dict[str, str] = {}
    for k, v in pairs:
        low = k.lower()
        if low == "signature":
            continue
        out[k] = mask(v) if low in _SECRET_PARAMS else v
    return out


class RequestLog:
    """Append one JSON object per request to a file: what a bot called and what it got."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: TextIO | None = None

    def open(self) -> None:
        """Open the file for appending (its folder must exist)."""
        self._fh = self.path.open("a", encoding="utf-8")

    def close(self) -> None:
        """Flush and close the file."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def write(
        self,
        ts_ms: int,
        method: str,
        path: str,
        query: str,
        body: str,
        api_key: str | None,
        status: int,
        code: int | None = None,
    ) -> None:
        """Record one request and its outcome."""
        if self._fh is None:
            return
        row: dict[str, Any] = {
            "ts": ts_ms,
            "method": method,
            "path": path,
            "params": redact_params(parse_qsl(query, keep_blank_values=True))
            | redact_params(parse_qsl(body, keep_blank_values=True)),
            "status": status,
        }
        if api_key:
            row["api_key"] = mask(api_key)
        if code is not None:
            row["code"] = code
        self._fh.write(json.dumps(row) + "\n")
        self._fh.flush()
