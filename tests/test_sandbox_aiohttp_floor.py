"""The aiohttp the package declares it works with has what the sandbox's connection guard
imports: `aiohttp.web_protocol.MAX_MSG_QUEUE_SIZE` and the request parser's
`max_msg_queue_size` (sandbox/conn_guard.py), both first in aiohttp 3.14.1. Declared
`aiohttp>=3.9`, an environment holding 3.9 to 3.14.0 kept its aiohttp on install, and
`tradeguard sandbox` ended in an ImportError traceback (with 3.14.0 the sandbox ran before the
guard parsed with the pure-Python parser)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

FIRST_WITH_THE_QUEUE_SIZE = Version("3.14.1")


def test_the_declared_aiohttp_floor_has_what_the_connection_guard_imports():
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    (spec,) = [
        Requirement(r).specifier
        for r in pyproject["project"]["dependencies"]
        if Requirement(r).name == "aiohttp"
    ]
    assert not spec.contains("3.14.0"), spec
    assert not spec.contains("3.13.5"), spec
    assert spec.contains(str(FIRST_WITH_THE_QUEUE_SIZE)), spec


def test_the_installed_aiohttp_has_them():
    from aiohttp import web_protocol
    from aiohttp.http_parser import HttpRequestParserPy

    assert isinstance(web_protocol.MAX_MSG_QUEUE_SIZE, int)
    assert "max_msg_queue_size" in HttpRequestParserPy.__init__.__code__.co_varnames
