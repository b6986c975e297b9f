"""A dex `rpc_url` (in the config or a deployment file) is held to the same URL check as every
other URL of the config: no space, no control or format character, no port 0. Such a URL passed
the dex check and failed later, at connect, in web3's or aiohttp's words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from tradeguard.model.errors import ConfigError
from tradeguard.venues.uniswap_v2.config import DexVenueConfig

BAD = [
    "http://127.0.0.1:0/v3/PROVIDERKEY",  # port 0: nothing listens there
    "http://127.0.0.1:8545/v3/PROVIDER KEY",  # a space
    "http://127.0.0.1:8545/v3/\u202ePROVIDERKEY",  # a right-to-left override
    "http://127.0.0.1:8545/v3/\x07PROVIDERKEY",  # a control character
    "http://127.0.0.1:8545/v3/PROVIDERKEY\n",  # a line break at the end
]
ADDRESSES = {"router": "0x" + "11" * 20, "factory": "0x" + "22" * 20}


@pytest.mark.parametrize("url", BAD)
def test_a_config_rpc_url_the_shared_check_refuses_is_refused(url: str) -> None:
    with pytest.raises(ValidationError) as exc:
        DexVenueConfig(rpc_url=url, **ADDRESSES)
    (error,) = exc.value.errors()  # the config loader shows loc and msg, never the input
    assert error["loc"] == ("rpc_url",), error
    assert "http:// or https:// URL" in error["msg"] and "PROVIDER" not in error["msg"], error


@pytest.mark.parametrize("url", BAD)
def test_a_deployment_file_rpc_url_the_shared_check_refuses_is_refused(
    url: str, tmp_path: Path
) -> None:
    path = tmp_path / "tradeguard-chain.json"
    doc = {"rpc_url": url, **ADDRESSES, "tokens": {"WETH": "0x" + "33" * 20}}
    path.write_text(json.dumps(doc))
    dex = DexVenueConfig(deployment_file=str(path))
    with pytest.raises(ConfigError) as exc:
        dex.settings(["WETH/USD"], tmp_path)
    message = str(exc.value)
    assert "rpc_url" in message and str(path) in message, message
    assert "PROVIDER" not in message


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8545", "https://[::1]:8545/v3/KEY", "http://node.example.org/x"]
)
def test_a_well_formed_rpc_url_is_taken(url: str) -> None:
    assert DexVenueConfig(rpc_url=url, **ADDRESSES).rpc_url == url
