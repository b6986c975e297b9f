"""The exchange ids ccxt offers, known without importing ccxt.

Importing `ccxt` loads the class of every exchange it supports (seconds on a busy machine);
`tradeguard config check` only needs their ids. ccxt's package keeps them as one literal list,
`exchanges = [...]` in its `__init__.py`, which is read as text here. Where that list cannot be
found or read (another layout in some ccxt version), ccxt is imported and asked.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path

_EXCHANGES = re.compile(r"^exchanges = (\[[^\]]*\])", re.MULTILINE)


def ccxt_exchange_ids() -> frozenset[str]:
    """Return ccxt's exchange ids (`ccxt.exchanges`), without importing ccxt when it can."""
    loaded = sys.modules.get("ccxt")
    if loaded is None:
        ids = _listed_ids()
        if ids is not None:
            return ids
    import ccxt

    return frozenset(ccxt.exchanges)


def _listed_ids() -> frozenset[str] | None:
    """The `exchanges` list of ccxt's `__init__.py`, or None when it cannot be read as one."""
    spec = importlib.util.find_spec("ccxt")
    if spec is None or not spec.origin:
        return None
    try:
        found = _EXCHANGES.search(Path(spec.origin).read_text(encoding="utf-8"))
        ids = ast.literal_eval(found.group(1)) if found else None
    except (OSError, UnicodeDecodeError, ValueError, SyntaxError):
        return None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        return None
    return frozenset(ids)
