"""Bot rows: the registry, confirmations, trades and server-side exit rules.

```python
rows = BotRows(db)
rows.save_bot("alpha", enabled=False, spec={...}, ts=now)
rows.bots()                          # -> [BotRow]
rows.redeem_confirmation("cf_1", now)  # -> True once, then False
```

Documents are JSON with money as strings; the `bots/` package reads and writes their shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from tradeguard.storage.tables import bot_confirmations, bot_exits, bot_trades, bots, kv_state

# the longest confirmation_window_s a bot may have (bots.spec), in ms: a stop voids that far back
_LONGEST_WINDOW_MS = 86_400 * 1000


@dataclass(frozen=True, slots=True)
class BotRow:
    """One registered bot: its spec as stored."""

    name: str
    enabled: bool
    spec: dict[str, Any]
    created_ts: int
    updated_ts: int


class BotRows:
    """Read and write the bot tables; every write commits on its own."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # registry ----------------------------------------------------------------------------------
    def save_bot(self, name: str, enabled: bool, spec: dict[str, Any], ts: int) -> None:
        """Insert or replace a bot's row."""
        with self.db.engine.begin() as conn:
            found = conn.execute(select(bots.c.created_ts).where(bots.c.name == name)).first()
            if found is None:
                conn.execute(
                    bots.insert(),
                    {"name": name, "enabled": enabled, "spec": spec, "created_ts": ts,
                     "updated_ts": ts},
                )  # fmt: skip
            else:
                conn.execute(
                    update(bots)
                    .where(bots.c.name == name)
                    .values(enabled=enabled, spec=spec, updated_ts=ts)
                )

    def bots(self) -> list[BotRow]:
        """Return every bot, by name."""
        with self.db.engine.connect() as conn:
            rows = conn.execute(select(bots).order_by(bots.c.name)).all()
        return [
            BotRow(r.name, bool(r.enabled), dict(r.spec), r.created_ts, r.updated_ts) for r in rows
        ]

    def delete_bot(self, name: str) -> bool:
        """Remove a bot's row; True if it existed."""
        with self.db.engine.begin() as conn:
            return conn.execute(delete(bots).where(bots.c.name == name)).rowcount > 0

    # confirmations ------------------------------------------------------------------------------
    def add_confirmation(
        self, conf_id: str, bot: str, doc: dict[str, Any], issued_ts: int, expires_ts: int
    ) -> None:
        """Store a confirmation handed out by validate-trade."""
        with self.db.engine.begin() as conn:
            conn.execute(
                bot_confirmations.insert(),
                {"id": conf_id, "bot": bot, "doc": doc, "issued_ts": issued_ts,
                 "expires_ts": expires_ts, "used_ts": None},
            )  # fmt: skip

    def confirmation(self, conf_id: str) -> dict[str, Any] | None:
        """Return a confirmation as a dict (doc fields plus bot, issued/expires/used), or None."""
        with self.db.engine.connect() as conn:
            r = conn.execute(
                select(bot_confirmations).where(bot_confirmations.c.id == conf_id)
            ).first()
        if r is None:
            return None
        return {**dict(r.doc), "id": r.id, "bot": r.bot, "issued_ts": r.issued_ts,
                "expires_ts": r.expires_ts, "used_ts": r.used_ts}  # fmt: skip

    def confirmations_since(self, bot: str, since_ts: int) -> list[dict[str, Any]]:
        """Return the bot's confirmations issued at or after `since_ts`, oldest first, less those
        voided (a stop ends the signals that agreed before it)."""
        stmt = (
            select(bot_confirmations)
            .where(bot_confirmations.c.bot == bot, bot_confirmations.c.issued_ts >= since_ts)
            .order_by(bot_confirmations.c.issued_ts)
        )
        with self.db.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [
            {**dict(r.doc), "id": r.id, "issued_ts": r.issued_ts}
            for r in rows
            if not dict(r.doc).get("voided")
        ]

    def redeem_confirmation(self, conf_id: str, ts: int) -> bool:
        """Mark a confirmation used; True only for the first caller (atomic in the database)."""
        with self.db.engine.begin() as conn:
            done = conn.execute(
                update(bot_confirmations)
                .where(bot_confirmations.c.id == conf_id, bot_confirmations.c.used_ts.is_(None))
                .values(used_ts=ts)
            )
            return done.rowcount == 1

    def void_confirmations(self, bot: str, ts: int, why: str) -> int:
        """End the bot's confirmations issued up to `ts`, saying `why`: none is redeemable
        after it, and none counts as an agreeing signal (used or expired ones too, while a
        confirmation window may still hold them); return how many."""
        c = bot_confirmations.c
        reach = ts - _LONGEST_WINDOW_MS
        with self.db.engine.begin() as conn:
            rows = conn.execute(
                select(c.id, c.doc, c.expires_ts).where(c.bot == bot, c.issued_ts >= reach)
            ).all()
            live = [r for r in rows if not dict(r.doc).get("voided")]
            for r in live:
                conn.execute(
                    update(bot_confirmations)
                    .where(c.id == r.id)
                    .values(doc={**dict(r.doc), "voided": why}, expires_ts=min(r.expires_ts, ts))
                )
        return len(live)

    # trades --------------------------------------------------------------------------------------
    def save_trade(
        self,
        trade_id: str,
        bot: str,
        symbol: str,
        status: str,
        client_order_id: str | None,
        doc: dict[str, Any],
        ts: int,
    ) -> None:
        """Insert or update one bot trade."""
        values = {"bot": bot, "symbol": symbol, "status": status,
                  "client_order_id": client_order_id, "doc": doc}  # fmt: skip
        with self.db.engine.begin() as conn:
            found = conn.execute(
                select(bot_trades.c.trade_id).where(bot_trades.c.trade_id == trade_id)
            ).first()
            if found is None:
                conn.execute(
                    bot_trades.insert(), {"trade_id": trade_id, "created_ts": ts, **values}
                )
            else:
                conn.execute(
                    update(bot_trades).where(bot_trades.c.trade_id == trade_id).values(**values)
                )

    def trade(self, trade_id: str) -> dict[str, Any] | None:
        """Return one bot trade, or None."""
        with self.db.engine.connect() as conn:
            r = conn.execute(select(bot_trades).where(bot_trades.c.trade_id == trade_id)).first()
        return _trade(r) if r is not None else None

    def trades_in(self, status: str) -> list[dict[str, Any]]:
        """Return every bot trade in `status`, oldest first (trades of one millisecond by id)."""
        stmt = select(bot_trades).where(bot_trades.c.status == status)
        with self.db.engine.connect() as conn:
            rows = conn.execute(stmt.order_by(bot_trades.c.created_ts, bot_trades.c.trade_id)).all()
        return [_trade(r) for r in rows]

    def trades(self, bot: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Return bot trades, newest first (trades of one millisecond by id, so a page never
        swaps them between two reads)."""
        stmt = select(bot_trades)
        if bot is not None:
            stmt = stmt.where(bot_trades.c.bot == bot)
        stmt = stmt.order_by(bot_trades.c.created_ts.desc(), bot_trades.c.trade_id.desc())
        stmt = stmt.limit(limit)
        with self.db.engine.connect() as conn:
            return [_trade(r) for r in conn.execute(stmt).all()]

    # idempotency keys ----------------------------------------------------------------------------
    def claim_key(
        self, key: str, prefix: str, trade_id: str, now: int, expires_ts: int
    ) -> str | None:
        """Claim `key` (a kv_state key starting with `prefix`) for `trade_id` until
        `expires_ts`; return None when this call claimed it, else the trade id of the claim
        that holds it (atomic in the database: of two callers racing, one claims it).

        The claim's updated_ts is its expiry: keys of `prefix` past it are forgotten first."""
        with self.db.engine.begin() as conn:
            conn.execute(
                delete(kv_state).where(
                    kv_state.c.key.startswith(prefix, autoescape=True),
                    kv_state.c.updated_ts <= now,
                )
            )
        try:
            with self.db.engine.begin() as conn:
                conn.execute(
                    kv_state.insert(),
                    {"key": key, "value": {"trade_id": trade_id}, "updated_ts": expires_ts},
                )
            return None
        except IntegrityError:
            with self.db.engine.connect() as conn:
                held = conn.execute(select(kv_state.c.value).where(kv_state.c.key == key)).first()
            if held is None:  # released between the insert and the read: claim it again
                return self.claim_key(key, prefix, trade_id, now, expires_ts)
            return str(dict(held[0])["trade_id"])

    def release_key(self, key: str, trade_id: str) -> None:
        """Forget `key` if `trade_id` holds it (a trade that sent nothing may be sent again)."""
        with self.db.engine.begin() as conn:
            found = conn.execute(select(kv_state.c.value).where(kv_state.c.key == key)).first()
            if found is not None and dict(found[0]).get("trade_id") == trade_id:
                conn.execute(delete(kv_state).where(kv_state.c.key == key))

    # exits -----------------------------------------------------------------------------------


class BotTradeRows:
    """Bot trades written with the node's other writes (a strategy trading as a bot: its trade
    row commits with its order's journal row) and read through them (an uncommitted one counts)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def save_trade(
        self, trade_id: str, bot: str, symbol: str, status: str, client_order_id: str | None,
        doc: dict[str, Any], ts: int,
    ) -> None:  # fmt: skip
        """Insert or update one bot trade."""
        values = {"bot": bot, "symbol": symbol, "status": status,
                  "client_order_id": client_order_id, "doc": doc}  # fmt: skip
        with self.storage.transaction():
            self.storage._write(delete(bot_trades).where(bot_trades.c.trade_id == trade_id))
            self.storage._write(
                bot_trades.insert().values(trade_id=trade_id, created_ts=ts, **values)
            )

    def of_order(self, bot: str, client_order_id: str, statuses: tuple[str, ...]) -> list[Any]:
        """Return the bot's trades of one order whose status is in `statuses`."""
        c = bot_trades.c
        stmt = select(bot_trades).where(
            c.bot == bot, c.client_order_id == client_order_id, c.status.in_(statuses)
        )
        return [_trade(r) for r in self.storage._read(stmt)]

    def last_trade_ts(
        self, bot: str, not_traded: tuple[str, ...], except_orders: tuple[str, ...] = ()
    ) -> int:
        """Return when the bot's newest trade whose status is not in `not_traded` and whose
        order is not one of `except_orders` was made (0: none)."""
        c = bot_trades.c
        stmt = select(func.max(c.created_ts)).where(c.bot == bot, c.status.not_in(not_traded))
        if except_orders:
            coid = c.client_order_id
            stmt = stmt.where(or_(coid.is_(None), coid.not_in(except_orders)))
        found = self.storage._read(stmt)
        return int(found[0][0] or 0) if found else 0


class ExitPlanRows:
    """The exit rules of bot positions, written with the node's other writes (its unit of work
    in a replay), so a plan's state commits together with the fills that moved it."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def save_exit(self, key: str, bot: str, doc: dict[str, Any], ts: int) -> None:
        """Insert or replace the exit rules of one position."""
        with self.storage.transaction():
            self.storage._write(delete(bot_exits).where(bot_exits.c.key == key))
            self.storage._write(bot_exits.insert().values(key=key, bot=bot, doc=doc, updated_ts=ts))

    def delete_exit(self, key: str) -> None:
        """Forget the exit rules of one position."""
        self.storage._write(delete(bot_exits).where(bot_exits.c.key == key))

    def exits(self) -> list[dict[str, Any]]:
        """Return every stored exit document."""
        rows = self.storage._read(select(bot_exits).order_by(bot_exits.c.key))
        return [dict(r.doc) for r in rows]


def _trade(r: Any) -> dict[str, Any]:
    return {
        **dict(r.doc),
        "trade_id": r.trade_id,
        "bot": r.bot,
        "symbol": r.symbol,
        "status": r.status,
        "client_order_id": r.client_order_id,
        "created_ts": r.created_ts,
    }
