"""A trade's settlement on the local CLOB: `MATCHED` on the `user` channel as it is made,
`CONFIRMED` on the listing, and (a test's hook, `PolymarketExchange.set_trade_status`) a later
status: `RETRYING` (the transaction is being resubmitted: nothing moves back) or `FAILED` (never
settled on chain: each side's contracts and cash, fee included, go back as they were). Each
side's row takes the status and its account's `user` channel is told, as Polymarket's does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tradeguard.model.money import ZERO, dec
from tradeguard.sandbox.binary_book import BinaryOrder
from tradeguard.sandbox.outcome_accounts import OutcomeAccount

if TYPE_CHECKING:
    from tradeguard.sandbox.polymarket.server import PolymarketExchange

STATUSES = ("MATCHED", "MINED", "CONFIRMED", "RETRYING", "FAILED")


def set_trade_status(ex: PolymarketExchange, trade_id: str, status: str) -> int:
    """Give match `trade_id` (the id `POST /order` answers in `tradeIDs`) `status`; return
    how many rows (one per side) took it. ValueError naming an unknown status or trade."""
    if status not in STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    changed = 0
    for account, rows in ex.trades.items():
        for row in rows:
            if not str(row["id"]).startswith(f"{trade_id}-") or row["status"] == status:
                continue
            if row["status"] == "FAILED":
                raise ValueError(f"trade {trade_id} failed already: no status follows FAILED")
            if status == "FAILED":
                _undo(ex.accounts[account], *_leg(ex, row))
            row["status"] = status
            _tell(ex, account, row)
            changed += 1
    if not changed:
        raise ValueError(f"trade {trade_id}: no row of it to set {status}")
    return changed


def _leg(ex: PolymarketExchange, row: dict[str, Any]) -> tuple[BinaryOrder, Any, Any, Any]:
    """The order of `row`'s account, its size, price and fee (a maker's fee is none)."""
    if row["trader_side"] == "TAKER":
        order = ex.book.orders[row["taker_order_id"]]
        return order, dec(row["size"]), dec(row["price"]), dec(row["fee_paid"])
    (entry,) = row["maker_orders"]
    order = ex.book.orders[entry["order_id"]]
    return order, dec(entry["matched_amount"]), dec(entry["price"]), ZERO


def _undo(acct: OutcomeAccount, order: BinaryOrder, size: Any, price: Any, fee: Any) -> None:
    """Put back what `apply_leg` moved for this execution (its locks are released already)."""
    key = (order.market, order.outcome)
    if order.buy:
        acct.cash += size * price + fee
        acct.tokens[key] = acct.tokens.get(key, ZERO) - size
    else:
        acct.cash -= size * price - fee
        acct.tokens[key] = acct.tokens.get(key, ZERO) + size


def _tell(ex: PolymarketExchange, account: str, row: dict[str, Any]) -> None:
    makers = [{k: v for k, v in m.items() if k != "side"} for m in row["maker_orders"]]
    event = {
        "event_type": "trade", **row, "maker_orders": makers, "matchtime": row["match_time"],
        "timestamp": str(int(row["match_time"]) * 1000),
    }  # fmt: skip
    ex.hub.publish("user", "", lambda _sid, e=event: e, account=account)  # type: ignore[misc]
