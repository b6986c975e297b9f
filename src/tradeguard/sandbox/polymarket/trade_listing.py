"""The local CLOB's `/data/trades` listing: an account's trades newest first, narrowed as the
CLOB's query narrows them (py-clob-client's `TradeParams`: `id`, `market`, `asset_id`,
`before`, `after`; an `id` of other than letters, digits, `-` and `_` is refused, HTTP 400).
A row is the taker's trade: `asset_id` matches the taker's token alone, so a maker's side of
a complementary match (its own token in `maker_orders`) is listed under the other outcome's;
`market` lists both."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from tradeguard.model.outcome import Outcome
from tradeguard.sandbox.binary_book import BinaryOrder, Trade


def _seconds(query: Mapping[str, str], key: str) -> int | None:
    raw = query.get(key)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()):
        raise ValueError(f"{key} {raw!r} must be a Unix time in whole seconds")
    return int(raw)


def trade_listing(rows: Sequence[dict[str, Any]], query: Mapping[str, str]) -> list[dict[str, Any]]:
    """`rows` (kept in the order they were matched) as the listing answers them: newest first,
    only those the query's filters keep. ValueError naming a malformed `after` or `before`."""
    after, before = _seconds(query, "after"), _seconds(query, "before")
    trade_id = query.get("id", "")
    if trade_id and not all(c.isascii() and (c.isalnum() or c in "-_") for c in trade_id):
        raise ValueError(f"id {trade_id[:80]!r} is not a trade id")  # answered HTTP 400
    want = {k: query[k] for k in ("id", "market", "asset_id") if query.get(k)}
    out = []
    for row in reversed(rows):  # newest first; of one second, the later match first
        if any(row.get(k) != v for k, v in want.items()):
            continue
        ts = int(str(row["match_time"]))
        if (after is not None and ts <= after) or (before is not None and ts >= before):
            continue
        out.append(row)
    return out


def tx_hash(trade_id: str) -> str:
    """The transaction hash a trade row names (made up from its id: no chain here)."""
    return "0x" + hashlib.sha256(trade_id.encode()).hexdigest()


def trade_row(tokens: tuple[str, str], t: Trade, o: BinaryOrder, fee: Decimal) -> dict[str, Any]:
    """The row of match `t` listed to `o`'s account (its market's YES and NO `tokens`), as the
    CLOB lists it: the taker's trade (its token, side, price and size) whichever side the
    account is on (`trader_side`), with the fee the account paid (a maker none); the maker's
    own token, side and price are its `maker_orders` entry (in a complementary match, the
    other outcome's), its `owner` the API key that placed it. Each side has its own id, so
    fills stay idempotent."""
    taker, maker = t.taker, t.maker

    def token(order: BinaryOrder) -> str:
        return tokens[0] if order.outcome is Outcome.YES else tokens[1]

    return {
        "id": f"{t.trade_id}-{o.order_id[2:12]}", "taker_order_id": taker.order_id,
        "maker_orders": [{
            "order_id": maker.order_id, "owner": maker.extra.get("owner", maker.account),
            "maker_address": maker.account,
            "matched_amount": str(t.size), "price": str(maker.own_price(t.yes_price)),
            "fee_rate_bps": "0", "asset_id": token(maker), "side": "BUY" if maker.buy else "SELL",
            "outcome": "Yes" if maker.outcome is Outcome.YES else "No",
        }],
        "market": o.market, "asset_id": token(taker), "side": "BUY" if taker.buy else "SELL",
        "size": str(t.size), "price": str(taker.own_price(t.yes_price)), "fee_paid": str(fee),
        "status": "CONFIRMED", "trader_side": "TAKER" if o is taker else "MAKER",
        "match_time": str(t.ts // 1000), "transaction_hash": tx_hash(t.trade_id),
    }  # fmt: skip
