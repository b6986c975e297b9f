"""What `tradeguard status` shows of the valuation: each holding's USD rate and the path that
gave it, the holdings no path values, why equity is provisional, and each reference price's age
(stale past `node.reference_price_max_age_s`), as of the last checkpoint.

```python
storage.kv_set(VALUATION_KEY, valuation_json(node, ts))
```

The same figures as the API's `risk.usd_valuation` (`portfolio/usd_equity.py`), read from the
portfolio at the checkpoint rather than at the last entry check, so a node that has not traded
yet shows them too.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from tradeguard.execution.held_halts import refusal
from tradeguard.portfolio.usd_equity import usd_equity

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode

log = logging.getLogger(__name__)

VALUATION_KEY = "run.valuation"


def valuation_json(node: TradingNode, ts: int) -> dict[str, Any]:
    """Each holding's USD rate and path, what none values, and why equity is provisional."""
    portfolio = node.portfolio
    out: dict[str, Any] = {"ts": ts, "valuation_asset": portfolio.valuation_asset}
    out.update(usd_equity(portfolio, node.risk.valuation.fixed_usd).view())
    out["provisional"] = portfolio.provisional()
    out["reference_prices"] = reference_ages(node)
    return out


def save_valuation(node: TradingNode) -> None:
    """Store the valuation now, for `tradeguard status`: what a node that writes no checkpoint
    (`tradeguard serve`) values its holdings at, reference prices' ages included."""
    refused = node.storage.refused_writes
    try:
        node.storage.kv_set(VALUATION_KEY, valuation_json(node, node.clock.now_ms()))
    except Exception as exc:  # a view for status: a busy database must not stop the server
        why = refusal(exc) if isinstance(exc, SQLAlchemyError) else str(exc)
        refused[VALUATION_KEY] = why  # until one is stored: the health check says so
        log.warning("the valuation for `tradeguard status` was not stored: %s", why)
        return
    refused.pop(VALUATION_KEY, None)


def reference_ages(node: TradingNode) -> dict[str, dict[str, Any]]:
    """Each reference price's market, price, age and stale flag (`ReferencePrices.ages`)."""
    refs = node._reference
    return refs.ages() if refs is not None else {}


__all__ = ["VALUATION_KEY", "reference_ages", "save_valuation", "valuation_json"]
