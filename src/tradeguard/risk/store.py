"""Where the risk engine's state lives between restarts: in memory or in a JSON file."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any


class MemoryStateStore:
    """Keep the state in memory (tests, backtests); a new engine on the same store resumes it."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self._state = copy.deepcopy(state) if state is not None else None
        self.saves = 0

    def load(self) -> dict[str, Any] | None:
        return copy.deepcopy(self._state) if self._state is not None else None

    def save(self, state: dict[str, Any]) -> None:
        self._state = copy.deepcopy(state)
        self.saves += 1


class JsonFileStateStore:
    """Keep the state in a JSON file, replaced atomically so a crash never leaves half a file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Any] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"risk state file {self.path} does not hold a JSON object")
        return data

    def save(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(state, fh, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
