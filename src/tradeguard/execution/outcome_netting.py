"""Netting of outcome contracts: a venue that pays 1 for a YES and a NO contract of one market
held together (Kalshi: one signed position per market) drops both at once; the ledger books it.

Each netting is booked like a settlement, as journaled netting orders (`net…`, signal
`{"netting": trade id}`) filled without fee: n YES and n NO sold at prices summing to 1, so the
ledger gains n of the quote as the venue's cash did, and the audit explains it by its fills.
The prices are those of the fill that made the pair: buying NO at q while holding YES is
selling YES at 1 - q, so the contract just bought closes at q and the other at 1 - q.
Contracts are taken from the positions holding them (the buyer's first), then from the
balance-only strategy that last traded the symbol (cross-venue legs), else from `holdings`
(contracts the ledger opened with). Ids derive from the trade, outcome and strategy: a
netting seen again (a replayed fill, a reconciliation) is booked once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from tradeguard.execution.ledger_audit import stored_start_balances, venue_ledger
from tradeguard.model.balance import Balance
from tradeguard.model.enums import LiquiditySide, OrderStatus, OrderType, Side
from tradeguard.model.events import Event, EventKind
from tradeguard.model.fill import Fill
from tradeguard.model.holdings import HOLDINGS
from tradeguard.model.money import ONE, ZERO, plain
from tradeguard.model.order import Order
from tradeguard.model.outcome import (
    Outcome,
    outcome_symbol,
    parse_outcome_symbol,
    split_signed_position,
)
from tradeguard.model.signal_keys import NETTING_ID_PREFIX

_RESTING = frozenset({OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})  # on the venue's book


@dataclass(frozen=True, slots=True)
class NettingLeg:
    """Contracts of one outcome a netting takes from one strategy, and the price they close at."""

    symbol: str
    outcome: Outcome
    strategy_id: str
    amount: Decimal
    price: Decimal


def netting_id(venue: str, seed: str, outcome: Outcome, strategy_id: str) -> str:
    digest = hashlib.sha256(f"{venue}|{seed}|{outcome.value}|{strategy_id}".encode())
    return f"{NETTING_ID_PREFIX}{digest.hexdigest()[:24]}"


def plan_netting(
    market: str,
    quote: str,
    bought: Outcome,
    price: Decimal,
    held: dict[Outcome, Decimal],
    holders: dict[Outcome, list[tuple[str, Decimal]]],
    owners: dict[Outcome, str],
) -> list[NettingLeg]:
    """The legs netting min(YES, NO) of `held`: `bought` closes at `price`, the other outcome
    at 1 - `price`; each outcome's contracts come from `holders` in order, the rest from its
    `owners` entry."""
    pairs = min(held.get(Outcome.YES, ZERO), held.get(Outcome.NO, ZERO))
    if pairs <= 0:
        return []
    legs: list[NettingLeg] = []
    for outcome in Outcome:
        symbol = outcome_symbol(market, outcome, quote)
        at = price if outcome is bought else ONE - price
        left = pairs
        for strategy_id, quantity in holders.get(outcome, []):
            take = min(left, quantity)
            if take > 0:
                legs.append(NettingLeg(symbol, outcome, strategy_id, take, at))
                left -= take
        if left > 0:
            legs.append(NettingLeg(symbol, outcome, owners[outcome], left, at))
    return legs


def net_after_fill(om: Any, fill: Fill, strategy_id: str) -> list[tuple[Fill, Order]]:
    """Book the netting `fill` set off on a netting venue (inside the fill's transaction, so a
    crash keeps both or neither); return the netting fills, for the listeners."""
    nets = getattr(om.venues.get(fill.venue), "nets_outcome_pairs", False)  # stubs: no flag
    if not nets:
        return []
    try:
        market, outcome, quote = parse_outcome_symbol(fill.symbol)
    except ValueError:
        return []
    # the venue nets after every fill of the market: selling one outcome at p while both are
    # held (a cancelled sell freed them) is buying the other at 1 - p
    bought, price = (
        (outcome, fill.price) if fill.side is Side.BUY else (_other(outcome), ONE - fill.price)
    )
    book = om.portfolio.book(fill.venue)
    held = {
        o: book.total(_base(market, o, quote)) - resting_sells(om, fill.venue, market, o, quote)
        for o in Outcome
    }  # the venue nets free contracts only, never those a resting sell holds
    return _book(om, fill.venue, market, quote, bought, price, held, fill.trade_id,
                 strategy_id, fill.ts)  # fmt: skip


def net_ledger_pairs(
    om: Any, venue_name: str, ts: int, only: tuple[str, str] | None = None
) -> list[tuple[Fill, Order]]:
    """Net every market where the durable ledger (start + fills - fees + adjustments) holds
    both outcomes: a fill booked before its netting was (an older ledger), at reconciliation.
    With `only` (a market's ticker and quote: a sell of it ended), that market only, reading
    its own fills rather than the venue's whole table."""
    if only is not None:
        return _net_market(om, venue_name, ts, *only)
    start = stored_start_balances(om.storage).get(venue_name, {})
    moved = venue_ledger(om.storage, venue_name)[0]
    ledger = {a: start.get(a, ZERO) + moved.get(a, ZERO) for a in set(start) | set(moved)}
    markets = []
    for asset in sorted(a for a in ledger if a.endswith(":YES")):
        market = asset[: -len(":YES")]
        held = {
            o: ledger.get(f"{market}:{o.value.upper()}", ZERO)
            - resting_sells(om, venue_name, market, o, "")
            for o in Outcome
        }
        if min(held.values()) > 0:
            markets.append((market, held))
    if not markets:
        return []
    fills = om.storage.load_fills(venue=venue_name)  # read only when something is to net
    out: list[tuple[Fill, Order]] = []
    for market, held in markets:
        traded = [f for f in fills if f.symbol.startswith(f"{market}:")]
        out += _net_after_last(om, venue_name, market, held, traded, ts)
    return out


def _net_after_last(
    om: Any, venue: str, market: str, held: dict[Outcome, Decimal], traded: list[Fill], ts: int
) -> list[tuple[Fill, Order]]:
    """Book the netting of `held` at the prices of the market's last fill (`traded`, oldest
    first by (ts, id): two fills of one millisecond keep their order)."""
    if not traded:
        return []
    last = traded[-1]
    _, outcome, quote = parse_outcome_symbol(last.symbol)
    bought, price = (
        (outcome, last.price) if last.side is Side.BUY else (_other(outcome), ONE - last.price)
    )
    seed = f"{last.trade_id}|{plain(min(held.values()))}"
    return _book(om, venue, market, quote, bought, price, held, seed, "", ts)


def _net_market(om: Any, venue: str, ts: int, market: str, quote: str) -> list[tuple[Fill, Order]]:
    """`net_ledger_pairs` for one market: its ledger from its own fills and adjustments."""
    assets = {o: _base(market, o, quote) for o in Outcome}
    start = stored_start_balances(om.storage).get(venue, {})
    ledger = {o: start.get(a, ZERO) for o, a in assets.items()}
    for r in om.storage.load_balance_adjustments(venue):
        for o, a in assets.items():
            if r["asset"] == a:
                ledger[o] += r["difference"]
    held = {o: ledger[o] - resting_sells(om, venue, market, o, "") for o in Outcome}
    symbols = tuple(outcome_symbol(market, o, quote) for o in Outcome)
    traded = om.storage.load_fills(venue=venue, symbol=symbols)  # by (ts, id), as the whole read
    for f in traded:
        o = Outcome.YES if f.base == assets[Outcome.YES] else Outcome.NO
        held[o] += f.amount if f.side is Side.BUY else -f.amount
    if min(held.values()) <= 0:
        return []
    return _net_after_last(om, venue, market, held, traded, ts)


def resting_sells(om: Any, venue: str, market: str, outcome: Outcome, quote: str) -> Decimal:
    """Contracts of `outcome` that sells resting on `venue` hold (locked there: not netted);
    any quote when `quote` is empty. An order escalated for unreadable fills is not counted:
    the venue reports it filled, not resting."""
    base = _base(market, outcome, quote or "X") + "/"
    gone = getattr(om, "unreadable", {})
    return sum(
        (
            o.remaining for o in om.orders.values()
            if o.venue == venue and o.side is Side.SELL and o.status in _RESTING
            and o.client_order_id not in gone
            and o.symbol.startswith(base) and (not quote or o.symbol == base + quote)
        ),
        ZERO,
    )  # fmt: skip


def with_journal_locks(om: Any, venue: str, balances: list[Balance]) -> list[Balance]:
    """`balances` of a netting venue with the contracts the journal's resting sells lock
    counted as held: the venue reports one signed position per market, and what it lists as
    locked may lag an order the journal knows resting; other venues' balances unchanged."""
    if not getattr(om.venues.get(venue), "nets_outcome_pairs", False):
        return balances
    by_asset = {b.asset: b for b in balances}
    markets = {
        parse_outcome_symbol(o.symbol)[0] for o in om.orders.values()
        if o.venue == venue and o.side is Side.SELL and o.status in _RESTING
    }  # fmt: skip
    for market in sorted(markets):
        held = {o: by_asset.get(f"{market}:{o.value.upper()}") for o in Outcome}
        listed = {o: b.locked if b else ZERO for o, b in held.items()}
        locks = {o: max(listed[o], resting_sells(om, venue, market, o, "")) for o in Outcome}
        if locks == listed:
            continue
        yes_b, no_b = held[Outcome.YES], held[Outcome.NO]
        signed = (yes_b.total if yes_b else ZERO) - (no_b.total if no_b else ZERO)
        yes, no = split_signed_position(signed, locks[Outcome.YES], locks[Outcome.NO])
        for outcome, total in ((Outcome.YES, yes), (Outcome.NO, no)):
            asset = f"{market}:{outcome.value.upper()}"
            by_asset[asset] = Balance(venue, asset, total - locks[outcome], locks[outcome])
    listed_assets = {b.asset for b in balances}
    return [b for b in by_asset.values() if b.total or b.asset in listed_assets]


def balance_only_owner(om: Any, venue: str, symbol: str) -> str:
    """The balance-only strategy that last traded `symbol` on `venue` (or the only one)."""
    owners = [
        o for o in om.orders.values()
        if o.venue == venue and o.symbol == symbol and o.strategy_id in om.balance_only
        and o.filled > 0
    ]  # fmt: skip
    if owners:
        return str(max(owners, key=lambda o: o.updated_ts).strategy_id)
    only = sorted(om.balance_only - {HOLDINGS})  # HOLDINGS books spot trades, never outcomes
    return only[0] if len(only) == 1 else ""


def _other(outcome: Outcome) -> Outcome:
    return Outcome.NO if outcome is Outcome.YES else Outcome.YES


def _base(market: str, outcome: Outcome, quote: str) -> str:
    return outcome_symbol(market, outcome, quote).split("/", 1)[0]


def _book(
    om: Any, venue: str, market: str, quote: str, bought: Outcome, price: Decimal,
    held: dict[Outcome, Decimal], seed: str, buyer: str, ts: int, fee: Decimal = ZERO,
) -> list[tuple[Fill, Order]]:  # fmt: skip
    holders: dict[Outcome, list[tuple[str, Decimal]]] = {}
    owners: dict[Outcome, str] = {}
    for outcome in Outcome:
        symbol = outcome_symbol(market, outcome, quote)
        longs = sorted(
            (sid != buyer, sid, pos.quantity)
            for (v, s, sid), pos in om.portfolio.positions.items()
            if v == venue and s == symbol and pos.quantity > 0
        )
        holders[outcome] = [(sid, q) for _, sid, q in longs]
        owners[outcome] = balance_only_owner(om, venue, symbol) or HOLDINGS
    booked: list[tuple[Fill, Order]] = []
    for leg in plan_netting(market, quote, bought, price, held, holders, owners):
        cid = netting_id(venue, seed, leg.outcome, leg.strategy_id)
        if cid in om.orders or om.storage.get_order(cid) is not None:
            continue
        order = Order(
            cid, leg.strategy_id, venue, leg.symbol, Side.SELL, OrderType.MARKET, leg.amount,
            leg.price, created_ts=ts, updated_ts=ts, signal={"netting": seed},
        )  # fmt: skip
        order.transition(OrderStatus.SUBMITTED, ts)
        order.transition(OrderStatus.ACCEPTED, ts, reason="YES and NO held: netted by the venue")
        om.storage.upsert_order(order)
        om.orders[cid] = order
        # an order the journal does not keep must not stand in memory: the netting is booked
        # when asked again
        om.storage.on_rollback(partial(om.orders.pop, cid, None))
        # `fee` (a merge's cash rounding) is charged once, on the first leg booked
        fill = Fill(
            venue, leg.symbol, cid, cid, f"net-{cid}", Side.SELL, leg.price, leg.amount, fee,
            quote, LiquiditySide.MAKER, ts,
        )  # fmt: skip
        om.bus.publish(_netting_event(order, leg, seed))  # commits with the fill
        if om.record_fill(fill, order, leg.strategy_id):
            booked.append((fill, order))
        fee = ZERO
    return booked


def _netting_event(order: Order, leg: NettingLeg, seed: str) -> Event:
    return Event(
        EventKind.NETTING,
        order.created_ts,
        {
            "outcome": leg.outcome.value,
            "contracts": plain(leg.amount),
            "price": plain(leg.price),
            "cash": plain(leg.amount * leg.price),
            "trigger": seed,
            "client_order_id": order.client_order_id,
        },
        order.venue,
        order.symbol,
        order.strategy_id,
    )
