"""The exchange ids ccxt offers, known without importing ccxt.

Importing `ccxt` loads the class of every exchange it supports (seconds on a busy machine);
`tradeguard config check` only needs their ids. ccxt's package keeps them as one literal list,
`exchanges = [...]` in its `__init__.py`, which is parsed (not run) here. That list is taken
only when nothing else in the file binds or changes `exchanges` (`exchanges += [...]`,
`exchanges.append(...)`, a second assignment): otherwise, or where it cannot be found or read
(another layout in some ccxt version), ccxt is imported and asked, so a config check never
judges by a list that is not ccxt's own.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path


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
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, SyntaxError):
        return None
    listed = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and _name(node.targets[0]) == "exchanges"
        and isinstance(node.value, ast.List)
    ]
    if len(listed) != 1 or _changed_elsewhere(tree, listed[0].targets[0]):
        return None
    try:
        ids = ast.literal_eval(listed[0].value)
    except ValueError:
        return None
    if not ids or not all(isinstance(i, str) for i in ids):
        return None
    return frozenset(ids)


def _name(node: ast.AST) -> str | None:
    return node.id if isinstance(node, ast.Name) else None


def _changed_elsewhere(tree: ast.Module, assigned: ast.expr) -> bool:
    """Tell whether the file binds `exchanges` anywhere but the one literal list's assignment,
    or reaches into it (`exchanges.append(...)`, `exchanges[0] = ...`): the list read would
    then not be ccxt's."""
    return any(_touches(node, assigned) for node in ast.walk(tree))


def _touches(node: ast.AST, assigned: ast.expr) -> bool:
    if isinstance(node, ast.Name):  # bound or deleted anywhere but the literal's assignment
        return (
            node.id == "exchanges" and not isinstance(node.ctx, ast.Load) and node is not assigned
        )
    if isinstance(node, ast.Attribute | ast.Subscript):  # exchanges.append(...), exchanges[0] =
        return _name(node.value) == "exchanges"
    if isinstance(node, ast.alias):  # from ... import exchanges
        return (node.asname or node.name) == "exchanges"
    if isinstance(node, ast.Global | ast.Nonlocal):
        return "exchanges" in node.names
    return False
