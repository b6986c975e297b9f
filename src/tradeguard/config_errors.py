"""Tell the user what is wrong with a config: one line per field, never echoing a credential."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from tradeguard.config_env import override_paths
from tradeguard.config_hints import table_meant, unknown_key_message


def _secret_key(key: str) -> bool:
    # Webhook and ping URLs carry their token; a database URL may carry a password; an RPC
    # URL, a provider's key.
    return key in ("url", "heartbeat_url", "database_url", "rpc_url") or key.endswith(
        ("token", "password", "secret")
    )


def describe_validation_error(
    model: type[BaseModel], err: ValidationError, environ: dict[str, str]
) -> str:
    """Describe each invalid field on a line, hiding credentials and naming its `TG_…` source."""
    overrides = override_paths(environ)
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        # A value from the environment is easy to forget: name the variable that set it.
        source = next(
            (f" (set by ${k})" for k, path in overrides.items()
             if [str(p).lower() for p in e["loc"][: len(path)]] == path),
            "",
        )  # fmt: skip
        value = e.get("input")
        if isinstance(value, dict | list):
            # a whole table may hold a credential (a ping URL, a token): never printed
            value = "{…}" if isinstance(value, dict) else f"[… {len(value)} entries]"
        elif _secret_key(str(e["loc"][-1]) if e["loc"] else ""):
            value = "(hidden)"  # a webhook or ping URL, a token, a password: a credential
        elif isinstance(value, str) and len(value) > 120:
            value = f"{value[:120]}… ({len(value)} characters)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden" and not isinstance(e.get("input"), dict | list):
            # an unknown key may well be a credential pasted in: never echoed
            lines.append(f"  {loc} = (not shown){source}: {unknown_key_message(model, e['loc'])}")
            continue
        ctx = e.get("ctx") or {}
        limits = ", ".join(f"{k}={v}" for k, v in ctx.items() if k in ("ge", "gt", "le", "lt"))
        hint = f" (allowed: {limits})" if limits else ""
        if e["type"] == "extra_forbidden":  # a table of its own: the one misspelt, if close
            hint = table_meant(model, e["loc"])
        lines.append(f"  {loc} = {value!r}{source}: {msg}{hint}")
    return "invalid configuration:\n" + "\n".join(lines)
