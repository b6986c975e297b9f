"""Build a `kind = "uniswap_v2"` venue from its config and the wallet key the node hands in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tradeguard.model.errors import ConfigError
from tradeguard.venues.uniswap_v2.txstore import TxStore
from tradeguard.venues.uniswap_v2.venue import UniswapV2Venue


def build_uniswap_venue(
    vc: Any, store: TxStore, base_dir: Path | None = None, *, credentials: Any = None
) -> UniswapV2Venue:
    """Return the venue; the node hands in its vault entry, which must hold `private_key`."""
    if vc.dex is None:
        raise ConfigError(f"venue {vc.name}: kind uniswap_v2 needs a [venues.dex] table")
    if credentials is None:
        raise ConfigError(
            f"venue {vc.name}: credentials is not set; the wallet key lives in the vault "
            "(tradeguard keys add NAME --venue uniswap_v2 --field private_key)"
        )
    settings = vc.dex.settings(list(vc.symbols), base_dir)
    return UniswapV2Venue(vc.name, settings, store, credentials.field("private_key"))
