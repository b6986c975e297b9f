"""The official Uniswap V2 compiled contracts, read from their npm tarballs (sha256 pinned).

```python
fetch_all()                                   # npm pack into the cache, once; verifies sha256
factory = load_artifact("UniswapV2Factory")   # {"abi": [...], "bytecode": "0x..."}
```

The tarballs are GPL and are never committed: `scripts/fetch_uniswap.sh` (or
`python -m tradeguard.sandbox.chain.artifacts`) fetches them with `npm pack` into
`~/.cache/tradeguard/npm` (or `$TRADEGUARD_NPM_CACHE`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

CACHE_ENV = "TRADEGUARD_NPM_CACHE"


@dataclass(frozen=True, slots=True)
class Package:
    spec: str  # what `npm pack` is given
    tarball: str  # the file name npm writes
    sha256: str


CORE = Package(
    "@uniswap/v2-core@1.0.1",
    "uniswap-v2-core-1.0.1.tgz",
    "f01288aaf73a89d2ff541b7276cec215ce2c480cafbed33b0da9c89853f976a2",
)
PERIPHERY = Package(
    "@uniswap/v2-periphery@1.1.0-beta.0",
    "uniswap-v2-periphery-1.1.0-beta.0.tgz",
    "c3f1cda4ee1e00e877eb15ab508e574dfd6ae5e742be97fef41105d84a198784",
)
# Which tarball ships each contract we deploy or call.
_SOURCE = {
    "UniswapV2Factory": CORE,
    "UniswapV2Pair": CORE,
    "UniswapV2Router02": PERIPHERY,
    "WETH9": PERIPHERY,
    "ERC20": PERIPHERY,  # the periphery's test token: constructor(uint256 supply), 18 decimals
    # the periphery's fee-on-transfer test token: every transfer burns 1 % of its value
    "DeflatingERC20": PERIPHERY,
}


class ArtifactError(RuntimeError):
    """A tarball is missing, corrupt or not the pinned one."""


def cache_dir() -> Path:
    """Return the folder the tarballs are cached in."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "tradeguard" / "npm")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verified_tarball(pkg: Package) -> Path:
    """Return the cached tarball of `pkg` after checking its sha256, or raise ArtifactError."""
    path = cache_dir() / pkg.tarball
    if not path.is_file():
        raise ArtifactError(
            f"{pkg.spec} is not in {path.parent}; run scripts/fetch_uniswap.sh "
            "(npm pack, needs the npm registry once)"
        )
    digest = _sha256(path)
    if digest != pkg.sha256:
        raise ArtifactError(f"{path}: sha256 {digest} is not the pinned {pkg.sha256}")
    return path


def fetch(pkg: Package) -> Path:
    """Fetch `pkg` with `npm pack` into the cache unless it is there; return the tarball."""
    target = cache_dir() / pkg.tarball
    if not target.is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise ArtifactError(f"npm is not installed; it is needed once to fetch {pkg.spec}")
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "pack", pkg.spec, "--silent", "--pack-destination", str(target.parent)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return verified_tarball(pkg)


def fetch_all() -> list[Path]:
    """Fetch and verify both packages."""
    return [fetch(CORE), fetch(PERIPHERY)]


@cache
def load_artifact(name: str) -> dict[str, Any]:
    """Return `{"abi", "bytecode"}` of contract `name` from its package's `build/NAME.json`."""
    pkg = _SOURCE.get(name)
    if pkg is None:
        raise ArtifactError(f"unknown contract {name!r}; known: {sorted(_SOURCE)}")
    with tarfile.open(verified_tarball(pkg), "r:gz") as tar:
        member = tar.extractfile(f"package/build/{name}.json")
        if member is None:
            raise ArtifactError(f"{pkg.tarball} has no build/{name}.json")
        data = json.loads(member.read())
    code = data.get("bytecode") or data["evm"]["bytecode"]["object"]
    return {"abi": data["abi"], "bytecode": code if code.startswith("0x") else "0x" + code}


def main() -> int:
    """Fetch both packages; print where they are."""
    try:
        for path in fetch_all():
            print(f"{path} sha256 ok")
    except (ArtifactError, subprocess.CalledProcessError) as exc:
        print(f"fetch_uniswap: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
