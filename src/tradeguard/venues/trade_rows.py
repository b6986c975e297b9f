"""Rows of an exchange's trade history as ccxt parses them, shared by the venues that page it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def trade_row_key(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """One row of a trade history: the trade's id, and the order and side of the account's part
    in it (a trade between two of the account's orders is two rows of one id)."""
    return str(row.get("id") or ""), str(row.get("order") or ""), str(row.get("side") or "")
