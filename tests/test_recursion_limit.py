"""Loading the Ethereum signing and RPC code keeps the recursion limit.

py_ecc raises it to 100,000 when it loads; with that limit 64 KiB of `[` (an API body at its
cap) overflowed the C stack in json.loads and killed the process instead of raising. Each check
runs in a fresh interpreter, since a module loads once.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

_MODULES = [
    "tradeguard.venues.polymarket.signing",
    "tradeguard.venues.polymarket.venue",
    "tradeguard.sandbox.polymarket.auth",
    "tradeguard.sandbox.pm_serve",
]
_CODE = """
import importlib, json, sys
before = sys.getrecursionlimit()
importlib.import_module(sys.argv[1])
{extra}
assert sys.getrecursionlimit() == before, (sys.argv[1], sys.getrecursionlimit())
try:
    json.loads("[" * 65536)
except (RecursionError, ValueError) as exc:
    print(type(exc).__name__)
"""


def _run(module: str, extra: str = "") -> subprocess.CompletedProcess[str]:
    code = _CODE.format(extra=extra)
    return subprocess.run([sys.executable, "-c", code, module], capture_output=True, text=True,
                          timeout=120)  # fmt: skip


@pytest.mark.parametrize("module", _MODULES)
def test_importing_the_signing_code_keeps_the_limit_and_deep_json_raises(module: str) -> None:
    done = _run(module)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == "RecursionError"


def test_the_dex_venue_keeps_the_limit_once_its_clients_are_made() -> None:
    extra = (
        "from tradeguard.venues.uniswap_v2.rpc import ChainClient\n"
        "ChainClient('http://127.0.0.1:9')\n"
        "from tradeguard.venues.uniswap_v2 import sender\n"
        "import inspect; assert 'kept_recursion_limit' in inspect.getsource(sender)\n"
    )
    done = _run("tradeguard.venues.uniswap_v2.rpc", extra)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == "RecursionError"
