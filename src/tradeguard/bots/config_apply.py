"""Bots named in the config (`[[bots]]`), applied to the registry when the node starts.

```python
apply_config_bots(BotRows(db), config.bots, now_ms)   # -> names registered or updated
```

A bot that is not registered yet is added (disabled unless the entry says `enabled = true`); a
registered one keeps its stored fields except those the entry names, which win. A bot stopped by
the emergency stop (named in `stopped`) stays disabled whatever `enabled` says, until it is
enabled by hand (`tradeguard bot enable`, the API or the dashboard).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, Protocol

from tradeguard.bots.spec import BotError, BotSpec
from tradeguard.model.errors import ConfigError

# kv_state key (+ bot name) of an emergency stop: {"by", "reason", "ts"}; removed by an enable.
STOPPED_KEY = "bots.stopped."


class ConfigBot(Protocol):
    """One `[[bots]]` entry."""

    @property
    def name(self) -> str: ...

    @property
    def enabled(self) -> bool | None: ...

    def named_fields(self) -> dict[str, Any]: ...


class StoredBot(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def enabled(self) -> bool: ...

    @property
    def spec(self) -> dict[str, Any]: ...


class Registry(Protocol):
    """The bot table."""

    def bots(self) -> list[Any]: ...

    def save_bot(self, name: str, enabled: bool, spec: dict[str, Any], ts: int) -> None: ...


def apply_config_bots(
    registry: Registry, entries: Iterable[ConfigBot], now_ms: int, stopped: Collection[str] = ()
) -> list[str]:
    """Register or update each configured bot; raise ConfigError naming the entry and field.

    A registered bot in `stopped` keeps its stored (disabled) state: a restart must not undo an
    emergency stop.
    """
    entries = list(entries)
    if not entries:
        return []
    stored: dict[str, StoredBot] = {b.name: b for b in registry.bots()}
    done = []
    for entry in entries:
        old = stored.get(entry.name)
        doc = {**(old.spec if old is not None else {}), **entry.named_fields()}
        try:
            spec = BotSpec.parse(entry.name, doc)
        except BotError as exc:
            raise ConfigError(f"[[bots]] entry: {exc}") from None
        enabled = entry.enabled if entry.enabled is not None else bool(old and old.enabled)
        if old is not None and entry.name in stopped:
            enabled = old.enabled
        if old is None or old.spec != spec.to_doc() or old.enabled != enabled:
            registry.save_bot(entry.name, enabled, spec.to_doc(), now_ms)
            done.append(entry.name)
    return done
