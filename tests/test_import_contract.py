"""The room table of docs/architecture.md as an import contract.

Every `tradeguard.*` import in `src/` (at module level or inside a function) is checked against
the rooms each room may import. A new upward import fails here; the few that are still being
moved out are listed by name in `KNOWN`, and a listed one that no longer exists fails too, so the
list only shrinks.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from ast_support import parse

SRC = Path(__file__).resolve().parents[1] / "src" / "tradeguard"

# Top-level modules that belong to a room of their own name elsewhere in the table.
ALIASES = {
    "clock": "model",
    "bus": "events",
    "pacing": "model",
    "logsetup": "secrets",
    "configdoc": "cli",
    "apiconfig": "config",
    "config_hints": "config",
    "config_venues": "config",
    "config_env": "config",
    "config_errors": "config",
    "config_files": "config",
    "chaos": "cli",  # kill-and-restart drivers for tests and benchmarks
    "ctrl_c_reach": "model",  # signals every room's threads are started with
}

ALL = "*"
# room -> rooms it may import (its own room is always allowed)
MAY_IMPORT: dict[str, set[str] | str] = {
    "model": set(),
    "secrets": set(),
    "events": {"model"},
    "risk": {"model", "portfolio"},
    "portfolio": {"model"},
    "storage": {"model"},
    "marketdata": {"model"},
    "alerts": {"model", "secrets"},
    "venues": {"model", "marketdata", "secrets"},
    "config": {"model", "risk", "alerts", "venues", "marketdata", "portfolio", "secrets"},
    "execution": {"model", "risk", "portfolio", "storage", "venues", "marketdata", "events"},
    "strategies": {"model", "marketdata", "portfolio"},
    "bots": {"model", "risk", "portfolio"},
    "sandbox": {"model", "marketdata", "secrets"},
    "backtest": ALL,
    "node": ALL,
    "api": ALL,
    "cli": ALL,
}
# room -> {room it may import only in part: the modules of that room it may import}
ONLY_MODULES: dict[str, dict[str, set[str]]] = {
    # credentials are handed to venues; a venue never opens the vault itself
    "venues": {"secrets": {"secrets.redact", "secrets.permissions"}},
}
# Rooms that nothing but these may import (the top of the house).
TOP = {"node": {"backtest", "api", "cli"}, "api": {"cli"}, "cli": set()}

# Imports that break the table today and are being moved out; each is (module, imported room).
KNOWN: set[tuple[str, str]] = set()


def _room(module: str) -> str:
    head = module.split(".")[0]
    return ALIASES.get(head, head)


def _target_room(imported: str) -> str:
    # a command-line module is the CLI's, wherever it still lives
    return "cli" if imported.split(".")[-1] == "cli" else _room(imported)


def _imports(path: Path) -> set[str]:
    tree = parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("tradeguard."):
                found.add(node.module.removeprefix("tradeguard."))
            elif node.module == "tradeguard":
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tradeguard."):
                    found.add(alias.name.removeprefix("tradeguard."))
    return found


def _modules() -> dict[str, Path]:
    out = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).with_suffix("")
        if "migrations" in rel.parts:
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        if parts:
            out[".".join(parts)] = path
    return out


def _allowed(room: str, target: str, imported: str = "") -> bool:
    if target == room:
        return True
    only = ONLY_MODULES.get(room, {}).get(target)
    if only is not None and imported not in only:
        return False
    rule = MAY_IMPORT.get(room)
    if rule is None:
        return False
    if target in TOP and room not in TOP[target]:
        return False
    return rule == ALL or target in rule


def _violations() -> set[tuple[str, str]]:
    bad: set[tuple[str, str]] = set()
    for module, path in _modules().items():
        room = _room(module)
        for imported in _imports(path):
            target = _target_room(imported)
            if not _allowed(room, target, imported):
                bad.add((module, target))
    return bad


def test_every_room_is_in_the_table() -> None:
    rooms = {_room(m) for m in _modules()}
    assert rooms <= set(MAY_IMPORT), f"rooms missing from the table: {rooms - set(MAY_IMPORT)}"


def test_no_new_upward_import() -> None:
    new = sorted(_violations() - KNOWN)
    assert not new, "imports that break the room table (docs/architecture.md): " + ", ".join(
        f"{m} -> {t}" for m, t in new
    )


def test_known_exceptions_still_exist() -> None:
    gone = sorted(KNOWN - _violations())
    assert not gone, f"remove these from KNOWN, they are fixed: {gone}"


def test_contract_catches_an_upward_import() -> None:
    assert not _allowed("model", "venues")
    assert not _allowed("strategies", "storage")
    assert not _allowed("venues", "risk")
    assert not _allowed("execution", "node")
    assert not _allowed("node", "api")
    assert _allowed("node", "execution")
    assert _allowed("cli", "api")


def test_a_venue_may_redact_but_never_open_the_vault() -> None:
    assert _allowed("venues", "secrets", "secrets.redact")
    assert _allowed("venues", "secrets", "secrets.permissions")
    assert not _allowed("venues", "secrets", "secrets.vault")
    assert not _allowed("venues", "secrets", "secrets")  # the package hands out the vault too
    assert _allowed("node", "secrets", "secrets.vault")


def test_the_contract_sees_a_venue_module_importing_the_vault(tmp_path, monkeypatch) -> None:
    venue = tmp_path / "tradeguard" / "venues" / "leaky.py"
    venue.parent.mkdir(parents=True)
    venue.write_text("from tradeguard.secrets.vault import Vault\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "SRC", tmp_path / "tradeguard")
    assert ("venues.leaky", "secrets") in _violations()


def _private_imports(room: Path) -> list[tuple[str, str]]:
    """(module, name) for each `from tradeguard.x import _name` under `room`."""
    found = []
    for path in sorted(room.rglob("*.py")):
        for node in ast.walk(parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tradeguard"):
                found += [
                    (path.stem, a.name)
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
    return found


def test_venue_modules_share_helpers_by_public_names() -> None:
    # a helper two venue modules share is public where it lives, not another module's private
    assert _private_imports(SRC / "venues") == []


# What `tradeguard backtest` loads before its run: the command's module, the config and the
# runner. Their module-level imports (followed through every tradeguard module they reach) may
# load only these third-party packages; the live, API and venue world (exchange clients, HTTP,
# the vault's cryptography, pandas, pyarrow, Alembic, rich) is imported where it is used.
BACKTEST_ROOTS = ("cli.backtest", "config", "backtest.runner")
BACKTEST_THIRD_PARTY = {"numpy", "pydantic", "sqlalchemy"}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(tree: ast.Module) -> list[tuple[str, list[str]]]:
    """(module, names imported from it) of each import run when the module loads: statements
    of the module body, also inside module-level `try`/`if`/`with` (not `if TYPE_CHECKING`)."""
    found: list[tuple[str, list[str]]] = []
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.If):
            todo += node.orelse if _is_type_checking(node.test) else node.body + node.orelse
        elif isinstance(node, ast.Try):
            todo += node.body + node.orelse + node.finalbody
            todo += [s for h in node.handlers for s in h.body]
        elif isinstance(node, ast.With):
            todo += node.body
    return found


def _load_closure(roots: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """The tradeguard modules loading `roots` runs (each with the module that imported it
    first) and the top-level third-party packages they import at module level (likewise)."""
    modules = _modules()
    reached: dict[str, str] = {}
    third: dict[str, str] = {}
    todo = [(r, "") for r in roots]
    while todo:
        module, by = todo.pop()
        parts = module.split(".")
        for n in range(1, len(parts) + 1):  # a package's __init__ runs before its modules
            name = ".".join(parts[:n])
            if name in modules and name not in reached:
                reached[name] = by if n == len(parts) else module
                tree = parse(modules[name].read_text(encoding="utf-8"))
                for imported, names in _module_level_imports(tree):
                    head = imported.split(".")[0]
                    if head == "tradeguard":
                        inner = imported.removeprefix("tradeguard").lstrip(".")
                        targets = [inner] if inner else []
                        targets += [f"{inner}.{x}".lstrip(".") for x in names]
                        todo += [(t, name) for t in targets if t in modules]
                    elif head not in sys.stdlib_module_names and head != "__future__":
                        third.setdefault(head, name)
    return reached, third


def _chain(reached: dict[str, str], module: str) -> str:
    steps = [module]
    while reached.get(steps[-1]):
        steps.append(reached[steps[-1]])
    return " <- ".join(steps)


def test_the_backtest_command_loads_no_third_party_package_it_does_not_need() -> None:
    reached, third = _load_closure(BACKTEST_ROOTS)
    extra = {p: m for p, m in third.items() if p not in BACKTEST_THIRD_PARTY}
    assert not extra, "import these where they are used, not at module level: " + "; ".join(
        f"{p} by {_chain(reached, m)}" for p, m in sorted(extra.items())
    )


def test_the_backtest_command_loads_no_api_sandbox_or_live_venue_module() -> None:
    reached, _ = _load_closure(BACKTEST_ROOTS)
    # packages, and the venue modules that talk to an exchange, a market or a chain
    live = ("api.", "sandbox.", "venues.kalshi.", "venues.polymarket.", "alerts.channels.")
    talk = (
        "venues.ccxt_",
        "venues.pm_",
        "venues.outcome_stream",
        "alerts.manager",
        "alerts.deadman",
    )
    talk += tuple(f"venues.uniswap_v2.{m}" for m in ("build", "rpc", "sender", "venue"))
    bad = sorted(m for m in reached if f"{m}.".startswith(live) or m.startswith(talk))
    assert not bad, "; ".join(_chain(reached, m) for m in bad)


def test_the_closure_sees_a_module_level_import_and_skips_type_checking(
    tmp_path, monkeypatch
) -> None:
    pkg = tmp_path / "tradeguard"
    (pkg / "backtest").mkdir(parents=True)
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "backtest" / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "backtest" / "runner.py").write_text(
        "from typing import TYPE_CHECKING\nfrom tradeguard.backtest import deep\n"
        "if TYPE_CHECKING:\n    import pandas\n"
        "def f():\n    import ccxt\n",
        encoding="utf-8",
    )
    (pkg / "backtest" / "deep.py").write_text(
        "try:\n    import fastapi\nexcept ImportError:\n    fastapi = None\n", encoding="utf-8"
    )
    monkeypatch.setattr(sys.modules[__name__], "SRC", pkg)
    reached, third = _load_closure(("backtest.runner",))
    assert third == {"fastapi": "backtest.deep"}  # not pandas (typing only), not ccxt (in f)
    assert _chain(reached, "backtest.deep") == "backtest.deep <- backtest.runner"
