"""The mark guard (`risk.max_mark_jump_pct`): a mark far from the last accepted one is held
until a second update confirms or drops it. The rule itself lives in `model.price_guard`, where
the strategies' own price guard (`strategies.exits.TickGuard`) finds it too."""

from __future__ import annotations

from tradeguard.model.price_guard import RECUR_WITHIN, MarkGuard

__all__ = ["RECUR_WITHIN", "MarkGuard"]
