"""`mode = "live"` with a uniswap_v2 venue: refused, exit 2 with one message naming the field,
its value and the limit, unless every safeguard is set; the banner names chain, router and caps
and shows the RPC endpoint by its host only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tradeguard.config import Config
from tradeguard.model import ConfigError
from tradeguard.venues.modes import check_mode, live_banner
from tradeguard.venues.uniswap_v2.config import shown_url
from tradeguard.venues.uniswap_v2.rpc import scrub_urls

KEY = "k3y" + "9" * 20  # stands for a provider's API key in the RPC URL's path
DEX = {
    "rpc_url": f"https://eth.example.org/v3/{KEY}?apikey={KEY}",
    "chain_id": 1,
    "router": "0x" + "1" * 40,
    "factory": "0x" + "2" * 40,
    "tokens": {"WETH": "0x" + "3" * 40, "USDC": "0x" + "4" * 40},
    "token_decimals": {"USDC": 6},
    "max_tx_value": "500",
    "max_fee_per_gas_gwei": "40",
}
VENUE = {"name": "dex", "kind": "uniswap_v2", "credentials": "wallet", "symbols": ["WETH/USDC"]}


def _config(venue: dict[str, Any] | None = None, **dex: Any) -> Config:
    table = {k: v for k, v in {**DEX, **dex}.items() if v is not None}
    vc = {**VENUE, **(venue or {}), "dex": table}
    return Config.model_validate({"mode": "live", "venues": [vc], "strategies": [], "data": []})


def test_live_takes_a_dex_venue_with_every_safeguard() -> None:
    check_mode(_config(), confirm_live=True, environ={})
    check_mode(_config(), confirm_live=False, environ={"TG_CONFIRM_LIVE": "yes"})


REFUSALS = [
    ({"chain_id": None}, "venues.dex.chain_id is unset; live needs the chain id the RPC must "
     "answer at start (eth_chainId, an integer >= 1"),
    ({"rpc_url": None}, "venues.dex.rpc_url is unset (the default http://127.0.0.1:8545 is a "
     "local chain's)"),
    ({"max_tx_value": None}, "venues.dex.max_tx_value=0 (no cap); live needs a per-transaction "
     "cap > 0"),
    ({"max_tx_value": "0"}, "venues.dex.max_tx_value=0 (no cap)"),
    ({"max_fee_per_gas_gwei": None}, "venues.dex.max_fee_per_gas_gwei is unset (default 50); "
     "live needs it written (0 < cap <= 10000 gwei)"),
    ({"tokens": {"WETH": "0x" + "3" * 40}}, "venues.dex.tokens has no address for ['USDC'] "
     "(tokens of symbols ['WETH/USDC'])"),
    ({"deployment_file": "chain.json"}, "venues.dex.deployment_file='chain.json' is a local "
     "chain's; live takes rpc_url, router, factory and tokens written in the config"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "message"), REFUSALS)
def test_live_refuses_a_dex_venue_missing_a_safeguard(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_mode(_config(**change), confirm_live=True, environ={})
    text = str(info.value)
    assert text.startswith('refusing to start in mode = "live":\n'), text
    assert f"venue 'dex': {message}" in text
    assert len(text.splitlines()) == 2, text  # that one problem, nothing else
    assert KEY not in text


def test_live_refuses_a_dex_venue_without_the_wallet_key_from_the_vault() -> None:
    with pytest.raises(
        ConfigError,
        match=r"venue 'dex' has no credentials; the wallet key must "
        r"come from the vault: set credentials to an entry holding private_key",
    ):
        check_mode(_config({"credentials": None}), confirm_live=True, environ={})  # fmt: skip


def test_live_refuses_a_dex_venue_without_confirmation_or_with_an_unset_risk_limit() -> None:
    with pytest.raises(ConfigError, match="--confirm-live or set TG_CONFIRM_LIVE=yes"):
        check_mode(_config(), confirm_live=False, environ={})
    config = _config()
    config.risk.max_trades_per_day = None
    with pytest.raises(
        ConfigError,
        match=r"risk limits are unset \(unlimited\): "
        r"risk.max_trades_per_day; give each a value",
    ):
        check_mode(config, confirm_live=True, environ={})  # fmt: skip


def test_the_live_banner_names_chain_router_and_caps_and_the_rpc_host_only() -> None:
    banner = live_banner(_config())
    assert "dex (uniswap_v2)" in banner
    assert "dex chain id:        1 via https://eth.example.org" in banner
    assert f"dex router:          0x{'1' * 40}" in banner
    assert "max_tx_value 500 per swap, max_fee_per_gas 40 gwei, slippage 50 bps" in banner
    assert "key from vault entry 'wallet'" in banner
    assert KEY not in banner and "/v3/" not in banner


def test_an_rpc_url_is_shown_by_scheme_host_and_port_only() -> None:
    assert shown_url(f"https://user:pw@eth.example.org:8443/v3/{KEY}?a=1#f") == (
        "https://eth.example.org:8443"
    )
    assert shown_url("http://[::1]:8545/x") == "http://[::1]:8545"
    text = f"500, message='Bad Gateway', url='https://eth.example.org/v3/{KEY}?apikey={KEY}'"
    assert scrub_urls(text) == "500, message='Bad Gateway', url='https://eth.example.org/…'"


def _run(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tradeguard.cli", "run", "--config", str(config)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


CLI_CASES = [
    ("chain_id = 1\n", "venues.dex.chain_id is unset"),
    ('max_tx_value = "500"\n', "venues.dex.max_tx_value=0 (no cap)"),
    ('max_fee_per_gas_gwei = "40"\n', "venues.dex.max_fee_per_gas_gwei is unset"),
]


@pytest.mark.parametrize(("dropped", "message"), CLI_CASES)
def test_tradeguard_run_refuses_live_dex_with_exit_2_and_one_message(
    tmp_path: Path, dropped: str, message: str
) -> None:
    lines = [f"{k} = {v!r}\n".replace("'", '"') for k, v in DEX.items() if k != "tokens"]
    tokens = ", ".join(f'{s} = "{a}"' for s, a in DEX["tokens"].items())  # type: ignore[attr-defined]
    table = "".join(line for line in lines if line != dropped).replace(
        'token_decimals = {"USDC": 6}', "token_decimals = { USDC = 6 }"
    )
    config = tmp_path / "live.toml"
    config.write_text(
        f'mode = "live"\n[node]\ndatabase_url = "sqlite:///{tmp_path}/n.db"\n'
        '[[venues]]\nname = "dex"\nkind = "uniswap_v2"\ncredentials = "wallet"\n'
        f'symbols = ["WETH/USDC"]\n[venues.dex]\n{table}tokens = {{ {tokens} }}\n',
        encoding="utf-8",
    )
    env = {**os.environ, "TG_CONFIRM_LIVE": "yes", "TG_VAULT_PATH": str(tmp_path / "none")}
    done = _run(config, env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"venue 'dex': {message}" in done.stderr
    assert "Traceback" not in done.stderr and KEY not in done.stdout + done.stderr


async def test_an_rpc_error_names_the_endpoint_by_its_host_only() -> None:
    """A provider answering 502 (aiohttp puts the whole URL in its error) reaches the venue as
    RpcUnreachable with the path and query cut."""
    from aiohttp import web

    from tradeguard.venues.uniswap_v2.rpc import ChainClient, RpcUnreachable

    async def bad_gateway(request: web.Request) -> web.Response:
        return web.Response(status=502, text="upstream down")

    app = web.Application()
    app.router.add_post("/{path:.*}", bad_gateway)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    chain = ChainClient(f"http://127.0.0.1:{port}/v3/{KEY}?apikey={KEY}", timeout_s=5)
    try:
        with pytest.raises(RpcUnreachable) as info:
            await chain.chain_id()
    finally:
        await chain.close()
        await runner.cleanup()
    text = str(info.value)
    assert "502" in text and f"http://127.0.0.1:{port}/…" in text, text
    assert KEY not in text and KEY not in repr(info.value) and KEY not in str(chain.w3.provider)


@pytest.mark.parametrize(
    "url", [f"127.0.0.1:9/v3/{KEY}", f"localhost/v3/{KEY}", f"unix:/tmp/{KEY}"]
)
async def test_an_rpc_url_without_an_http_scheme_never_reaches_an_error_message(url: str) -> None:
    """aiohttp names a URL it cannot use verbatim ('127.0.0.1:9/v3/KEY' has no '://' to cut
    at): the endpoint the client was given is hidden from its errors and its name all the same."""
    from tradeguard.venues.uniswap_v2.rpc import ChainClient, RpcUnreachable

    chain = ChainClient(url, timeout_s=5)
    try:
        with pytest.raises(RpcUnreachable) as info:
            await chain.chain_id()
    finally:
        await chain.close()
    assert KEY not in str(info.value) and KEY not in str(chain.w3.provider), str(info.value)


@pytest.mark.parametrize(
    "url",
    [f"127.0.0.1:8545/v3/{KEY}", f"eth.example.org/v3/{KEY}", f"ftp://eth.example.org/{KEY}",
     f"unix:/tmp/{KEY}", f"http://eth.example.org:85x45/{KEY}", "https:///v3/" + KEY],
)  # fmt: skip
def test_a_dex_rpc_url_must_be_http_with_a_host_and_is_never_echoed(
    tmp_path: Path, url: str
) -> None:
    from tradeguard.config import load_config

    config = tmp_path / "dex.toml"
    config.write_text(
        '[[venues]]\nname = "dex"\nkind = "uniswap_v2"\nsymbols = ["WETH/USDC"]\n'
        f'[venues.dex]\nrpc_url = "{url}"\nrouter = "{DEX["router"]}"\n'
        f'factory = "{DEX["factory"]}"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(config, environ={})
    text = str(info.value)
    assert "venues.0.dex.rpc_url = '(hidden)'" in text, text
    assert "http:// or https:// URL with a host, a port of 1-65535" in text, text
    assert KEY not in text


@pytest.mark.parametrize("value", [True, False])
def test_a_dex_chain_id_given_as_a_boolean_is_refused_not_read_as_chain_1(value: bool) -> None:
    """TOML `chain_id = true` is not a chain id: pydantic would take it as 1 (Ethereum)."""
    with pytest.raises(ValueError, match="chain_id"):
        _config(chain_id=value)


@pytest.mark.parametrize("address", ["junk", "0x123", "0x" + "g" * 40, ""])
def test_a_dex_token_address_must_be_20_bytes_of_hex(tmp_path: Path, address: str) -> None:
    """A token's address is checked with the config, as router and factory are, not first met
    as web3's ValueError at connect."""
    from tradeguard.config import load_config

    config = tmp_path / "dex.toml"
    config.write_text(
        '[[venues]]\nname = "dex"\nkind = "uniswap_v2"\nsymbols = ["WETH/USDC"]\n'
        f'[venues.dex]\nrouter = "{DEX["router"]}"\nfactory = "{DEX["factory"]}"\n'
        f'tokens = {{ WETH = "{address}", USDC = "{DEX["tokens"]["USDC"]}" }}\n',  # type: ignore[index]
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(config, environ={})
    text = str(info.value)
    assert f"venues.0.dex.tokens.WETH = {address!r}" in text, text
    assert "an address (0x and 40 hex digits)" in text, text


def test_the_live_banner_says_whether_the_router_gets_unlimited_approvals() -> None:
    """approve_unlimited lets the router move every token held, whatever max_tx_value says:
    the banner shown before real money moves names it."""
    assert "dex approvals:       exact, each swap's amount only" in live_banner(_config())
    banner = live_banner(_config(approve_unlimited=True))
    assert "dex approvals:       UNLIMITED (approve_unlimited = true)" in banner
