"""A whole DEX setup in subprocesses: `tradeguard chain`, the vault, a token, `tradeguard run`."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import eventually

PASSPHRASE = "dex node test passphrase " + secrets.token_hex(4)


_API_URL = re.compile(r"API and dashboard on http://127\.0\.0\.1:(\d+)")


def cli(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tradeguard.cli", *args],
        input=stdin, capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@dataclass
class DexSetup:
    """The chain's deployment, a vault with its demo key, a config and a trader token."""

    root: Path
    deployment: dict[str, Any]
    env: dict[str, str]
    config: Path
    port: int = 0  # the running node's API port: it binds port 0 and says which it got
    token: str = ""
    nodes: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def db_path(self) -> Path:
        return self.root / "node.db"

    def start_node(self, extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        path = self.root / f"node-{len(self.nodes)}.log"
        log = open(path, "w")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "tradeguard.cli", "run", "--config", str(self.config)],
            stdout=log, stderr=subprocess.STDOUT, text=True, env={**self.env, **(extra_env or {})},
        )  # fmt: skip
        self.nodes.append(proc)
        # A port picked free here and bound later by the node could be taken in between.
        eventually(lambda: self.api_announced(proc, path), timeout_s=120, interval_s=0.2)
        eventually(lambda: self.api_up(proc), timeout_s=120, interval_s=0.2)
        return proc

    def api_announced(self, proc: subprocess.Popen[str], log: Path) -> bool:
        assert proc.poll() is None, self.node_log()
        found = _API_URL.search(log.read_text())
        if found is not None:
            self.port = int(found.group(1))
        return found is not None

    def api_up(self, proc: subprocess.Popen[str]) -> bool:
        assert proc.poll() is None, self.node_log()
        try:
            self.get("/api/v1/mode")
        except (OSError, urllib.error.URLError):
            return False
        return True

    def node_log(self) -> str:
        return "".join(p.read_text() for p in sorted(self.root.glob("node-*.log")))

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def order(self, side: str, amount: str, symbol: str = "WETH/USD") -> Any:
        body = {"venue": "dex", "symbol": symbol, "side": side, "amount": amount}
        return self.request("POST", "/api/v1/orders", body)

    def stop_nodes(self) -> None:
        for proc in self.nodes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=30)

    def token_balance(self, symbol: str) -> int:
        from web3 import HTTPProvider, Web3

        from tradeguard.venues.uniswap_v2 import abi

        w3 = Web3(HTTPProvider(self.deployment["rpc_url"]))
        d = self.deployment
        token = w3.eth.contract(address=d["tokens"][symbol], abi=abi.ERC20)
        return int(token.functions.balanceOf(d["wallet_address"]).call())


CONFIG = """mode = "sandbox"

[node]
database_url = "sqlite:///{db}"
valuation_asset = "USD"
reconcile_interval_s = 2

[api]
enabled = true
port = 0

[risk]
max_order_notional_usd = 5000

[[venues]]
name = "dex"
kind = "uniswap_v2"
credentials = "dex-demo"
symbols = ["WETH/USD", "TKA/USD"]

[venues.dex]
deployment_file = "{deployment}"
slippage_bps = 50
max_fee_per_gas_gwei = "100"
max_tx_value = "10000"
quote_poll_s = 0.2
"""


def running_chain_process(root: Path) -> Iterator[dict[str, Any]]:
    out = root / "chain.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradeguard.cli", "chain", "--port", "0",
         "--deployment-file", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        eventually(lambda: out.is_file() and out.stat().st_size > 0, timeout_s=120)
        yield json.loads(out.read_text())
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def dex_setup(root: Path, deployment: dict[str, Any]) -> DexSetup:
    """Put the demo key in a fresh vault (through the CLI), write a config, create a token."""
    env = {
        **os.environ,
        "TG_VAULT_PATH": str(root / "vault.json"),
        "TG_MASTER_PASSPHRASE": PASSPHRASE,
    }
    env.pop("TRADEGUARD_DEX_PAUSE_AFTER_BROADCAST", None)
    key = json.dumps({"private_key": deployment["wallet_private_key"]})
    cli("keys", "add", "dex-demo", "--venue", "uniswap_v2", "--stdin", env=env, stdin=key)
    config = root / "dex.toml"
    config.write_text(
        CONFIG.format(db=root / "node.db", deployment=root / "chain.json"), encoding="utf-8"
    )
    setup = DexSetup(root, deployment, env, config)
    out = cli("token", "create", "--config", str(config), "--name", "t", "--role", "trader",
              "--json", env=env)  # fmt: skip
    setup.token = json.loads(out)["token"]
    return setup
