"""One venue call of a reconciliation: bounded in time, retried when the answer is ambiguous,
and never swallowing the node's stop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError

from tradeguard.execution.held_halts import refusal
from tradeguard.model.errors import AmbiguousVenueError, VenueError

T = TypeVar("T")


class ReconcileFailed(Exception):
    """One reconciliation step could not complete; the message says where and why."""


_GATED = "the node will not trade until reconciliation completes"


def database_failed(venue: str, what: str, exc: SQLAlchemyError, again: str) -> ReconcileFailed:
    """The venue's reconciliation failed because the database refused `what` (a locked
    database, a full disk): nothing of that commit was kept, and the next reconciliation
    `again` (reads what it needs from the venue again)."""
    return ReconcileFailed(f"venue {venue}: {database_refused(what, exc, again)}")


def database_refused(what: str, exc: SQLAlchemyError, again: str) -> str:
    """Say that the database refused `what`, in the driver's own words ("database is
    locked"), not with the statement and its values; nothing of it was kept, and the next
    reconciliation `again`."""
    kept = "nothing of it was kept"
    return f"{what} failed ({refusal(exc)}); {kept}, the next reconciliation {again}"


async def call_venue(
    venue: str,
    step: str,
    fn: Callable[[], Awaitable[T]],
    attempts: int,
    timeout_s: float,
    gated: bool = True,
) -> T:
    """`fn()`, bounded and retried; ReconcileFailed says why not. `gated=False` for a call
    outside reconciliation, whose failure does not stop trading: the message does not say so."""
    last: BaseException | None = None
    for attempt in range(attempts):
        try:
            # not wait_for: on 3.11 it returns the result of a call that completes as the
            # node is stopped, and the stop is lost
            async with asyncio.timeout(timeout_s):
                return await fn()
        except (AmbiguousVenueError, TimeoutError) as exc:
            _stop_if_cancelled()  # a client that turned the stop into an error
            last = exc
            if attempt + 1 < attempts:
                await asyncio.sleep(min(2.0, 0.05 * (2**attempt)))
        except VenueError as exc:
            _stop_if_cancelled()
            then = f"; {_GATED} (fix the credentials or the request, then restart)"
            raise ReconcileFailed(
                f"venue {venue}: {step} was refused: {exc}{then if gated else ''}"
            ) from None
    what = "timed out" if isinstance(last, TimeoutError) else f"failed ({last})"
    then = (
        f"; {_GATED} (check connectivity and the exchange's status; the periodic "
        "reconciliation retries)"
    )
    raise ReconcileFailed(
        f"venue {venue}: {step} {what} after {attempts} attempt(s) "
        f"(reconcile.call_attempts){then if gated else ''}"
    )


def _stop_if_cancelled() -> None:
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
