"""Build a `kind = "uniswap_v2"` venue from its config, the wallet key read from the vault."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tradeguard.model.errors import ConfigError
from tradeguard.venues.uniswap_v2.txstore import TxStore
from tradeguard.venues.uniswap_v2.venue import UniswapV2Venue


def build_uniswap_venue(
    vc: Any,
    store: TxStore,
    base_dir: Path | None = None,
    *,
    credentials: Any = None,
    environ: Mapping[str, str] | None = None,
) -> UniswapV2Venue:
    """Return the venue; its vault entry (`credentials`) must hold the field `private_key`."""
    if vc.dex is None:
        raise ConfigError(f"venue {vc.name}: kind uniswap_v2 needs a [venues.dex] table")
    if credentials is None:
        if not vc.credentials:
            raise ConfigError(
                f"venue {vc.name}: credentials is not set; the wallet key lives in the vault "
                "(tradeguard keys add NAME --venue uniswap_v2 --field private_key)"
            )
        from tradeguard.secrets.vault import Vault, default_vault_path, read_passphrase

        env = dict(os.environ if environ is None else environ)
        vault = Vault(default_vault_path(env))
        if not vault.exists:
            raise ConfigError(
                f"venue {vc.name}: credentials={vc.credentials!r} but the vault "
                f"{vault.path} does not exist (set TG_VAULT_PATH or run `tradeguard keys add`)"
            )
        vault.unlock(read_passphrase(env))
        credentials = vault.get(vc.credentials)
        vault.lock()
    settings = vc.dex.settings(list(vc.symbols), base_dir)
    return UniswapV2Venue(vc.name, settings, store, credentials.field("private_key"))
