"""Paused strategies: their entries are refused, their exits and running cycles go on.

A paused strategy keeps its market data (its indicators stay current), but each intent that
would open or grow its position is refused with `STRATEGY_PAUSED` and a `risk.denied` event
naming it; an intent that only shrinks its position passes, and so do bot exits and kill-switch
flattens, which never go through a strategy's context. A multi-leg strategy starts no new cycle:
the refusal sits at its cycle check, so the legs of a cycle under way complete or unwind.

The paused set is stored under `PAUSED_KEY` in kv_state and read when the node is built, so a
restart (or a resumed replay) keeps it. A node on live streams also rereads it before a market
event once `REFRESH_S` has passed since the last read, so a pause that `tradeguard strategy pause`
writes beside it holds for every event from a second after the write; a replay never rereads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from tradeguard.model.events import Event, EventKind
from tradeguard.model.order import OrderIntent
from tradeguard.risk.engine import RiskDecision

if TYPE_CHECKING:
    from tradeguard.execution.gateway import CycleRisk
    from tradeguard.node.node import TradingNode
    from tradeguard.risk.unwind import CycleHoldings
    from tradeguard.storage.repository import Storage

log = logging.getLogger(__name__)

PAUSED_KEY = "strategies.paused"
PAUSED_CODE = "STRATEGY_PAUSED"
MAX_REASON = 200
REFRESH_S = 1.0


def stored_pauses(storage: Storage) -> dict[str, dict[str, Any]]:
    """Return the stored pauses: strategy id -> {by, reason, ts}."""
    raw = storage.kv_get(PAUSED_KEY)
    return {str(k): dict(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def store_pause(storage: Storage, strategy_id: str, entry: Mapping[str, Any] | None) -> None:
    """Pause `strategy_id` with `entry` ({by, reason, ts}), or resume it when `entry` is None."""
    with storage.transaction():
        pauses = stored_pauses(storage)
        if entry is None:
            pauses.pop(strategy_id, None)
        else:
            pauses[strategy_id] = dict(entry)
        storage.kv_set(PAUSED_KEY, pauses)


def pauses_of(node: TradingNode) -> StrategyPauses:
    """Return the node's paused strategies (held by the context its strategies emit through)."""
    return node._ctx._pauses


class StrategyPauses:
    """The node's paused strategies; `ids` is the set the emit path tests."""

    def __init__(self, node: TradingNode) -> None:
        self._node = node
        self.ids: set[str] = set()  # mutated in place: the context holds the same object
        self.entries: dict[str, dict[str, Any]] = {}
        self._next_refresh = 0.0

    def load(self) -> None:
        """Read the stored pauses (at build, before any strategy emits)."""
        self._adopt(stored_pauses(self._node.storage))

    def _adopt(self, entries: dict[str, dict[str, Any]]) -> None:
        self.entries = entries
        self.ids.clear()
        self.ids.update(entries)

    def pause(self, strategy_id: str, by: str, reason: str) -> dict[str, Any]:
        """Pause one strategy's entries and store it; return the stored entry."""
        entry = {"by": by, "reason": reason, "ts": self._node.clock.now_ms()}
        store_pause(self._node.storage, strategy_id, entry)
        self.entries[strategy_id] = entry
        self.ids.add(strategy_id)
        return entry

    def resume(self, strategy_id: str) -> bool:
        """Let one strategy enter again; return whether it was paused."""
        was = strategy_id in self.ids
        store_pause(self._node.storage, strategy_id, None)
        self.entries.pop(strategy_id, None)
        self.ids.discard(strategy_id)
        return was

    def tick(self) -> None:
        """Reread the stored set if REFRESH_S has passed (before each live market event)."""
        now = time.monotonic()
        if now < self._next_refresh:
            return
        self._next_refresh = now + REFRESH_S
        try:
            entries = stored_pauses(self._node.storage)
        except SQLAlchemyError as exc:  # e.g. the database busy: keep the set, retry later
            log.warning("could not reread the paused strategies (%s); keeping %s", exc,
                        sorted(self.ids) or "none")  # fmt: skip
            return
        if entries.keys() != self.entries.keys():
            log.info("paused strategies now: %s", sorted(entries) or "none")
        self._adopt(entries)

    # refusals ----------------------------------------------------------------------------------
    def refuses(self, intent: OrderIntent, queued: Sequence[OrderIntent]) -> RiskDecision | None:
        """The refusal of a paused strategy's intent that opens or grows a position (recorded),
        or None when it may go.

        Intents already queued on the same side count against the position, so two exits
        queued together cannot flip it.
        """
        if intent.reduce_only:
            return None
        key = (intent.venue, intent.symbol, intent.strategy_id)
        position = self._node.portfolio.positions.get(key)
        if position is not None:
            pending = sum(
                (q.amount for q in queued
                 if (q.venue, q.symbol, q.strategy_id) == key and q.side is intent.side),
                Decimal(0),
            )  # fmt: skip
            if position.would_reduce(intent.side, intent.amount + pending):
                return None
        return self.deny(intent, f"{intent.side.value} {intent.amount} {intent.symbol} would "
                                 "open or grow its position")  # fmt: skip

    def deny(self, intent: OrderIntent, what: str) -> RiskDecision:
        """Publish the `risk.denied` event of a paused strategy's refused entry or cycle."""
        node = self._node
        sid = intent.strategy_id
        entry = self.entries.get(sid, {})
        reason = (
            f"order denied: strategy {sid} is paused (by {entry.get('by', '?')}: "
            f"{entry.get('reason', '')}); {what}; exits still run; resume it with "
            f"`tradeguard strategy resume {sid} --reason ...` or POST "
            f"/api/v1/strategies/{sid}/resume"
        )
        data = {
            "code": PAUSED_CODE, "rule": "strategy_pause", "value": None, "limit": None,
            "reason": reason, "side": intent.side.value, "amount": str(intent.amount),
            "price": None if intent.price is None else str(intent.price), "tag": intent.tag,
        }  # fmt: skip
        now = node.clock.now_ms()
        event = Event(EventKind.RISK_DENIED, now, data, intent.venue, intent.symbol, sid, "warning")
        node.bus.publish(event)
        node.stats.denied += 1
        return RiskDecision(False, PAUSED_CODE, reason, None, "strategy_pause")


class PausedCycleRisk:
    """The cycle check a multi-leg strategy's gateway asks: refused while it is paused."""

    def __init__(self, risk: CycleRisk, pauses: StrategyPauses, strategy_id: str) -> None:
        self._risk = risk
        self._pauses = pauses
        self._strategy_id = strategy_id

    @property
    def cycle_holdings(self) -> CycleHoldings:
        """What the strategies' unfinished cycles hold (the engine's, whatever the pause)."""
        return self._risk.cycle_holdings

    def check_cycle(
        self,
        legs: Sequence[OrderIntent],
        gross_profit_pct: Decimal,
        fees_pct: Decimal,
        notional_usd: Decimal,
    ) -> RiskDecision:
        """Refuse a new cycle of a paused strategy; otherwise ask the risk engine."""
        if self._strategy_id in self._pauses.ids and legs:
            return self._pauses.deny(legs[0], f"a new {len(legs)}-leg cycle would start")
        return self._risk.check_cycle(legs, gross_profit_pct, fees_pct, notional_usd)

    def observe_cycle(
        self,
        strategy_id: str,
        symbols: tuple[str, ...],
        pnl_usd: Decimal,
        ts: int,
        record_id: int | None = None,
    ) -> None:
        """Report a finished cycle to the risk engine."""
        self._risk.observe_cycle(strategy_id, symbols, pnl_usd, ts, record_id)

    def observe_settlement(
        self, strategy_id: str, key: str, symbols: tuple[str, ...], pnl_usd: Decimal, ts: int
    ) -> bool:
        """Report what a held position realised at settlement to the risk engine (False: that
        settlement was counted already)."""
        return self._risk.observe_settlement(strategy_id, key, symbols, pnl_usd, ts)

    def result_undo(
        self, strategy_id: str, symbols: tuple[str, ...], settled: bool = False
    ) -> Callable[[], None]:
        """The risk engine's `result_undo`: what a result's failed commit puts back."""
        result_undo = getattr(self._risk, "result_undo", None)
        if result_undo is None:
            return _keep
        undo: Callable[[], None] = result_undo(strategy_id, symbols, settled)
        return undo


def _keep() -> None:
    """Nothing to put back (a risk engine that keeps no results)."""
