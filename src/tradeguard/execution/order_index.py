"""Every order of a run by client order id, with the orders that re-send each one.

```python
orders = OrderIndex()
orders[new.client_order_id] = new     # new.signal["replaces"] = old id: indexed
orders.re_sends(old_id)               # -> (new.client_order_id,)
```

A re-send (an order timeout's `replace_on_timeout`, an exit placed again) names the order it
replaces in its signal; asking which orders re-send one is a lookup, not a scan of the run's
orders, whose count only grows.
"""

from __future__ import annotations

from tradeguard.model.order import Order


class OrderIndex(dict[str, Order]):
    """A dict of orders by client order id that indexes them by the order they replace."""

    def __init__(self) -> None:
        super().__init__()
        self._re_sends: dict[str, tuple[str, ...]] = {}

    def __setitem__(self, client_order_id: str, order: Order) -> None:
        super().__setitem__(client_order_id, order)
        old = order.signal.get("replaces")
        if isinstance(old, str) and old:
            known = self._re_sends.get(old, ())
            if client_order_id not in known:
                self._re_sends[old] = (*known, client_order_id)

    def re_sends(self, client_order_id: str) -> tuple[str, ...]:
        """Return the client order ids of the orders that name `client_order_id` as replaced."""
        return self._re_sends.get(client_order_id, ())
