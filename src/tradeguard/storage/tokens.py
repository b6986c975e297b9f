"""API token rows: stored by hash, never the token itself.

```python
repo = TokenRows(db)
repo.insert(TokenRow("tok_1", "phone", "trader", sha256_hex, created_ts=0))
repo.by_hash(sha256_hex)   # -> TokenRow, or None
```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from tradeguard.storage.db import Database
from tradeguard.storage.tables import api_tokens


@dataclass(frozen=True, slots=True)
class TokenRow:
    """One row of `api_tokens`: the role as its label, the token as its SHA-256 hex digest."""

    id: str
    name: str
    role: str
    token_hash: str
    created_ts: int
    last_used_ts: int | None = None
    revoked: bool = False
    bot_id: str | None = None


def _row(m: Any) -> TokenRow:
    return TokenRow(
        id=m["id"],
        name=m["name"],
        role=m["role"],
        token_hash=m["token_hash"],
        created_ts=m["created_ts"],
        last_used_ts=m["last_used_ts"],
        revoked=bool(m["revoked"]),
        bot_id=m["bot_id"],
    )


class TokenRows:
    """Read and write the `api_tokens` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def insert(self, row: TokenRow) -> None:
        """Store a new token row."""
        with self.db.engine.begin() as conn:
            conn.execute(
                api_tokens.insert(),
                {
                    "id": row.id,
                    "name": row.name,
                    "role": row.role,
                    "token_hash": row.token_hash,
                    "created_ts": row.created_ts,
                    "last_used_ts": row.last_used_ts,
                    "revoked": row.revoked,
                    "bot_id": row.bot_id,
                },
            )

    def all(self) -> list[TokenRow]:
        """Return every row, oldest first."""
        with self.db.engine.connect() as conn:
            rows = conn.execute(select(api_tokens).order_by(api_tokens.c.created_ts)).all()
        return [_row(r._mapping) for r in rows]

    def by_hash(self, token_hash: str) -> TokenRow | None:
        """Return the row holding this token hash, or None."""
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                select(api_tokens).where(api_tokens.c.token_hash == token_hash)
            ).all()
        return _row(rows[0]._mapping) if rows else None

    def revoke(self, token_id: str) -> None:
        """Mark the token revoked."""
        with self.db.engine.begin() as conn:
            conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked=True))

    def touch(self, token_id: str, ts: int) -> None:
        """Record when the token was last used."""
        with self.db.engine.begin() as conn:
            conn.execute(
                update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_ts=ts)
            )
