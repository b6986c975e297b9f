"""What the API does to a node beyond the order path: the paper-account reset and confirmations."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeguard.model.balance import Balance
from tradeguard.model.enums import Side
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.model.events import Event
from tradeguard.model.money import ZERO
from tradeguard.model.position import ClosedTrade
from tradeguard.venues.paper import PaperVenue

if TYPE_CHECKING:
    from tradeguard.node import TradingNode

PAPER_RESET = "api.paper_reset"
CONFIRM_TTL_S = 120.0


@dataclass
class Confirmations:
    """One-time confirmation tokens for destructive actions, bound to the token that asked."""

    ttl_s: float = CONFIRM_TTL_S
    _pending: dict[str, tuple[str, str, float]] = field(default_factory=dict)

    def issue(self, action: str, token_id: str) -> str:
        """Return a new one-time code for `action`, valid for `ttl_s` and only for `token_id`."""
        now = time.monotonic()
        self._pending = {k: v for k, v in self._pending.items() if v[2] > now}
        code = secrets.token_urlsafe(16)
        self._pending[code] = (action, token_id, now + self.ttl_s)
        return code

    def redeem(self, code: str, action: str, token_id: str) -> bool:
        """Consume `code`; True only if it was issued for this action and token and is fresh."""
        entry = self._pending.pop(code, None)
        if entry is None:
            return False
        return entry[0] == action and entry[1] == token_id and entry[2] > time.monotonic()


def paper_venues(node: TradingNode) -> list[str]:
    """Return the names of the node's paper venues."""
    return [vc.name for vc in node.config.venues if vc.kind == "paper"]


async def reset_paper_account(node: TradingNode, by: str) -> dict[str, Any]:
    """Cancel open paper orders, close position records and restore the configured balances."""
    names = paper_venues(node)
    report: dict[str, Any] = {
        "venues": names,
        "cancelled": [],
        "closed_positions": [],
        "failed": [],
        "balances": {},
    }
    now = node.clock.now_ms()
    ready = []  # venues with nothing working any more: only those are reset
    for name in names:
        cancelled, failed = await node.orders.cancel_all(name)
        report["cancelled"].extend(cancelled)
        report["failed"].extend({"id": i, "reason": r} for i, r in failed)
        if failed:
            report["failed"].append(
                {"id": name, "reason": f"not reset: {len(failed)} order(s) could not be cancelled"}
            )
        else:
            ready.append(name)
    for key, pos in list(node.portfolio.positions.items()):
        if pos.venue not in ready:
            continue
        if pos.quantity != 0:
            mark = node.portfolio.marks.get(pos.symbol, pos.avg_entry)
            pnl = pos.unrealized_pnl(mark)
            entry_notional = abs(pos.quantity) * pos.avg_entry
            trade = ClosedTrade(
                venue=pos.venue,
                symbol=pos.symbol,
                strategy_id=pos.strategy_id,
                side=Side.BUY if pos.quantity > 0 else Side.SELL,
                entry_price=pos.avg_entry,
                exit_price=mark,
                amount=abs(pos.quantity),
                pnl=pnl,
                pnl_pct=pnl / entry_notional * 100 if entry_notional else ZERO,
                opened_ts=pos.opened_ts,
                closed_ts=now,
            )
            node.storage.close_position(trade, pos)
            report["closed_positions"].append(f"{pos.venue}:{pos.symbol}:{pos.strategy_id}")
        del node.portfolio.positions[key]
    for vc in node.config.venues:
        venue = node.venues.get(vc.name)
        if vc.name not in ready or not isinstance(venue, PaperVenue):
            continue
        configured = {a: Decimal(q) for a, q in vc.balances.items()}
        try:
            restored = venue.reset_balances(configured)
        except DefinitiveVenueError as exc:
            report["failed"].append({"id": vc.name, "reason": str(exc)})
            continue
        # The ledger follows the venue, and also forgets assets only the ledger knew.
        book = node.portfolio.book(vc.name)
        held = {b.asset for b in restored}
        restored += [Balance(vc.name, a, ZERO) for a in book.assets() if a not in held]
        node.portfolio.set_balances(vc.name, restored)
        node.orders.discard_pending_balances(vc.name)
        node.storage.upsert_balances(vc.name, restored, ts=now)
        report["balances"][vc.name] = {b.asset: str(b.total) for b in restored}
    node.risk.invalidate_exposure()
    node.invalidate_equity()
    node.bus.publish(Event(PAPER_RESET, now, {"by": by, **report}, severity="warning"))
    return report
