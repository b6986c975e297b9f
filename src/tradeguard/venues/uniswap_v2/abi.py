"""The contract interfaces the venue calls: ERC20, pair, factory and Router02 (ABI fragments)."""

from __future__ import annotations

from typing import Any


def _fn(name: str, inputs: list[str], outputs: list[str], mutable: bool = False) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "inputs": [{"name": f"a{i}", "type": t} for i, t in enumerate(inputs)],
        "outputs": [{"name": f"r{i}", "type": t} for i, t in enumerate(outputs)],
        "stateMutability": "nonpayable" if mutable else "view",
    }


def _event(name: str, fields: list[tuple[str, str, bool]]) -> dict[str, Any]:
    return {
        "type": "event",
        "name": name,
        "anonymous": False,
        "inputs": [{"name": n, "type": t, "indexed": ix} for n, t, ix in fields],
    }


TRANSFER = _event(
    "Transfer", [("from", "address", True), ("to", "address", True), ("value", "uint256", False)]
)
SYNC = _event("Sync", [("reserve0", "uint112", False), ("reserve1", "uint112", False)])

ERC20 = [
    _fn("balanceOf", ["address"], ["uint256"]),
    _fn("allowance", ["address", "address"], ["uint256"]),
    _fn("decimals", [], ["uint8"]),
    _fn("totalSupply", [], ["uint256"]),
    _fn("approve", ["address", "uint256"], ["bool"], mutable=True),
    TRANSFER,
]
PAIR = [
    _fn("getReserves", [], ["uint112", "uint112", "uint32"]),
    _fn("token0", [], ["address"]),
    _fn("token1", [], ["address"]),
    SYNC,
]
FACTORY = [_fn("getPair", ["address", "address"], ["address"])]
_PATH_SWAP = ["uint256", "uint256", "address[]", "address", "uint256"]
ROUTER = [
    _fn("getAmountsOut", ["uint256", "address[]"], ["uint256[]"]),
    _fn("getAmountsIn", ["uint256", "address[]"], ["uint256[]"]),
    _fn("swapExactTokensForTokens", _PATH_SWAP, ["uint256[]"], mutable=True),
    _fn("swapTokensForExactTokens", _PATH_SWAP, ["uint256[]"], mutable=True),
]
MAX_UINT256 = 2**256 - 1
