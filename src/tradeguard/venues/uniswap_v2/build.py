"""Build a `kind = "uniswap_v2"` venue from its config and the wallet key the node hands in."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tradeguard.model.errors import ConfigError
from tradeguard.venues.uniswap_v2.txstore import TxStore
from tradeguard.venues.uniswap_v2.venue import UniswapV2Venue


def wallet_address(private_key: str) -> str:
    """The address of a wallet key (public; the key itself is never shown)."""
    from tradeguard.model.recursion import kept_recursion_limit

    with kept_recursion_limit():  # eth_account loads py_ecc, which raises it
        from eth_account import Account

    try:
        return str(Account.from_key(private_key).address)
    except Exception:
        raise ConfigError(
            "the vault entry's private_key is not a valid wallet key (32 bytes, hex)"
        ) from None


def build_uniswap_venue(
    vc: Any,
    store: TxStore,
    base_dir: Path | None = None,
    *,
    credentials: Any = None,
    live: bool = False,
) -> UniswapV2Venue:
    """Return the venue; the node hands in its vault entry, which must hold `private_key`.

    Live, the wallet's address is printed under the live banner (stderr) before trading."""
    if vc.dex is None:
        raise ConfigError(f"venue {vc.name}: kind uniswap_v2 needs a [venues.dex] table")
    if credentials is None:
        raise ConfigError(
            f"venue {vc.name}: credentials is not set; the wallet key lives in the vault "
            "(tradeguard keys add NAME --venue uniswap_v2 --field private_key)"
        )
    settings = vc.dex.settings(list(vc.symbols), base_dir)
    key = credentials.field("private_key")
    try:  # in every mode: a key no wallet has would fail at connect, in web3's words
        address = wallet_address(key)
    except ConfigError as exc:
        raise ConfigError(f"venue {vc.name}: {exc}") from None
    if live:
        print(f"  {vc.name} wallet address:  {address}", file=sys.stderr, flush=True)
    return UniswapV2Venue(vc.name, settings, store, key)
