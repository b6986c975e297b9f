"""Swaps held unbooked: mined, but the RPC's answer for them cannot be trusted yet (a receipt
that does not fit what was signed, the wallet's balances around its block not answered, a
shortfall no declared fee explains). Such a swap stays in flight until an honest answer books
it; meanwhile the venue's other reads go on: its open orders list it in flight with the reason
it is held, its balances are read (the chain's, the swap in them without its fill: the
reconciliation and the balance sync leave the ledger alone while one is held, see
`execution.reconcile.held_unbooked`), and `held_swaps` names it for the node's health view.
The first hold of each swap is told (`on_held`: the node publishes `dex.swap_held`, an alert),
its reason without any URL's credentials or API key (`told`). A hold ends when the order is
answered: booked, or, once the chain knows none of its transactions by hash (no receipt of
their own hash either) and the wallet's nonce is past them (another transaction used it),
rejected as dropped with nothing booked.

```python
venue.held.hold(cid, "WETH/USD", tx_hash, "receipt of 0x.. not booked: ...")
venue.held.listed()   # [{"client_order_id", "symbol", "tx_hash", "reason", "since_ms"}]
```
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tradeguard.model.enums import OrderStatus
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.model.reports import OrderReport

if TYPE_CHECKING:
    from tradeguard.venues.uniswap_v2.rpc import TxLookup
    from tradeguard.venues.uniswap_v2.venue import UniswapV2Venue

log = logging.getLogger(__name__)

HELD_CODE = "RPC_ANSWER"  # the error code of an answer the venue will not book on
SWAP_HELD = "dex.swap_held"  # the event the node publishes for a swap held anew


class HeldSwaps:
    """The swaps of one venue held unbooked, by client order id."""

    def __init__(self, venue: str, now_ms: Callable[[], int]) -> None:
        self.venue = venue
        self.now_ms = now_ms
        self.by_order: dict[str, dict[str, Any]] = {}
        self.on_held: Callable[[dict[str, Any]], None] | None = None

    def hold(self, cid: str, symbol: str, tx_hash: str, reason: str) -> None:
        """Hold the swap `tx_hash` of order `cid` for `reason` (the RPC's words in it: any URL
        cut to its host, any credential masked); told once per swap."""
        reason = told(reason)
        known = self.by_order.get(cid)
        since = known["since_ms"] if known is not None else self.now_ms()
        info = {"client_order_id": cid, "symbol": symbol, "tx_hash": tx_hash,
                "reason": reason, "since_ms": since}  # fmt: skip
        self.by_order[cid] = info
        if (known is None or known["tx_hash"] != tx_hash) and self.on_held is not None:
            self.on_held(dict(info))

    def release(self, cid: str) -> None:
        """The order `cid` was answered: no longer held."""
        if self.by_order.pop(cid, None) is not None:
            log.info("%s: order %s is no longer held: its swap was answered", self.venue, cid)

    def listed(self) -> list[dict[str, Any]]:
        """Each swap held, oldest first."""
        return sorted((dict(x) for x in self.by_order.values()), key=lambda x: x["since_ms"])


def told(reason: str) -> str:
    """`reason` as a held swap tells it (event, alert, health view): an RPC URL cut to its
    host, an API key or password masked; a transaction's hash kept."""
    from tradeguard.secrets.redact import redact
    from tradeguard.venues.uniswap_v2.rpc import scrub_urls

    return redact(scrub_urls(reason))


def mined_by(lookup: TxLookup, block: int | None) -> bool:
    """Tell whether the transaction is mined, in `block` or before when one is given."""
    if lookup.state != "mined":
        return False
    return block is None or int(lookup.receipt["blockNumber"]) <= block


def held_error(exc: AmbiguousVenueError) -> bool:
    """Whether `exc` holds a swap unbooked (an RPC answer not booked on), not a plain outage."""
    return exc.code == HELD_CODE


async def open_reports(venue: UniswapV2Venue, symbol: str | None) -> list[OrderReport]:
    """The venue's orders in flight: each one's swap looked up; one held is listed in flight
    with the reason it is held instead of refusing the whole listing."""
    out = []
    for record in venue.store.open_records(venue.name):
        sym = str(record.detail.get("symbol", ""))
        if record.kind == "approve" or (symbol is not None and sym != symbol):
            continue
        cid = record.client_order_id
        try:
            report = await venue.fetch_order(cid, sym)
        except AmbiguousVenueError as exc:
            if not held_error(exc):
                raise
            venue.held.hold(cid, sym, record.tx_hash, str(exc))
            report = OrderReport(
                venue.name, sym, cid, record.tx_hash, OrderStatus.ACCEPTED,
                reason=f"held: {exc}", ts=venue.now_ms(), side=str(record.detail.get("side", "")),
            )  # fmt: skip
        if report is not None and report.status.is_open:
            out.append(report)
    return out


async def book_mined(venue: UniswapV2Venue, block: int) -> None:
    """Book the fill (or gas) of every open journaled transaction mined by `block`: one in a
    later block (a busy chain moves on between calls) is left for the next read, as the
    balances read at `block` do not hold it yet. A swap held unbooked is left in flight (the
    reconciliation and the balance sync leave the ledger alone meanwhile): the read answers.
    An order none of whose copies the node knows is looked up whole (sent again, or what took
    its nonce judged and booked when it made the swap)."""
    await venue._book_approvals(until_block=block)
    open_orders = {r.client_order_id for r in venue.store.open_records(venue.name)}
    for cid in sorted(open_orders):
        # every copy of the order's nonce: a replaced original may be the one mined
        copies = [r for r in venue.store.for_order(venue.name, cid) if r.kind != "approve"]
        states = set()
        for record in copies:
            symbol = str(record.detail.get("symbol"))
            try:
                lookup = await venue._lookup(record)
                states.add(lookup.state)
                # none known: its nonce may have gone to a transaction signed outside the node
                # that made the swap (`waiting._taken`): booked before the read too
                none_known = states == {"unknown"} and record is copies[-1]
                if mined_by(lookup, block) or none_known:
                    await venue.fetch_order(cid, symbol)
                    break
            except AmbiguousVenueError as exc:
                if not held_error(exc):
                    raise
                venue.held.hold(cid, symbol, record.tx_hash, str(exc))
                break
