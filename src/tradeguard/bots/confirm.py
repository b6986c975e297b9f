"""Confirmation ids: an approval from validate-trade that execute must present.

An id is bound to its bot, symbol and side, valid until `expires_ms`, and used once.
"""

from __future__ import annotations

from typing import Any


def refusal(
    conf: dict[str, Any] | None, conf_id: str, bot: str, symbol: str, side: str, now_ms: int
) -> str | None:
    """Return why `conf` cannot be redeemed for this trade, or None when it can."""
    if conf is None:
        return f"confirmation {conf_id!r} is unknown; ask POST /api/v1/safety/validate-trade"
    if conf.get("used_ts") is not None:
        return f"confirmation {conf_id!r} was already used; validate the trade again"
    if conf["bot"] != bot or conf["symbol"] != symbol or conf["side"] != side:
        return (
            f"confirmation {conf_id!r} was issued for {conf['bot']} {conf['side']} "
            f"{conf['symbol']}, not {bot} {side} {symbol}"
        )
    if now_ms >= conf["expires_ts"]:
        late_s = (now_ms - conf["expires_ts"]) / 1000
        return f"confirmation {conf_id!r} expired {late_s:.1f} s ago; validate the trade again"
    return None


def agreeing(confs: list[dict[str, Any]], symbol: str, side: str) -> int:
    """Count the approvals in `confs` (already limited to the window) for this symbol and side."""
    return sum(1 for c in confs if c.get("symbol") == symbol and c.get("side") == side)
