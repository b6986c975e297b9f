"""A `deployment_file` that is damaged (empty, not an object, a field missing or of the wrong
kind) stops the node in one line naming the file and the field, never a traceback; the file
holds the demo wallet's key, which no message shows."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tradeguard.cli import main
from tradeguard.model.errors import ConfigError
from tradeguard.secrets import ScryptParams, Vault
from tradeguard.venues.uniswap_v2.config import DexVenueConfig

KEY = "0x" + "5a" * 32
GOOD = {
    "rpc_url": "http://127.0.0.1:8545",
    "chain_id": 1337,
    "router": "0x" + "11" * 20,
    "factory": "0x" + "22" * 20,
    "weth": "0x" + "33" * 20,
    "tokens": {"WETH": "0x" + "33" * 20, "USD": "0x" + "44" * 20},
    "wallet_private_key": KEY,
}
DAMAGED = [
    ("empty", "", "is not JSON"),
    ("a list", "[1]", "is not a JSON object"),
    ("router left out", json.dumps({**GOOD, "router": None}), "router"),
    ("no factory", json.dumps({k: v for k, v in GOOD.items() if k != "factory"}), "factory"),
    ("tokens text", json.dumps({**GOOD, "tokens": "WETH"}), "tokens"),
    ("rpc_url a number", json.dumps({**GOOD, "rpc_url": 5}), "rpc_url"),
    ("rpc_url an open IPv6 host", json.dumps({**GOOD, "rpc_url": "http://[::1/v3"}), "rpc_url"),
    ("a token address a list", json.dumps({**GOOD, "tokens": {"WETH": [KEY]}}), "tokens.WETH"),
]


@pytest.mark.parametrize("case", range(len(DAMAGED)))
def test_a_damaged_deployment_file_is_a_config_error_naming_file_and_field(
    case: int, tmp_path: Path
) -> None:
    # Before: JSONDecodeError, KeyError or TypeError escaped from the venue's build.
    label, text, field = DAMAGED[case]
    path = tmp_path / "tradeguard-chain.json"
    path.write_text(text)
    dex = DexVenueConfig(deployment_file=str(path))
    with pytest.raises(ConfigError) as exc:
        dex.settings(["WETH/USD"], tmp_path)
    message = str(exc.value)
    assert str(path) in message and field in message, (label, message)
    assert "tradeguard chain" in message, (label, message)
    assert KEY not in message and KEY[2:] not in message, label


def test_the_node_stops_in_one_line_on_a_damaged_deployment_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    vault_path = tmp_path / "vault.json"
    vault = Vault(vault_path, kdf=ScryptParams(n=2**17))
    vault.create("correct horse battery staple")
    vault.add("dex-demo", "uniswap_v2", {"private_key": KEY})
    os.chmod(vault_path, 0o600)
    (tmp_path / "tradeguard-chain.json").write_text(json.dumps({"rpc_url": GOOD["rpc_url"]}))
    config = tmp_path / "dex.toml"
    config.write_text(
        'mode = "sandbox"\n[node]\ndatabase_url = "sqlite:///'
        + str(tmp_path / "dex.db")
        + '"\nvaluation_asset = "USD"\n[risk]\nmax_order_notional_usd = 5000\n'
        '[[venues]]\nname = "dex"\nkind = "uniswap_v2"\ncredentials = "dex-demo"\n'
        'symbols = ["WETH/USD"]\n[venues.dex]\ndeployment_file = "tradeguard-chain.json"\n'
    )
    monkeypatch.setenv("TG_MASTER_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("TG_VAULT_PATH", str(vault_path))
    monkeypatch.chdir(tmp_path)
    code = main(["run", "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "KeyError" not in err, err
    assert "router" in err and "tradeguard-chain.json" in err, err
    assert KEY[2:] not in err
