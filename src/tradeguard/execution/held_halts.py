"""A halt whose own store the database refuses: held in memory, and said to be so.

The halt for a write the database refused (a checkpoint's, a strategy state's, a failed
reconciliation's) is itself a write, refused too when the whole database is. It holds in memory
all the same (new orders stay blocked), but its critical alert must not claim a halt a restart
would know of: it says the halt was not stored, and what a restart does (it reconciles before
any trade).

```python
halt_held(node.risk, "the checkpoint's write failed (...)", CHECKPOINT_BY, now_ms)
```
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from tradeguard.model.events import Event, EventKind
from tradeguard.risk.kill import NOT_STORED

log = logging.getLogger(__name__)


def refusal(exc: SQLAlchemyError) -> str:
    """The database's refusal in the driver's own words ("OperationalError: database is
    locked"), never the statement and its values; in one line (psycopg's run over lines)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return f"{type(cause).__name__}: {' '.join(str(cause).split())[:200]}"


def halt_held(risk: Any, reason: str, by: str, now_ms: int) -> str:
    """`risk.halt(reason, by)`, stored first and then told (the risk state's own order). When
    its store is refused the halt holds in memory (stored with the next commit) and its
    critical alert says it was not stored. Return the refusal ("" when the halt was stored)."""
    before = risk.state
    try:
        risk.halt(reason, by)
    except SQLAlchemyError as exc:  # the state was set before its store failed
        why = refusal(exc)
        log.critical("trading HALTED, not stored (%s): %s; %s", why, reason, NOT_STORED)
        said = f"{reason}; NOT STORED: storing the halt failed ({why}); {NOT_STORED}"
        data = {"from": before.value, "to": risk.state.value, "reason": said, "by": by,
                "stored": False}  # fmt: skip
        risk.emit(Event(EventKind.STATE_CHANGED, now_ms, data, severity="critical"))
        return why
    return ""
