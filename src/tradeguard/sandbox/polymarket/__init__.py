"""A local server speaking Polymarket's CLOB V2 on loopback."""

from tradeguard.model.recursion import kept_recursion_limit

with kept_recursion_limit():  # eth_account loads py_ecc, which raises it (see model.recursion)
    import eth_account  # noqa: F401  (loaded here, before any module of this package)
