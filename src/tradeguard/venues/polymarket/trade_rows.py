"""Our fills in a Polymarket trade row (REST `/data/trades` or the `user` channel).

A row is the taker's trade: its `asset_id`, `side`, `price` and `size` are the taker order's.
Where we took (`trader_side` TAKER) that is our fill. Where we made (MAKER) our side is our
entry of `maker_orders`, with its own `asset_id`, `side`, `price` and `matched_amount`: in a
complementary match (our NO bid met by a YES buyer) the other outcome's token, at the
complementary price. Our entries are those naming our address (`maker_address`), our API key
(`owner`) or one of our order hashes; a taker meeting several of our resting orders at once
names each, and each is a fill of its own (keyed by the row's id and the order's hash: one would
otherwise shadow the other as a duplicate). Makers pay no fee on Polymarket: a maker fill's fee
is 0. The `user` channel's entries name no side: it follows from the taker's (`_maker_side`).

A row's `status` is the trade's settlement: MATCHED (sent to be settled on chain), MINED,
CONFIRMED (settled), RETRYING (its transaction failed and is resubmitted) or FAILED (never
settled, no more retries). The CLOB's balances hold a trade from its match on; a FAILED one's
go back: it is never booked (`trade_failed`), and one booked while it was pending is flagged
by the reconciliation, whose balance read takes the venue's figures. RETRYING stays booked, and
so does a status no CLOB sends yet (taken as pending, one warning per status: the row is
readable, its order never escalated for it). The statuses told are the venue's own
(`unknown_told`): a restart's venue tells them again, whatever another venue was told.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any

from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError
from tradeguard.model.fill import Fill
from tradeguard.model.money import ZERO, dec, venue_amount
from tradeguard.model.outcome import outcome_price
from tradeguard.venues.polymarket.listing_pass import outside_pass
from tradeguard.venues.polymarket.markets import QUOTE
from tradeguard.venues.polymarket.pending import follow_pending, pending_id
from tradeguard.venues.polymarket.trade_time import trade_ts_ms

log = logging.getLogger(__name__)


BOOKED_STATUSES = ("MATCHED", "MINED", "CONFIRMED", "RETRYING")
FAILED = "FAILED"


_TOLD_MAX = 100  # unknown statuses a venue remembers having told (more: no more warnings)


def trade_failed(
    row: dict[str, Any], venue: str = "polymarket", told: set[str] | None = None
) -> bool:
    """Whether `row`'s trade failed on chain (never booked). A row naming no status names no
    failure; a status no CLOB sends yet is a trade still pending, booked as MATCHED is (the
    CLOB's balances hold it from its match on; should it FAIL later, the reconciliation flags
    it), with a warning naming it: once per status in `told` (the venue's `unknown_told`;
    None: every time)."""
    status = row.get("status")
    if status is None or status in BOOKED_STATUSES:
        return False
    if status == FAILED:
        return True
    named = str(status)[:40]
    if told is None or (named not in told and len(told) < _TOLD_MAX):
        if told is not None:
            told.add(named)
        known = ", ".join((*BOOKED_STATUSES, FAILED))
        log.warning(
            "%s: trade %s: status %r is not one of %s: taken as pending (booked; a FAILED "
            "read later is flagged by the reconciliation); told once per status",
            venue, str(row.get("id"))[:80], named, known,
        )  # fmt: skip
    return False


FAILED_IDS_KEPT = 10_000  # trade ids read FAILED remembered against a stale MATCHED
FAILED_OF_KEEP_MS = 7 * 86_400_000  # an order's FAILED sizes, kept after its newest FAILED fill


def kept_fills(venue: Any, row: dict[str, Any], fills: list[Fill]) -> list[Fill]:
    """The fills of `row` to book: none of a FAILED trade (kept apart in the venue's
    `failed_fills`), none of a trade read FAILED before (no status follows FAILED: a row of it
    still MATCHED, a stream message late, is stale), whichever was read first. The ids read
    FAILED are kept, the oldest dropped past `FAILED_IDS_KEPT`."""
    ids: dict[str, None] = venue._failed_ids
    if not trade_failed(row, venue.name, venue.unknown_told):
        kept = [f for f in fills if f.trade_id not in ids]
        follow_pending(venue.pending_trades, row, kept, venue.clock.now_ms())
        return kept
    venue.pending_trades.pop(pending_id(row), None)  # ended: FAILED (the id kept of it)
    failed_at: dict[str, int] = venue._failed_at
    for f in fills:
        venue.failed_fills[f.trade_id] = f
        venue._failed_of.setdefault(f.venue_order_id, {})[f.trade_id] = f.amount
        failed_at[f.venue_order_id] = max(failed_at.get(f.venue_order_id, 0), f.ts)
        ids[f.trade_id] = None
    # an order's FAILED sizes are let go a week after its newest FAILED fill, as the
    # reconciliation lets go of the trades it flagged (`FLAG_KEEP_MS`): no order is queried
    # that long after its trades once it ended. One still resting when last queried keeps
    # them: its CLOB row counts them matched for as long as it rests
    cutoff, resting = venue.clock.now_ms() - FAILED_OF_KEEP_MS, venue._resting
    old = [h for h, ts in failed_at.items() if ts < cutoff and h not in resting]
    for order_hash in old:
        del failed_at[order_hash]
        venue._failed_of.pop(order_hash, None)
    while len(ids) > FAILED_IDS_KEPT:
        del ids[next(iter(ids))]
    return []


def row_fills(
    venue: str,
    row: dict[str, Any],
    symbol_of_token: Mapping[str, str],
    cid_of_hash: Mapping[str, str],
    address: str,
    api_key: str = "",
) -> list[Fill]:
    """Our fills in `row`: KeyError, IndexError, ValueError or TypeError naming the field for
    a row no CLOB would send (a maker row naming none of our orders among them)."""
    taker = row["trader_side"] == "TAKER"
    ts = trade_ts_ms(row)
    if taker:
        oid = row["taker_order_id"]
        return [Fill(
            venue, symbol_of_token.get(row["asset_id"], ""), cid_of_hash.get(oid, ""), oid,
            row["id"], Side(str(row["side"]).lower()), outcome_price(row["price"], "price"),
            venue_amount(row["size"], "size"), dec(row["fee_paid"], "fee_paid"), QUOTE,
            LiquiditySide.TAKER, ts,
        )]  # fmt: skip
    ours = _our_entries(row["maker_orders"], cid_of_hash, address, api_key)
    many = len(ours) > 1
    return [Fill(
        venue, symbol_of_token.get(m["asset_id"], ""), cid_of_hash.get(m["order_id"], ""),
        m["order_id"], f"{row['id']}:{m['order_id']}" if many else row["id"],
        _maker_side(row, m), outcome_price(m["price"], "maker_orders[].price"),
        venue_amount(m["matched_amount"], "maker_orders[].matched_amount"), ZERO, QUOTE,
        LiquiditySide.MAKER, ts,
    ) for m in ours]  # fmt: skip


def _maker_side(row: dict[str, Any], entry: dict[str, Any]) -> Side:
    """A maker entry's side: its own (REST), else the taker's turned over for the same token
    and kept for the other outcome's (the `user` channel names none: both buy and mint, or
    both sell and merge)."""
    if "side" in entry:
        return Side(str(entry["side"]).lower())
    taker = Side(str(row["side"]).lower())
    return taker.opposite if entry["asset_id"] == row["asset_id"] else taker


def _our_entries(
    makers: Any, our_hashes: Collection[str], address: str, api_key: str
) -> list[dict[str, Any]]:
    """Our entries: by our address (REST), our API key (`owner`: REST and the `user` channel,
    which names no address) or one of our order hashes (those of a restart's open orders
    alone: known by hash alone, a streamed row naming two of ours would key its fills apart
    from the listing's, one booked twice)."""
    if not isinstance(makers, list) or not all(isinstance(m, dict) for m in makers):
        raise TypeError(f"maker_orders: {str(makers)[:80]!r} is not a list of objects")
    me = address.lower()
    ours = [
        m for m in makers
        if str(m.get("maker_address", "")).lower() == me or m.get("order_id") in our_hashes
        or (api_key and m.get("owner") == api_key)
    ]  # fmt: skip
    if not ours:
        raise ValueError(f"maker_orders: none of the {len(makers)} entries is ours ({address})")
    return ours


async def fills_after_submit(venue: Any, symbol: str) -> list[Fill]:
    """`symbol`'s listed fills once an order of it filled at its submit; none when the listing
    fails (the market's, longer than the page cap, or not answered): the order is placed, so
    its fills are left to the `user` channel and the reconciliation, never a refused submit."""
    try:
        with outside_pass():  # a listing read before the order would miss its fills
            return list(await venue.fetch_fills(symbol))
    except (DefinitiveVenueError, AmbiguousVenueError) as exc:
        log.warning("%s: fills of %s not listed after a submit: %s", venue.name, symbol, exc)
        return []
