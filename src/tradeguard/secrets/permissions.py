"""Read an exchange's description of an API key and warn when it can withdraw funds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_TRUE_STRINGS = {"true", "1", "yes", "on", "enabled"}


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_STRINGS
    return False


def _mentions_withdraw(value: Any) -> bool:
    if isinstance(value, str):
        return any("withdraw" in part.strip().lower() for part in value.split(","))
    if isinstance(value, list | tuple | set | frozenset):
        return any(_mentions_withdraw(v) for v in value)
    if isinstance(value, Mapping):
        return any(_mentions_withdraw(v) for v in value.values())
    return False


def _withdrawals_enabled(data: Any, depth: int = 0) -> bool:
    """Walk the answer: a true `*withdraw*` flag or a permission list naming withdraw counts."""
    if depth > 6 or not isinstance(data, Mapping):
        return False
    for key, value in data.items():
        lowered = str(key).lower()
        if "withdraw" in lowered and not isinstance(value, Mapping | list) and _truthy(value):
            return True
        if lowered.startswith("perm") and _mentions_withdraw(value):
            return True
        if isinstance(value, Mapping) and _withdrawals_enabled(value, depth + 1):
            return True
    return False


def check_withdrawal_permission(venue: str, restrictions: Mapping[str, Any]) -> str | None:
    """Return a loud warning when the exchange says this API key may withdraw funds, else None."""
    # Binance answers {"enableWithdrawals": true, "ipRestrict": false, ...}, sometimes wrapped
    # as {"apiRestrictions": {...}}; OKX and Bybit list permissions ("read_only,trade,withdraw").
    if not _withdrawals_enabled(restrictions):
        return None
    inner = restrictions.get("apiRestrictions", restrictions)
    ip_note = ""
    if isinstance(inner, Mapping) and "ipRestrict" in inner and not _truthy(inner["ipRestrict"]):
        ip_note = " It is not restricted to trusted IP addresses either."
    return (
        f"WARNING: the API key for venue {venue!r} has WITHDRAWAL permission enabled.{ip_note} "
        "A leaked or misused key could move funds off the exchange. Create a key with trading "
        "and reading only (disable withdrawals in the exchange's API management page), then "
        f"replace it with `tradeguard keys add NAME --venue {venue} --overwrite`."
    )
