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
    """Merge `TG_A__B=value` variables into the nested dict `data` (returns `data`); an
    array table's entry is reached by its index (`TG_VENUES__0__NAME`), and a key the file
    already has by its name in any case (`TG_VENUES__0__BALANCES__USDT` sets `USDT`)."""
    for key, path in override_paths(environ).items():
        raw = environ[key]
        node: Any = data
        for depth, part in enumerate(path[:-1]):
            if isinstance(node, list):
                node = node[_index(key, path[:depth], node, part)]
                continue
            part = _key(node, part)
            nxt = node.get(part) if isinstance(node, dict) else None
            if not isinstance(nxt, dict | list):
                # an index into a list the file does not have: refused by _index, named
                nxt = [] if _is_index(path[depth + 1]) else {}
                node[part] = nxt
            node = nxt
        if isinstance(node, list):
            node[_index(key, path[:-1], node, path[-1])] = _parse_env_value(raw)
        else:
            node[_key(node, path[-1])] = _parse_env_value(raw)
    return data


def _is_index(part: str) -> bool:
    return part.isdigit() and part.isascii()


def _key(node: dict[str, Any], part: str) -> str:
    """The key of `node` that `part` (read in lower case) names: itself if present, else the one
    key spelt so in another case (an asset code, `1INCH`), else `part` (a new key)."""
    if part in node:
        return part
    same = [k for k in node if isinstance(k, str) and k.lower() == part]
    return same[0] if len(same) == 1 else part


def _index(key: str, where: list[str], entries: list[Any], part: str) -> int:
    """The position `part` names in the array table at `where`; ConfigError if none."""
    if _is_index(part) and int(part) < len(entries):
        return int(part)
    from tradeguard.model.errors import ConfigError

    n = len(entries)
    name = "__".join(w.upper() for w in where)
    fix = (
        f"give an index 0..{n - 1}, e.g. TG_{name}__0__..."
        if n
        else "an override changes an entry the file lists: add the entry to the file"
    )
    raise ConfigError(
        f"${key}: {'.'.join(where)} holds {n} entr{'y' if n == 1 else 'ies'}; "
        f"{part!r} is not one of them: {fix}"
    )
