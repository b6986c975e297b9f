"""Parameter grids for sweeps: a TOML file of config paths and the values each may take.

```toml
metric = "sharpe"                              # leaderboard order (prefix "-" for lowest first)
[grid]
"strategies.*.params.fast" = [8, 12, 16]       # "*" = every element of a list
"strategies.*.params.slow" = [26, 40]
```

Every combination is one independent backtest; its key (a hash of its values) names the
directory its result is stored in, so a rerun skips what is already done.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradeguard.model.errors import ConfigError
from tradeguard.model.toml_text import loads_toml

MAX_COMBINATIONS = 100_000


@dataclass(frozen=True, slots=True)
class Combo:
    """One point of the grid: its index, values by config path, and stable key."""

    index: int
    values: dict[str, Any]

    @property
    def key(self) -> str:
        text = json.dumps(self.values, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def label(self) -> str:
        return ", ".join(f"{k.split('.')[-1]}={v}" for k, v in self.values.items())


@dataclass(frozen=True, slots=True)
class Grid:
    """The parsed grid file."""

    axes: dict[str, list[Any]]
    metric: str = "sharpe"

    def combos(self) -> list[Combo]:
        names = list(self.axes)
        product = itertools.product(*(self.axes[n] for n in names))
        return [Combo(i, dict(zip(names, values, strict=True))) for i, values in enumerate(product)]


def load_grid(path: Path) -> Grid:
    """Read a grid file; refuse an empty, non-list or oversized grid with a one-line reason."""
    try:
        found = path.is_file()
    except OSError:  # a name too long for the file system
        found = False
    if not found:
        raise ConfigError(f"--grid {str(path)[:80]!r}: no such file; give a grid TOML file")
    try:
        data = loads_toml(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--grid {path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"--grid {path}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    axes = data.get("grid")
    if not isinstance(axes, dict) or not axes:
        raise ConfigError(f"--grid {path}: needs a [grid] table of 'config.path' = [values]")
    total = 1
    for key, values in axes.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"--grid {path}: grid.{key} = {values!r}: must be a non-empty list")
        total *= len(values)
    if total > MAX_COMBINATIONS:
        raise ConfigError(
            f"--grid {path}: {total:,} combinations exceed the limit {MAX_COMBINATIONS:,}"
        )
    metric = data.get("metric", "sharpe")
    if not isinstance(metric, str):
        raise ConfigError(f"--grid {path}: metric = {metric!r}: must be a metric name")
    check_metric(metric, f"--grid {path}: metric")
    return Grid(axes=axes, metric=metric)


def check_metric(metric: str, where: str) -> str:
    """Return `metric` if the leaderboard can rank by it; ConfigError names the known ones."""
    from tradeguard.backtest.metrics import compute_metrics

    figures = compute_metrics([], [], 1.0)
    known = sorted(k for k, v in figures.items() if not isinstance(v, dict | str))
    if metric.removeprefix("-") not in known:
        raise ConfigError(
            f"{where} = {metric!r}: not a metric; one of {', '.join(known)} "
            '(prefix "-" ranks lowest first)'
        )
    return metric


def apply_values(config: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Set each dotted path of `values` in the config dict `config` (mutated and returned)."""
    for path, value in values.items():
        _set(config, path.split("."), value, path)
    return config


def _set(node: Any, parts: list[str], value: Any, path: str) -> None:
    head, rest = parts[0], parts[1:]
    if isinstance(node, list):
        if head == "*":
            targets = node
        elif head.isascii() and head.isdigit() and int(head) < len(node):
            targets = [node[int(head)]]
        else:
            raise ConfigError(f"grid key {path!r}: {head!r} is not an index of a {len(node)}-list")
        if not rest:
            raise ConfigError(f"grid key {path!r}: cannot replace a list element")
        for item in targets:
            _set(item, rest, value, path)
        return
    if not isinstance(node, dict):
        raise ConfigError(f"grid key {path!r}: {head!r} is below a value, not a table")
    if not rest:
        node[head] = value
        return
    _set(node.setdefault(head, {}), rest, value, path)
