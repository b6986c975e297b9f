"""A kill cut short (the node killed while it ran) is finished at the next start.

```python
await finish_interrupted_kill(node)   # in start-up, after reconciliation, before any trading
```

`KillSwitch.trigger` stores the request (HALTED, `last_kill`) before anything is cancelled; the
report that ends the kill carries `finished_ts`. A node started with a stored kill that never
ended runs it again: it cancels every open order and, when the kill asked for it, flattens what
the positions hold after start-up's reconciliation. A flatten sent before the crash is then
filled, working or unresolved, so nothing is sold twice. When reconciliation failed nothing is
sent: the kill stays unfinished, with why (`unfinished` in `last_kill`), in the audit log,
`tradeguard status` and the API, until the running node's next periodic reconciliation that
succeeds finishes it (node.live), or the next start does.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tradeguard.model.enums import TradingState
from tradeguard.risk.kill import KillRequest, record_unfinished, resumed_since, unfinished
from tradeguard.risk.state import FLATTEN_WAITS, LOSS_LIMIT_BY

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode

log = logging.getLogger(__name__)


def unfinished_reason(kill: Any, resume: Any = None) -> str | None:
    """Why the stored kill `kill` has not ended (None when it has, when trading was resumed
    since (`resume`: the last resume stored), or there is none)."""
    if not unfinished(kill, resume):
        return None
    return str(kill.get("unfinished") or (
        "cancelling and closing did not end (still running, or the node stopped meanwhile: "
        "the next start finishes it before trading)"))  # fmt: skip


def reconciled(node: Any) -> bool:
    """Whether the node's last reconciliation succeeded (True before the first one): a loss
    limit's flatten is sent from a reconciled book only (risk.kill.take_loss_flatten)."""
    report = getattr(node, "reconcile_report", None)
    return report is None or bool(report.ok)


def kill_engaged(risk: Any) -> bool:
    """Whether the operator's kill switch holds the trading state: HALTED by the last kill
    asked for, not resumed since; a loss limit's flatten (risk.on_loss_halt) runs through
    the kill switch without engaging it."""
    kill = risk.last_kill
    if risk.state is not TradingState.HALTED or not isinstance(kill, dict) or "ts" not in kill:
        return False
    if kill.get("by") in LOSS_LIMIT_BY:
        return False
    return not resumed_since(kill, risk.last_resume)


async def finish_interrupted_kill(node: TradingNode) -> dict[str, Any] | None:
    """Run again a stored kill that never ended (this process triggered none); return its
    report, or None when there was none to finish or it could not be."""
    last = node.risk.last_kill
    if last is None or not unfinished(last) or node.kill_switch.triggered_ts == last["ts"]:
        return None
    if node.risk.state is not TradingState.HALTED or resumed_since(last, node.risk.last_resume):
        return None  # resumed since: the operator took over
    rec = node.reconcile_report
    if rec is not None and not rec.ok:
        why = (
            "the node stopped before this kill ended, and start-up reconciliation failed "
            f"({rec.reason or 'see the log'}): nothing was cancelled or closed "
            "again; the running node's next reconciliation that succeeds (node."
            "reconcile_interval_s), or the next start, finishes it"
        )
        if last.get("unfinished") == FLATTEN_WAITS:  # a loss limit's: it says why already
            why = FLATTEN_WAITS
        if last.get("unfinished") != why:
            record_unfinished(node.risk, node.clock.now_ms(), last, why)
        log.critical("kill switch: %s", why)
        return None
    asked = node.risk.flatten_asked
    if asked is not None and asked.get("ts") == last["ts"]:
        node.risk.flatten_asked = None  # run here: the kill file's poll must not run it again
    log.warning("kill switch: the kill of %s (%s) never ended; finishing it before trading",
                last["ts"], last.get("reason"))  # fmt: skip
    request = KillRequest(
        reason=str(last.get("reason", "")), by=str(last.get("by", "")),
        flatten=bool(last.get("flatten")), ts=int(last["ts"]),
        sentinel=str(last.get("sentinel") or ""),
    )  # fmt: skip
    return await node.kill(request.reason, request.by, request.flatten, request=request)


__all__ = [
    "finish_interrupted_kill",
    "kill_engaged",
    "reconciled",
    "resumed_since",
    "unfinished",
    "unfinished_reason",
]
