"""Reset a paper account: cancel its orders, close its positions, restore configured balances."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeguard.model.balance import Balance
from tradeguard.model.enums import Side
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.model.money import ZERO
from tradeguard.model.position import ClosedTrade
from tradeguard.portfolio.figures import TradeTotals
from tradeguard.venues.paper import PaperVenue

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode


async def reset_paper_account(node: TradingNode, by: str) -> dict[str, Any]:
    """Cancel open paper orders, close position records and restore the configured balances.

    A paper venue with an order that could not be cancelled is left as it is (listed under
    `failed`); the report names what was cancelled, closed and restored.
    """
    names = [vc.name for vc in node.config.venues if vc.kind == "paper"]
    report: dict[str, Any] = {
        "venues": names,
        "cancelled": [],
        "closed_positions": [],
        "failed": [],
        "balances": {},
    }
    ready = []  # venues with nothing working any more: only those are reset
    for name in names:
        cancelled, failed = await node.orders.cancel_all(name)
        report["cancelled"].extend(cancelled)
        report["failed"].extend({"id": i, "reason": r} for i, r in failed)
        if failed:
            reason = f"not reset: {len(failed)} order(s) could not be cancelled"
            report["failed"].append({"id": name, "reason": reason})
        else:
            ready.append(name)
    now = node.clock.now_ms()
    report["closed_positions"] = _close_paper_positions(node, ready, now)
    _restore_paper_balances(node, ready, now, report)
    node.risk.invalidate_exposure()
    node.invalidate_equity()
    node._emit("paper.reset", {"by": by, **report}, "warning")
    return report


def _close_paper_positions(node: TradingNode, venues: list[str], now: int) -> list[str]:
    closed = []
    for key, pos in list(node.portfolio.positions.items()):
        if pos.venue not in venues:
            continue
        if pos.quantity != 0:
            mark = node.portfolio.mark_or(pos.venue, pos.symbol, pos.avg_entry)
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
            node.fold_closed_trades()
            node._trade_totals.setdefault(pos.strategy_id, TradeTotals()).add(pnl)
            closed.append(f"{pos.venue}:{pos.symbol}:{pos.strategy_id}")
        del node.portfolio.positions[key]
    return closed


def _restore_paper_balances(
    node: TradingNode, venues: list[str], now: int, report: dict[str, Any]
) -> None:

    for vc in node.config.venues:
        venue = node.venues.get(vc.name)
        if vc.name not in venues or not isinstance(venue, PaperVenue):
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
