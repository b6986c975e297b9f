"""Turn resolved outcome markets into cash: each open position closes at the payout price.

A settlement is booked like an execution so the ledger still equals its fills: one journaled
settlement order per (strategy, outcome) position, filled at 1, 0 or 0.50 with no fee. Its id is
a function of the market, outcome and strategy, so a settlement seen twice is booked once.
"""

from __future__ import annotations

import hashlib
import logging
from decimal import Decimal
from typing import Any

from tradeguard.execution.host import SettlementHost
from tradeguard.execution.ledger_audit import stored_start_balances, venue_ledger
from tradeguard.execution.order_events import is_settlement
from tradeguard.execution.outcome_netting import balance_only_owner
from tradeguard.model.enums import LiquiditySide, OrderStatus, OrderType, Side
from tradeguard.model.errors import VenueError
from tradeguard.model.events import Event, EventKind
from tradeguard.model.fill import Fill
from tradeguard.model.money import ZERO, plain
from tradeguard.model.order import Order
from tradeguard.model.outcome import (
    Outcome,
    Resolution,
    Settlement,
    outcome_symbol,
    parse_outcome_symbol,
    payout,
)
from tradeguard.model.signal_keys import SETTLEMENT_ID_PREFIX

log = logging.getLogger(__name__)


def settlement_id(venue: str, market: str, outcome: Outcome, strategy_id: str) -> str:
    digest = hashlib.sha256(f"{venue}|{market}|{outcome.value}|{strategy_id}".encode())
    return f"{SETTLEMENT_ID_PREFIX}{digest.hexdigest()[:24]}"


def apply_settlement(
    om: Any, settlement: Settlement, ts: int, ledger: LedgerHoldings | None = None
) -> list[Fill]:
    """Close every holding of the settled market through the order manager; return the fills.

    Positions are closed per strategy. Outcome tokens bought by balance-only strategies (the
    cross-venue pairs) have no position: what the ledger still holds after that is closed for
    the balance-only strategy that last traded the symbol. `ledger` is shared by the
    settlements of one pass, so the venue's fills are read once.
    """
    ledger = ledger if ledger is not None else LedgerHoldings(om.storage)
    fills: list[Fill] = []
    for outcome in Outcome:
        symbol = outcome_symbol(settlement.market, outcome, settlement.quote)
        for (venue, sym, strategy_id), pos in list(om.portfolio.positions.items()):
            if venue == settlement.venue and sym == symbol and pos.quantity != 0:
                fill = _close(om, settlement, outcome, strategy_id, pos.quantity, ts)
                fills += [fill] if fill is not None else []
                ledger.booked(fill)
        owner = balance_only_owner(om, settlement.venue, symbol)
        held = om.portfolio.book(settlement.venue).total(symbol.split("/", 1)[0])
        if owner:  # at start the book holds the stored balances, which may lag the fills
            held = max(held, ledger.holding(settlement.venue, symbol))
        if owner and held > 0:
            fill = _close(om, settlement, outcome, owner, held, ts)
            fills += [fill] if fill is not None else []
            ledger.booked(fill)
    return fills


class LedgerHoldings:
    """What the durable ledger (start + fills - fees + adjustments) holds per venue and asset,
    read once per venue, then moved by the settlement fills booked after the read."""

    def __init__(self, storage: Any) -> None:
        self._storage = storage
        self._held: dict[str, dict[str, Decimal]] = {}

    def holding(self, venue: str, symbol: str) -> Decimal:
        """What the ledger holds of `symbol`'s base on `venue`."""
        held = self._held.get(venue)
        if held is None:
            start = stored_start_balances(self._storage).get(venue, {})
            moved = venue_ledger(self._storage, venue)[0]
            held = self._held[venue] = {
                a: start.get(a, ZERO) + moved.get(a, ZERO) for a in set(start) | set(moved)
            }
        return held.get(symbol.split("/", 1)[0], ZERO)

    def booked(self, fill: Fill | None) -> None:
        """Move the holding read by a settlement fill (no fee) booked after the read."""
        held = self._held.get(fill.venue) if fill is not None else None
        if fill is None or held is None:
            return
        base = fill.symbol.split("/", 1)[0]
        held[base] = held.get(base, ZERO) + (fill.amount if fill.side is Side.BUY else -fill.amount)


def _close(
    om: Any, settlement: Settlement, outcome: Outcome, strategy_id: str, held: Any, ts: int
) -> Fill | None:
    venue, symbol = settlement.venue, outcome_symbol(settlement.market, outcome, settlement.quote)
    cid = settlement_id(venue, settlement.market, outcome, strategy_id)
    order = om.orders.get(cid) or om.storage.get_order(cid)
    if order is not None and order.filled > 0:
        return None  # booked
    price = payout(settlement.resolution, outcome)
    if order is None:
        side = Side.SELL if held > 0 else Side.BUY
        order = Order(
            cid, strategy_id, venue, symbol, side, OrderType.MARKET, abs(held), price,
            created_ts=ts, updated_ts=ts, signal={"settlement": settlement.resolution.value},
        )  # fmt: skip
        order.transition(OrderStatus.SUBMITTED, ts)
        order.transition(OrderStatus.ACCEPTED, ts, reason="market resolved")
        with om.storage.transaction():
            om.storage.upsert_order(order)
    # else journaled by a pass whose fill's commit failed: its fill is booked now
    om.orders[cid] = order
    # open until its fill is booked, as a restart restores it: a fill whose commit fails leaves
    # it for reconciliation to wait on, not the venue's payout to be taken as an adjustment
    om.open[cid] = order
    fill = Fill(
        venue, symbol, cid, cid, f"settle-{cid}", order.side, price, order.amount, ZERO,
        settlement.quote, LiquiditySide.MAKER, ts,
    )  # fmt: skip
    # published before the fill so the audit row commits with the fill's changes
    om.bus.publish(settlement_event(settlement, order, outcome))
    om.on_fill(fill)
    return fill


def settlement_event(settlement: Settlement, order: Order, outcome: Outcome) -> Event:
    """The `settlement` event of one position closed by its market's resolution."""
    price = order.price if order.price is not None else ZERO
    cash = order.amount * price * (1 if order.side is Side.SELL else -1)
    return Event(
        EventKind.SETTLEMENT,
        order.created_ts,
        {
            "market": settlement.market,
            "resolution": settlement.resolution.value,
            "outcome": outcome.value,
            "contracts": plain(order.amount),
            "side": order.side.value,
            "payout_price": plain(price),
            "cash": plain(cash),
            "quote": settlement.quote,
            "client_order_id": order.client_order_id,
        },
        settlement.venue,
        order.symbol,
        order.strategy_id,
    )


async def settle_resolved(node: SettlementHost) -> list[Fill]:
    """Ask every venue that reports settlements and book the ones not booked yet."""
    fills: list[Fill] = []
    for venue in node.venues.values():
        fetch = getattr(venue, "fetch_settlements", None)
        if fetch is None:
            continue
        try:
            settlements = await fetch()
        except VenueError as exc:  # asked again at the next reconciliation
            log.warning("settlements of %s not read: %s", venue.name, exc)
            continue
        ledger = LedgerHoldings(node.orders.storage)  # one read of the fills per venue
        for settlement in settlements:
            fills += apply_settlement(node.orders, settlement, node.clock.now_ms(), ledger)
        fills += _book_journaled(node.orders, venue.name, node.clock.now_ms())
    return fills


def _book_journaled(om: Any, venue: str, ts: int) -> list[Fill]:
    """Book the fill of every settlement order of `venue` journaled by a pass whose fill's
    commit failed: the venue may not report that resolution again (a payout it made as it
    reported it, a listing moved on), and the order holds what its fill needs. Never asked
    of the venue, it would otherwise keep the venue's balances waiting for good."""
    fills: list[Fill] = []
    for order in [o for o in list(om.open.values()) if o.venue == venue and is_settlement(o)]:
        market, outcome, quote = parse_outcome_symbol(order.symbol)
        if settlement_id(venue, market, outcome, order.strategy_id) != order.client_order_id:
            continue  # not the one `_close` would find: it would make a second one
        resolution = Resolution.parse(str(order.signal["settlement"]))
        settlement = Settlement(venue, market, resolution, ZERO, ZERO, ZERO, quote, ts)
        fill = _close(om, settlement, outcome, order.strategy_id, order.amount, ts)
        fills += [fill] if fill is not None else []
    return fills
