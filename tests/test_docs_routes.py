"""Every API route the docs show exists with the method they show: each `curl` a user copies from
README.md or docs/*.md, and each `GET /api/v1/...` named in the text."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tradeguard.api.app import _ROUTERS, _ROUTERS_MORE

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NAMED = re.compile(r"\b(GET|POST|PUT|DELETE|PATCH) (/api/v1/[A-Za-z0-9_{}./-]*[A-Za-z0-9_}])")


def _curls(text: str) -> list[tuple[str, str]]:
    """(method, path) of each curl command, continuation lines and multi-line bodies joined."""
    lines = text.replace("\\\n", " ").splitlines()
    found = []
    for i, line in enumerate(lines):
        if "curl " not in line or "/api/v1/" not in line:
            continue
        command = line[line.index("curl ") :]
        for extra in [*lines[i + 1 : i + 8], None]:  # a JSON body over lines closes its quote
            try:
                words = shlex.split(command, comments=True)
                break
            except ValueError:
                if extra is None:
                    raise AssertionError(f"curl command no shell could read: {line!r}") from None
                command += "\n" + extra
        method = None
        data = False
        url = ""
        for k, word in enumerate(words):
            if word == "-X":
                method = words[k + 1]
            elif word in ("-d", "--data", "--data-binary"):
                data = True
            elif "/api/v1/" in word:
                url = word
        path = "/api/v1/" + url.split("/api/v1/", 1)[1].split("?")[0]
        found.append((method or ("POST" if data else "GET"), path))
    return found


def _documented() -> list[tuple[str, str, str]]:
    out = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        out += [(doc.name, m, p) for m, p in _curls(text)]
        out += [(doc.name, m.group(1), m.group(2)) for m in NAMED.finditer(text)]
    return out


def _routes() -> list[tuple[re.Pattern[str], set[str]]]:
    return [
        (route.path_regex, set(route.methods))
        for area in (*_ROUTERS, *_ROUTERS_MORE)
        for route in area.router.routes
        if hasattr(route, "methods") and hasattr(route, "path_regex")
    ]


def _served(method: str, path: str) -> bool:
    concrete = re.sub(r"\{[^}]*\}", "x", path)  # {id} in prose, a sample id in a curl
    return any(rx.match(concrete) and method in methods for rx, methods in _routes())


def test_the_docs_show_routes_to_check():
    shown = _documented()
    assert len(shown) >= 30
    assert ("bots.md", "POST", "/api/v1/trades/execute") in shown  # a body over two lines


@pytest.mark.parametrize(("doc", "method", "path"), sorted(set(_documented())))
def test_a_documented_route_is_served_with_that_method(doc, method, path):
    assert _served(method, path), f"{doc} shows {method} {path}, which the API does not serve"


def test_a_route_or_method_the_api_does_not_serve_is_caught():
    assert not _served("GET", "/api/v1/safety/validate-trade")  # POST only
    assert not _served("POST", "/api/v1/safty/status")
    assert _curls('curl -s -H "$H" -X POST 127.0.0.1:8000/api/v1/kill -d \'{\n"a": 1}\'') == [
        ("POST", "/api/v1/kill")
    ]
