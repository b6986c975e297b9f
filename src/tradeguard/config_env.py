"""`TG_…` environment overrides of a config's keys: pure dict work, no pydantic.

`config.load_config` applies them before validating; the backtest command's data reader
(`backtest.prefetch`) applies them to find the `[[data]]` files before the config's models
are even built.
"""

from __future__ import annotations

import tomllib
from typing import Any

from tradeguard.model.toml_text import loads_toml

# Variables that share the prefix but are not config keys.
NOT_OVERRIDES = frozenset(
    {
        "TG_MASTER_PASSPHRASE",
        "TG_BACKUP_PASSPHRASE",
        "TG_CONFIRM_LIVE",
        "TG_DATA_DIR",
        "TG_VAULT_PATH",
        "TG_API_TOKEN",
        "TG_API_URL",
        "TG_NEW_MASTER_PASSPHRASE",
    }
)


def _parse_env_value(raw: str) -> Any:
    try:
        return loads_toml(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def override_paths(environ: dict[str, str]) -> dict[str, list[str]]:
    """Map each `TG_A__B` override variable to its key path (`["a", "b"]`)."""
    out = {}
    for key in environ:
        if not key.startswith("TG_") or key in NOT_OVERRIDES:
            continue
        path = [p.lower() for p in key[3:].split("__") if p]
        if path:
            out[key] = path
    return out


def apply_env_overrides(data: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    """Merge `TG_A__B=value` variables into the nested dict `data` (returns `data`)."""
    for key, path in override_paths(environ).items():
        raw = environ[key]
        node: Any = data
        for part in path[:-1]:
            nxt = node.get(part) if isinstance(node, dict) else None
            if not isinstance(nxt, dict):
                nxt = {}
                node[part] = nxt
            node = nxt
        node[path[-1]] = _parse_env_value(raw)
    return data
