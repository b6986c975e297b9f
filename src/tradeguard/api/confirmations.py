"""One-time confirmation codes for destructive API actions (the paper-account reset)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

PAPER_RESET = "api.paper_reset"
CONFIRM_TTL_S = 120.0


@dataclass
class Confirmations:
    """One-time confirmation tokens for destructive actions, bound to the token that asked."""

    ttl_s: float = CONFIRM_TTL_S
    _pending: dict[str, tuple[str, str, float]] = field(default_factory=dict)

    def issue(self, action: str, token_id: str) -> str:
        """Return a new one-time code for `action`, valid for `ttl_s` and only for `token_id`."""
        now = time.monotonic()
        self._pending = {k: v for k, v in self._pending.items() if v[2] > now}
        code = secrets.token_urlsafe(16)
        self._pending[code] = (action, token_id, now + self.ttl_s)
        return code

    def redeem(self, code: str, action: str, token_id: str) -> bool:
        """Consume `code`; True only if it was issued for this action and token and is fresh."""
        entry = self._pending.pop(code, None)
        if entry is None:
            return False
        return entry[0] == action and entry[1] == token_id and entry[2] > time.monotonic()
