"""What a sweep's stored results were computed from, so that a resumed sweep reuses them only
for the same backtests.

A sweep directory keeps `sweep.json`: a digest of each input (the config, the window and
timeframe, the walk-forward folds, every data file's size and modification time, every
strategy class's source file). Run again into that directory with any of them changed, the
sweep is refused naming what changed, instead of ranking results of other backtests. The
walk-forward folds' spans, known once the data is read, are checked against the span each
stored `result.json` records (`sweep.run_combos`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
from pathlib import Path
from typing import Any

from tradeguard.backtest.runner import BacktestWindow
from tradeguard.model.errors import ConfigError

INPUTS_FILE = "sweep.json"
# what each digest covers, as the refusal names it
_NAMES = {
    "config": "the config",
    "window": "the window (--from/--to/--timeframe)",
    "walk_forward": "--walk-forward",
    "data": "a data file",
    "strategies": "a strategy file",
}


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _data_files(config: dict[str, Any], source: Path | None) -> list[Any]:
    from tradeguard.marketdata.data_files import resolve_data_path

    files = []
    for entry in config.get("data", []):
        path = resolve_data_path(str(entry.get("path", "")), source)
        try:
            st = path.stat()
            files.append([str(path.resolve()), st.st_size, st.st_mtime_ns])
        except OSError:
            files.append([str(path), None, None])
    return files


def _strategy_sources(config: dict[str, Any], source: Path | None) -> list[Any]:
    from tradeguard.strategies.loader import load_strategy_class

    sources: list[list[str | None]] = []
    for entry in config.get("strategies", []):
        kind = str(entry.get("kind", ""))
        try:
            path = Path(inspect.getfile(load_strategy_class(kind, source)))
            sources.append([kind, hashlib.sha256(path.read_bytes()).hexdigest()])
        except (ValueError, TypeError, OSError):  # a built-in kind: part of the package
            sources.append([kind, None])
    return sources


def sweep_inputs(
    config: dict[str, Any],
    source: str | None,
    window: BacktestWindow,
    walk_forward: tuple[int, int] | None,
) -> dict[str, str]:
    """Return a digest of each input every combination's backtest depends on."""
    base = Path(source) if source is not None else None
    return {
        "config": _digest(config),
        "window": _digest(dataclasses.asdict(window)),
        "walk_forward": _digest(walk_forward),
        "data": _digest(_data_files(config, base)),
        "strategies": _digest(_strategy_sources(config, base)),
    }


def claim_sweep_dir(out_dir: Path, inputs: dict[str, str]) -> None:
    """Record `inputs` in a new sweep directory, or check they are those of the stored sweep;
    raise ConfigError naming what differs."""
    path = out_dir / INPUTS_FILE
    stored: dict[str, Any] | None = None
    if path.is_file():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = {}
    elif out_dir.is_dir() and any(out_dir.iterdir()):
        raise ConfigError(
            f"--out {out_dir}: not empty and holds no {INPUTS_FILE}, so nothing says which "
            "backtests its results are of; pick a new --out or remove that one"
        )
    if stored is not None:
        changed = [_NAMES[k] for k in _NAMES if (stored or {}).get(k) != inputs.get(k)]
        if changed:
            raise ConfigError(
                f"--out {out_dir}: holds a sweep of other inputs ({', '.join(changed)} "
                "changed since); its results are not of these backtests: pick a new --out or "
                "remove that one"
            )
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / (INPUTS_FILE + ".tmp")
    tmp.write_text(json.dumps(inputs, indent=2), encoding="utf-8")
    tmp.replace(path)
