"""Find a strategy class by its config `kind`: built-in, installed, module path or file path.

`kind` may be
- a built-in kind (`ma_crossover`, `triangular`, ...),
- the name of an entry point in the `tradeguard.strategies` group (an installed package),
- `package.module:ClassName` (importable from the current environment),
- `path/to/file.py:ClassName` (a file; a relative path is taken from the config file's folder,
  then from the working directory).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from decimal import localcontext
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from tradeguard.strategies.base import Strategy
from tradeguard.strategies.decimal_context import remember_module_context

ENTRY_POINT_GROUP = "tradeguard.strategies"


class StrategyLoadError(ValueError):
    """A strategy kind that names nothing loadable; the message says where it looked."""


def load_strategy_class(kind: str, base_dir: Path | None = None) -> type[Strategy]:
    """Return the class a user-strategy `kind` names, or raise StrategyLoadError.

    Its module is imported in a copy of the decimal context: what the module sets there as it
    is imported (`getcontext().prec = 6` at its top) is its strategies' own, not the node's."""
    with localcontext() as imported:
        cls = _load(kind, base_dir)
    remember_module_context(cls.__module__, imported)
    return cls


def _load(kind: str, base_dir: Path | None) -> type[Strategy]:
    if ":" not in kind:
        cls = _from_entry_point(kind)
        if cls is None:
            raise StrategyLoadError(
                f"unknown strategy kind {kind!r}: not a built-in kind and no entry point "
                f"{kind!r} in group {ENTRY_POINT_GROUP!r}; a strategy of your own is "
                "'package.module:ClassName' or 'path/to/file.py:ClassName'"
            )
        return _checked(cls, kind, f"entry point {kind!r}")
    target, _, attr = kind.rpartition(":")
    if not target or not attr.isidentifier():
        raise StrategyLoadError(
            f"strategy kind {kind!r}: expected 'package.module:ClassName' or "
            "'path/to/file.py:ClassName'"
        )
    if target.endswith(".py") or "/" in target or "\\" in target:
        module, where = _from_file(kind, target, base_dir)
    else:
        module, where = _from_module(kind, target)
    cls = getattr(module, attr, None)
    if cls is None:
        names = sorted(
            n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, Strategy)
        )
        raise StrategyLoadError(
            f"strategy kind {kind!r}: {where} has no attribute {attr!r}; "
            f"Strategy classes there: {names or 'none'}"
        )
    return _checked(cls, kind, where)


def _from_entry_point(name: str) -> Any:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            try:
                return ep.load()
            except Exception as exc:
                raise StrategyLoadError(
                    f"strategy kind {name!r}: entry point {ep.value!r} failed to load: "
                    f"{type(exc).__name__}: {exc}"
                ) from None
    return None


def _from_module(kind: str, target: str) -> tuple[Any, str]:
    try:
        return importlib.import_module(target), f"module {target!r}"
    except ModuleNotFoundError as exc:
        raise StrategyLoadError(
            f"strategy kind {kind!r}: module {target!r} not found ({exc.msg}); looked on "
            f"sys.path: {', '.join(p or '.' for p in sys.path[:6])}"
            + (" …" if len(sys.path) > 6 else "")
        ) from None
    except Exception as exc:
        raise StrategyLoadError(
            f"strategy kind {kind!r}: importing {target!r} failed: {type(exc).__name__}: {exc}"
        ) from None


def _candidates(target: str, base_dir: Path | None) -> list[Path]:
    path = Path(target).expanduser()
    if path.is_absolute():
        return [path]
    out = []
    if base_dir is not None:
        out.append(base_dir / path)
    out.append(Path.cwd() / path)
    return out


def _from_file(kind: str, target: str, base_dir: Path | None) -> tuple[Any, str]:
    tried = _candidates(target, base_dir)
    path = next((p for p in tried if p.is_file()), None)
    if path is None:
        raise StrategyLoadError(
            f"strategy kind {kind!r}: file {target!r} not found; looked at: "
            + ", ".join(str(p) for p in tried)
        )
    path = path.resolve()
    # One module per file, named by its path, so two files called strategy.py do not collide.
    name = "tradeguard_user_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name], f"file {str(path)!r}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise StrategyLoadError(f"strategy kind {kind!r}: {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise StrategyLoadError(
            f"strategy kind {kind!r}: running {path} failed: {type(exc).__name__}: {exc}"
        ) from None
    return module, f"file {str(path)!r}"


def _checked(cls: Any, kind: str, where: str) -> type[Strategy]:
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise StrategyLoadError(
            f"strategy kind {kind!r}: {where} gives {cls!r}, which is not a subclass of "
            "tradeguard.strategies.base.Strategy"
        )
    return cls
