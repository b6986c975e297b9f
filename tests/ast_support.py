"""`ast.parse` for the tests that read the source, safe beside threads a test left running."""

from __future__ import annotations

import ast


def parse(source: str) -> ast.Module:
    """Parse `source`, retrying the SystemError CPython 3.11 raises when another thread parses
    or compiles at the same moment (its AST converter keeps the recursion depth in shared
    state): a server or a lazy import in a thread an earlier test started."""
    for attempt in range(5):
        try:
            return ast.parse(source)
        except SystemError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")
