"""Trades made outside the node around the moment a venue's ledger opened.

A venue's ledger opens at its first reconciliation: the balances read then (at `read_ts`,
`ledger_audit.stored_start_ts`) already hold every earlier trade of the account, so a trade of
no journal order (by hand, another program or database on the account) made before the opening
is never booked, and one made after it always is.

A venue dating trades to the second (Polymarket's `/data/trades`) stamps one made at
12:00:00.700 as 12:00:00.000: against an opening at 12:00:00.500, a trade stamped with the
opening's second may have come before it or after it. The opening's own reconciliation lists
the account's recent trades before it reads the balances; the ones it skipped as held by
them are kept (`OPENING_TRADES_KEY`). Later, a trade stamped with the opening's second is held
by the opening only if that list has it; otherwise it came after the listing and is booked
(a hand buy made in the same second as a restart's opening: skipping it would leave the
ledger short of it, and the start-up audit halts).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from tradeguard.model.fill import Fill

OPENING_TRADES_KEY = "ledger.opening_trades"  # venue -> "trade_id|side" its opening held


def trade_key(fill: Fill) -> str:
    """The venue's key of a trade: its id and side (each side of a self-match is a trade)."""
    return f"{fill.trade_id}|{fill.side.value}"


def latest_ts(fill: Fill) -> int:
    """The latest ms `fill` may have been made at: a whole second (a venue dating trades to
    the second) stands for any ms of it, so it counts as its last one."""
    return fill.ts + 999 if fill.ts % 1000 == 0 else fill.ts


def before_opening(fill: Fill, opened: int, held: Collection[str]) -> bool:
    """Tell whether `fill`, a trade of no journal order, came before its venue's ledger opened
    at `opened` (ms): listed by the opening's reconciliation (`held`), or made before the
    opening's second whatever ms its stamp stands for."""
    return trade_key(fill) in held or latest_ts(fill) < opened


def opening_trades(storage: Any) -> dict[str, set[str]]:
    """Per venue, the trades of no journal order its opening reconciliation listed and left to
    the opening balances (venues opened before this was kept: absent)."""
    raw = storage.kv_get(OPENING_TRADES_KEY)
    if not isinstance(raw, dict):
        return {}
    return {v: {str(k) for k in keys} for v, keys in raw.items() if isinstance(keys, list)}


def record_opening_trades(storage: Any, venue: str, keys: Iterable[str]) -> None:
    """Add `keys` (`trade_key`) to what `venue`'s opening balances hold: every reconciliation
    before the ledger opens lists trades made before that opening's balance read."""
    kept = opening_trades(storage)
    merged = kept.get(venue, set()) | set(keys)
    if merged == kept.get(venue, set()):
        return
    raw = {v: sorted(k) for v, k in kept.items()}
    raw[venue] = sorted(merged)
    storage.kv_set(OPENING_TRADES_KEY, raw)
