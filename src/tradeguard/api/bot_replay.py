"""Execute a bot's trade once per idempotency key: a replay gets the first trade's answer.

```python
out = await execute_once(desk, "alpha", body.doc(), by="token:alpha")
out["replayed"]   # True when an earlier execute with the same key answered
```

The key is the body's `idempotency_key` (or the Idempotency-Key header), else, for a bot
without confirmation ids, one derived from the signal (`bots.idempotency`), except for a
reduce_only close; a bot with confirmation ids and no key keeps the confirmation id as its key.
The key is the bot's, whichever token sends it (a retry under a rotated token is the same
trade); another bot's same key is its own. It is claimed in the database before anything is
sent, so it holds across restarts and between two requests racing. A trade that sent nothing
(denied, failed before its journal row, or left `not_sent` by a stopped node) releases its
key, as does a claim with no trade stored that no execute of this process holds (a node killed
before storing it): nothing happened, so the signal may be tried again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tradeguard.api.bot_desk import new_trade_id
from tradeguard.bots.idempotency import (
    DERIVED_KEY_TTL_S,
    GIVEN_KEY_TTL_S,
    PREFIX,
    signal_key,
    store_key,
)
from tradeguard.bots.spec import BotError
from tradeguard.node.bot_book import NOT_TRADED

if TYPE_CHECKING:
    from tradeguard.api.bot_desk import BotDesk


class StillSending(BotError):
    """The first execute with this key has not answered yet."""


async def execute_once(desk: BotDesk, bot: str, doc: dict[str, Any], by: str) -> dict[str, Any]:
    """Run `desk.execute` unless the key already made a trade; then return that trade."""
    spec, _ = desk.bot(bot)
    # a reduce_only close sent twice is refused the second time (BOT_NOT_REDUCING, or
    # BOT_CLOSE_WORKING): no key is derived for it, so the next position's close is never
    # taken for a replay of the last one's
    if "idempotency_key" not in doc and (spec.require_confirmation or doc.get("reduce_only")):
        return {**await desk.execute(bot, doc, by), "replayed": False}
    key, given = signal_key(doc, None if "idempotency_key" in doc else _other_side(desk, bot, doc))
    claim = store_key(bot, key)
    now = desk.node.clock.now_ms()
    ttl_s = GIVEN_KEY_TTL_S if given else DERIVED_KEY_TTL_S
    trade_id = new_trade_id()
    held = desk.rows.claim_key(claim, PREFIX, trade_id, now, now + ttl_s * 1000)
    first = desk.rows.trade(held) if held is not None else None
    if held is not None and (
        first["status"] == "not_sent" if first is not None else held not in desk.claims
    ):
        # nothing was sent: a node stopped before the first one's order reached the journal,
        # or before its trade was stored at all (no execute of this process holds the key)
        desk.rows.release_key(claim, held)
        held = desk.rows.claim_key(claim, PREFIX, trade_id, now, now + ttl_s * 1000)
    if held is not None:
        return _replay(desk, held, key if given else None, doc)
    desk.claims.add(trade_id)
    try:
        out = await desk.execute(bot, doc, by, trade_id)
    except BaseException:  # a cancelled request too: its trade is settled, sent or not
        stored = desk.rows.trade(trade_id)
        if stored is None or stored["status"] == "not_sent":
            desk.rows.release_key(claim, trade_id)
        raise
    finally:
        desk.claims.discard(trade_id)
    if out["status"] == "denied":
        desk.rows.release_key(claim, trade_id)
    return {**out, "idempotency_key": key if given else None, "replayed": False}


def _other_side(desk: BotDesk, bot: str, doc: dict[str, Any]) -> str | None:
    """The id of the bot's newest trade sent on the symbol with the other side, if any."""
    side = str(doc.get("side", "")).lower()
    for t in desk.rows.trades(bot, limit=500):
        other = t.get("side") not in (None, side)
        if t["symbol"] == doc.get("symbol") and other and t["status"] not in NOT_TRADED:
            return str(t["trade_id"])
    return None


def _replay(desk: BotDesk, trade_id: str, given: str | None, doc: dict[str, Any]) -> dict[str, Any]:
    what = f"idempotency key {given!r}" if given is not None else "the same signal"
    trade = desk.trade_status(trade_id)
    asked = (str(doc.get("symbol")), str(doc.get("side", "")).lower())
    if trade is not None and (trade["symbol"], trade.get("side")) != asked:
        raise BotError(
            f"idempotency_key {given!r} was used by trade {trade_id} ({trade['side']} "
            f"{trade['symbol']}), not {asked[1]} {asked[0]}: a key names one trade; send a new one"
        )
    if trade is None or trade["status"] == "sending":
        raise StillSending(
            f"an execute with {what} is still being sent as trade {trade_id}; read GET "
            f"/api/v1/trades/status/{trade_id} for its outcome instead of sending it again"
        )
    return {**trade, "idempotency_key": given, "replayed": True}
