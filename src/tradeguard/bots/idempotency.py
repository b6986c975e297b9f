"""An execute's idempotency key: the client's own, or one derived from the signal.

```python
key, given = signal_key({"bot_id": "alpha", "symbol": "BTC/USDT", "side": "buy", "score": "0.8"})
store_key("alpha", key)    # the kv_state key the claim is stored under
```

A key is claimed before any order is sent; an execute carrying a claimed key gets the first
trade's answer instead of a second order. A key the client gives is remembered for
`GIVEN_KEY_TTL_S`; one derived from the signal (same bot, symbol, side, score, signal document,
exits, and the bot's last trade of the other side on the symbol: a retry of the very same
request) for `DERIVED_KEY_TTL_S`, so the same signal sent again later, on purpose, trades again,
and the same close of the next position is not taken for a retry of the last one's.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

# kv_state key prefix of a claimed key (+ bot + "." + the key's sha256)
PREFIX = "bots.idempotency."
GIVEN_KEY_TTL_S = 86_400
DERIVED_KEY_TTL_S = 600
# what does not make a signal another one: its confirmation, and the key itself
_NOT_THE_SIGNAL = frozenset({"confirmation_id", "idempotency_key"})


def signal_key(doc: dict[str, Any], after: str | None = None) -> tuple[str, bool]:
    """Return (key, given): the body's `idempotency_key`, else one derived from the signal and
    `after`, the bot's last trade of the other side on the symbol (the same close of the next
    position, or the same entry after a close, is another trade)."""
    given = doc.get("idempotency_key")
    if isinstance(given, str) and given:
        return given, True
    fields = {k: v for k, v in doc.items() if k not in _NOT_THE_SIGNAL and v is not None}
    if after is not None:
        fields["after_trade"] = after
    if isinstance(fields.get("side"), str):
        fields["side"] = fields["side"].lower()  # "BUY" and "buy" are one signal
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return "sig:" + hashlib.sha256(text.encode()).hexdigest(), False


def store_key(bot: str, key: str) -> str:
    """Return the kv_state key a bot's idempotency key is claimed under (bounded length)."""
    return f"{PREFIX}{bot}.{hashlib.sha256(key.encode()).hexdigest()}"
