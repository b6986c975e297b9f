"""Deploy WETH9, the Uniswap V2 factory and Router02, demo tokens with pools, and a demo wallet.

```python
chain = LocalChain()
deployment = deploy_demo(chain.w3)           # Deployment: addresses, pools, the demo key
deployment.write(Path("chain.json"))         # mode 0600: it holds the demo wallet's key
```

Every contract comes from the official npm packages' compiled artifacts (see `artifacts.py`).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.sandbox.chain.artifacts import load_artifact

# The pair init-code hash Router02 (UniswapV2Library.pairFor) has compiled in.
ROUTER_INIT_CODE_HASH = "96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f"
UNIT = 10**18
# Demo pools: (token, token, reserve of the first, reserve of the second), whole tokens.
DEMO_POOLS = (
    ("WETH", "USD", 1_000, 2_000_000),
    ("TKA", "USD", 500_000, 1_000_000),
)
DEMO_WALLET = {"ETH": 100, "WETH": 20, "USD": 100_000, "TKA": 50_000}


class DeploymentError(RuntimeError):
    """The contracts do not fit together (e.g. the pair init-code hash differs)."""


@dataclass(slots=True)
class Deployment:
    """What `tradeguard chain` writes: every address a venue config needs, and the demo key."""

    rpc_url: str
    chain_id: int
    weth: str
    factory: str
    router: str
    tokens: dict[str, str] = field(default_factory=dict)
    pairs: dict[str, str] = field(default_factory=dict)
    wallet_address: str = ""
    wallet_private_key: str = ""
    init_code_hash: str = ROUTER_INIT_CODE_HASH

    def write(self, path: Path) -> None:
        """Write the deployment as JSON readable by its owner only (it holds the demo key)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(self), fh, indent=2)
            fh.write("\n")
        os.chmod(path, 0o600)

    @classmethod
    def read(cls, path: Path) -> Deployment:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def pair_init_code_hash() -> str:
    """Return keccak256 of the factory's UniswapV2Pair creation code (hex, no 0x)."""
    from eth_utils import keccak

    code = load_artifact("UniswapV2Pair")["bytecode"]
    return bytes(keccak(hexstr=code)).hex()


def check_init_code_hash() -> str:
    """Check the pair code hashes to what Router02 embeds; return the hash or raise."""
    digest = pair_init_code_hash()
    router_code = load_artifact("UniswapV2Router02")["bytecode"].lower()
    if digest != ROUTER_INIT_CODE_HASH or digest not in router_code:
        raise DeploymentError(
            f"pair init-code hash {digest} is not the {ROUTER_INIT_CODE_HASH} Router02 "
            "computes pair addresses with; the artifacts do not belong together"
        )
    return digest


def _deploy(w3: Any, name: str, sender: str, *args: Any) -> Any:
    art = load_artifact(name)
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    tx = factory.constructor(*args).transact({"from": sender})
    address = w3.eth.get_transaction_receipt(tx)["contractAddress"]
    return w3.eth.contract(address=address, abi=art["abi"])


def deploy_demo(w3: Any, rpc_url: str = "", wallet_key: str | None = None) -> Deployment:
    """Deploy everything on `w3` (an unlocked, funded first account) and fund a demo wallet."""
    from eth_account import Account

    check_init_code_hash()
    owner = w3.eth.accounts[0]
    weth = _deploy(w3, "WETH9", owner)
    factory = _deploy(w3, "UniswapV2Factory", owner, owner)
    router = _deploy(w3, "UniswapV2Router02", owner, factory.address, weth.address)
    tokens = {"WETH": weth}
    for name in ("USD", "TKA"):
        tokens[name] = _deploy(w3, "ERC20", owner, 10**12 * UNIT)
    weth.functions.deposit().transact({"from": owner, "value": 2_000 * UNIT})
    pairs: dict[str, str] = {}
    for a, b, ra, rb in DEMO_POOLS:
        for tok, amount in ((tokens[a], ra), (tokens[b], rb)):
            tok.functions.approve(router.address, amount * UNIT).transact({"from": owner})
        router.functions.addLiquidity(
            tokens[a].address, tokens[b].address, ra * UNIT, rb * UNIT, 0, 0, owner, 2**63
        ).transact({"from": owner})
        pairs[f"{a}/{b}"] = factory.functions.getPair(tokens[a].address, tokens[b].address).call()
    wallet = Account.from_key(wallet_key or "0x" + secrets.token_hex(32))
    w3.eth.send_transaction(
        {"from": owner, "to": wallet.address, "value": DEMO_WALLET["ETH"] * UNIT}
    )
    for name, amount in DEMO_WALLET.items():
        if name != "ETH":
            tokens[name].functions.transfer(wallet.address, amount * UNIT).transact({"from": owner})
    return Deployment(
        rpc_url=rpc_url,
        chain_id=int(w3.eth.chain_id),
        weth=weth.address,
        factory=factory.address,
        router=router.address,
        tokens={k: v.address for k, v in tokens.items()},
        pairs=pairs,
        wallet_address=wallet.address,
        wallet_private_key="0x" + bytes(wallet.key).hex(),
    )


def demo_prices() -> dict[str, Decimal]:
    """Return the demo pools' starting mid prices (quote per base)."""
    return {f"{a}/{b}": Decimal(rb) / Decimal(ra) for a, b, ra, rb in DEMO_POOLS}
