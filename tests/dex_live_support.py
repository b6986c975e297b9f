"""A live-mode DEX setup against `tradeguard chain`: explicit addresses, chain id and caps, and
an RPC URL carrying a provider key in its path and query, as hosted providers take it."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

from dex_node_support import CONFIG, PASSPHRASE, DexSetup, cli

# What a hosted provider's URL hides: neither may reach logs, the database, status or the API.
PATH_KEY = "pathkey" + secrets.token_hex(8)
QUERY_KEY = "querykey" + secrets.token_hex(8)

# The sandbox node's config, made live: explicit contracts, chain id and a provider-style URL
# instead of the local chain's deployment file.
LIVE_CONFIG = CONFIG.replace('mode = "sandbox"', 'mode = "live"').replace(
    'deployment_file = "{deployment}"\n',
    'rpc_url = "{rpc}/v3/{path_key}?apikey={query_key}"\n'
    "chain_id = {chain_id}\n"
    'router = "{router}"\n'
    'factory = "{factory}"\n'
    'tokens = {{ WETH = "{weth}", USD = "{usd}", TKA = "{tka}" }}\n',
)


def live_config_text(root: Path, deployment: dict[str, Any], **changes: Any) -> str:
    """The live config for `deployment`; `changes` override its fields (chain_id=...)."""
    tokens = deployment["tokens"]
    fields = {
        "db": root / "node.db", "rpc": deployment["rpc_url"], "path_key": PATH_KEY,
        "query_key": QUERY_KEY, "chain_id": deployment["chain_id"],
        "router": deployment["router"], "factory": deployment["factory"],
        "weth": tokens["WETH"], "usd": tokens["USD"], "tka": tokens["TKA"], **changes,
    }  # fmt: skip
    return LIVE_CONFIG.format(**fields)


def live_dex_setup(root: Path, deployment: dict[str, Any]) -> DexSetup:
    """The demo key in a fresh vault, the live config, a trader token; confirmed live."""
    env = {
        **os.environ,
        "TG_VAULT_PATH": str(root / "vault.json"),
        "TG_MASTER_PASSPHRASE": PASSPHRASE,
        "TG_CONFIRM_LIVE": "yes",
    }
    for name in [n for n in env if n.startswith("TRADEGUARD_DEX_PAUSE")]:
        env.pop(name)
    key = json.dumps({"private_key": deployment["wallet_private_key"]})
    cli("keys", "add", "dex-demo", "--venue", "uniswap_v2", "--stdin", env=env, stdin=key)
    config = root / "dex-live.toml"
    config.write_text(live_config_text(root, deployment), encoding="utf-8")
    setup = DexSetup(root, deployment, env, config)
    out = cli("token", "create", "--config", str(config), "--name", "t", "--role", "trader",
              "--json", env=env)  # fmt: skip
    setup.token = json.loads(out)["token"]
    return setup


def run_exit(config: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    """`tradeguard run --config FILE` to its end (a refusal), with its exit code and output."""
    return subprocess.run(
        [sys.executable, "-m", "tradeguard.cli", "run", "--config", str(config), *extra],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
