"""Confirmation ids: an approval from validate-trade that execute must present.

An id is bound to its bot, symbol, side and size in USD, valid until `expires_ms`, and used
once: execute cannot present it with a score or temperature that sizes another trade.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def refusal(
    conf: dict[str, Any] | None,
    conf_id: str,
    bot: str,
    symbol: str,
    side: str,
    size_usd: Decimal | None,
    now_ms: int,
) -> str | None:
    """Return why `conf` cannot be redeemed for this trade, or None when it can.

    `size_usd` None (a reducing trade, which closes the whole position) skips the size check."""
    if conf is None:
        return f"confirmation {conf_id!r} is unknown; ask POST /api/v1/safety/validate-trade"
    if conf.get("voided"):
        return f"confirmation {conf_id!r} was voided by {conf['voided']}; validate the trade again"
    if conf.get("used_ts") is not None:
        return f"confirmation {conf_id!r} was already used; validate the trade again"
    if conf["bot"] != bot or conf["symbol"] != symbol or conf["side"] != side:
        return (
            f"confirmation {conf_id!r} was issued for {conf['bot']} {conf['side']} "
            f"{conf['symbol']}, not {bot} {side} {symbol}"
        )
    raw = conf.get("size_usd")
    issued_usd = Decimal(str(raw)) if raw is not None else None
    # a score or temperature that sizes another trade than the one validated
    if size_usd is not None and issued_usd != size_usd:
        return (
            f"confirmation {conf_id!r} was issued for {issued_usd} USD, not {size_usd} USD; "
            "validate the trade again"
        )
    if now_ms >= conf["expires_ts"]:
        late_s = (now_ms - conf["expires_ts"]) / 1000
        return f"confirmation {conf_id!r} expired {late_s:.1f} s ago; validate the trade again"
    return None


def agreeing(confs: list[dict[str, Any]], symbol: str, side: str) -> int:
    """Count the approvals in `confs` (already limited to the window) for this symbol and side."""
    return sum(1 for c in confs if c.get("symbol") == symbol and c.get("side") == side)
