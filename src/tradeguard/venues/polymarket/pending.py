"""Trades booked before they settled, followed by id until they end.

A Polymarket trade is booked from its match on (MATCHED, MINED, RETRYING) and may still FAIL
later. The `user` channel tells a later status while the node runs, and a listing that reads the
trade tells it too; but once the node stops, the channel's messages are gone and the start's
listing reads only the trades since the last reconciliation. So each trade booked and not yet
CONFIRMED is kept by id (`pending_trades`, stored by the reconciliation across a stop) and read
again by id at the next reconciliation that does not list it (`follow_trades`): one FAILED
meanwhile is flagged however old its match.
"""

from __future__ import annotations

import logging
from typing import Any

from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.model.fill import Fill
from tradeguard.venues.paging import clob_pages

PENDING_KEPT = 1_000  # pending trades followed at most (the oldest let go past it)
PENDING_KEEP_MS = 7 * 86_400_000  # a trade is followed this long after its match at most
REFUSED_ID = (400, 404)  # the CLOB's answers to a read by an id it does not take

log = logging.getLogger(__name__)


def pending_id(row: dict[str, Any]) -> str:
    """The id `row`'s trade is followed by (cut to 200 characters: a hostile one is bounded)."""
    return str(row.get("id", ""))[:200]


def follow_pending(
    pending: dict[str, int], row: dict[str, Any], fills: list[Fill], now: int
) -> None:
    """Follow `row`'s trade by its id in `pending` (trade id -> its time) while it is booked
    and not settled (MATCHED, MINED, RETRYING, a status no CLOB sends yet). A CONFIRMED read
    ends it; so does a row naming no status (nothing to follow). Kept `PENDING_KEEP_MS` after
    its match (the window in which a FAILED fill is still flagged), `PENDING_KEPT` at most."""
    trade_id, status = pending_id(row), row.get("status")
    if status is None or status == "CONFIRMED" or not fills:
        pending.pop(trade_id, None)
        return
    # a match time ahead of the clock (a CLOB's clock, a hostile row) counts from when it was
    # first seen: let go a week later, never the newest trade kept over every real one
    pending[trade_id] = min(min(f.ts for f in fills), now, pending.get(trade_id, now))
    cutoff = now - PENDING_KEEP_MS
    for old in [t for t, ts in pending.items() if ts < cutoff]:
        del pending[old]
    while len(pending) > PENDING_KEPT:  # the oldest trade goes, whenever it was added
        del pending[min(pending, key=pending.__getitem__)]


async def follow_trades(venue: Any, trades: dict[str, int]) -> None:
    """Read again, by id, the trades of `trades` (trade id -> its time) booked while not
    settled: one FAILED since is kept apart for the reconciliation to flag (`failed_fills`),
    one settled is followed no more, one the CLOB no longer lists is let go. One past its
    `PENDING_KEEP_MS` is let go unread, with a warning naming it; one whose read the CLOB
    refuses (HTTP 400 or 404: an id it does not take) is kept, with a warning naming it and
    the refusal (once a run, then at debug level), and read again at the next reconciliation
    until its week is over: never a reconciliation failed (the node halted) for as long as it
    stays stored."""
    cutoff = venue.clock.now_ms() - PENDING_KEEP_MS
    for trade_id, ts in sorted(trades.items(), key=lambda t: t[1])[-PENDING_KEPT:]:
        if ts < cutoff:
            venue.pending_trades.pop(trade_id, None)
            log.warning(
                "%s: pending trade %r let go unread: matched at %d, more than %d days ago "
                "(a FAILED status of it is no longer flagged)",
                venue.name, trade_id[:80], ts, PENDING_KEEP_MS // 86_400_000,
            )  # fmt: skip
            continue
        try:
            rows = await clob_pages(
                venue._trades_of({"id": trade_id}), venue=venue.name, op="follow_trades",
                max_pages=venue.max_pages,
            )  # fmt: skip
        except DefinitiveVenueError as exc:
            if getattr(exc, "http_status", None) not in REFUSED_ID:
                raise
            venue.pending_trades[trade_id] = ts
            warned = venue.__dict__.setdefault("refused_warned", set())
            log.log(
                logging.DEBUG if trade_id in warned else logging.WARNING,  # once, not a flood
                "%s: pending trade %r: its read by id was refused (%s); kept and read again "
                "until %d days after its match",
                venue.name, trade_id[:80], exc, PENDING_KEEP_MS // 86_400_000,
            )  # fmt: skip
            warned.intersection_update(venue.pending_trades)  # bounded: those still followed
            warned.add(trade_id)
            continue
        venue.pending_trades[trade_id] = ts
        if not any(isinstance(r, dict) and r.get("id") == trade_id for r in rows):
            venue.pending_trades.pop(trade_id, None)
        venue._fills(rows)
