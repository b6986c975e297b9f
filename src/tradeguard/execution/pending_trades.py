"""Trades a venue booked before they settled, followed across a stop.

A venue that books a trade from its match on (Polymarket: MATCHED, RETRYING) keeps the ids of
those not settled yet (`pending_trades`: trade id -> its time). The reconciliation stores them
(`PENDING_KEY`) and hands them back after a start; those older than its listing reads are read
again by id (`follow_trades`), so one that FAILED while the node was stopped is flagged
(`failed_fills`) however long ago it matched, instead of its difference reaching the ledger.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from tradeguard.execution.host import ReconcileHost

log = logging.getLogger(__name__)

PENDING_KEY = "reconcile.trades_pending"  # venue -> {trade id: its time (ms)}
FOLLOWED_MAX = 1_000  # pending trades read again by id a reconciliation at most (the newest)
FOLLOW_CONCURRENCY = 4  # of those reads at a time at most


def _stored(node: ReconcileHost) -> dict[str, Any]:
    raw = node.storage.kv_get(PENDING_KEY)
    return dict(raw) if isinstance(raw, dict) else {}


def restore_pending(node: ReconcileHost, name: str, venue: Any) -> None:
    """Hand `venue` the pending trades stored for `name` once, before its first listing (a
    start's venue knows none): afterwards the venue's own reads are newer than what is stored
    (a trade read settled since is followed no more, where putting the stored ids back at
    each reconciliation read it again by id), and the listing reads the ones it reaches."""
    pending = getattr(venue, "pending_trades", None)
    if not isinstance(pending, dict) or getattr(venue, "pending_restored", True):
        return
    stored = _stored(node).get(name)
    for trade_id, ts in stored.items() if isinstance(stored, dict) else ():
        if isinstance(ts, int) and not isinstance(ts, bool):
            pending.setdefault(str(trade_id), ts)
    venue.pending_restored = True


async def follow_pending(
    node: ReconcileHost,
    name: str,
    venue: Any,
    since: int,
    call: Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]],
) -> None:
    """Read again by id the pending trades of `venue` its listings from `since` did not
    reach (the newest `FOLLOWED_MAX`), `FOLLOW_CONCURRENCY` reads at a time."""
    pending = getattr(venue, "pending_trades", None)
    follow = getattr(venue, "follow_trades", None)
    if not isinstance(pending, dict) or follow is None:
        return
    first = since - since % 1000  # the listings read from the start of that second
    unlisted = sorted(((t, ts) for t, ts in pending.items() if ts < first), key=lambda t: t[1])
    steps = [
        # one call a trade: each read is bounded by the call timeout, not all together (a
        # thousand reads as one call would time out at every start while they stay stored)
        partial(call, f"follow_trades {trade_id[:80]!r} ({n} of {len(unlisted)} pending)",
                partial(follow, {trade_id: ts}))
        for n, (trade_id, ts) in enumerate(unlisted[-FOLLOWED_MAX:], 1)
    ]  # fmt: skip
    await _bounded(steps, FOLLOW_CONCURRENCY)


async def _bounded(steps: Sequence[Callable[[], Awaitable[Any]]], limit: int) -> None:
    """Run `steps`, `limit` at a time; the first that fails stops the others and is raised."""
    queue = iter(steps)

    async def worker() -> None:
        for step in queue:
            await step()

    tasks = [asyncio.ensure_future(worker()) for _ in range(min(limit, len(steps)))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def remember_pending(node: ReconcileHost, name: str, venue: Any) -> None:
    """Store `venue`'s pending trades for the next start (written only when they changed)."""
    pending = getattr(venue, "pending_trades", None)
    if not isinstance(pending, dict):
        return
    stored = _stored(node)
    if stored.get(name, {}) == pending:
        return
    stored[name] = dict(pending)
    node.storage.kv_set(PENDING_KEY, stored)
