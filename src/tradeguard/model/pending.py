"""A dictionary attribute whose pending writes are settled before it is read."""

from __future__ import annotations

from typing import Any


def settled(name: str, doc: str) -> Any:
    """A property reading the dictionary held as `name` after its holder's `pending` (none, or
    an object whose `settle()` writes what a replay has not written yet: a steady stretch's
    candles, backtest/steady_pending.py) is settled; assigning it replaces that dictionary."""

    def get(self: Any) -> Any:
        if self.pending is not None:
            self.pending.settle()
        return getattr(self, name)

    def put(self: Any, value: Any) -> None:
        setattr(self, name, value)

    return property(get, put, doc=doc)
