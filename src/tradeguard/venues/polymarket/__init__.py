"""Polymarket CLOB V2: order signing through the official client and the `polymarket` Venue."""

from tradeguard.model.recursion import kept_recursion_limit

with kept_recursion_limit():  # eth_account loads py_ecc, which raises it (see model.recursion)
    import eth_account  # noqa: F401  (loaded here, before any module of this package)
