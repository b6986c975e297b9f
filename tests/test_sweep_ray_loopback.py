"""A local Ray for a sweep lives on the loopback address: its control store, its node manager and
its workers answer on 127.0.0.1, never on the machine's network address (Ray by default replaces
127.0.0.1 with the address other machines would reach)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray")

PROBE = """
import json
import operator

from tradeguard.backtest.pools import make_pool


def negate(x):
    return operator.neg(x)


with make_pool(1) as pool:
    import ray
    from ray._private import worker

    results = sorted(pool.map_unordered(negate, [-3, 2]))
    print(json.dumps({
        "engine": pool.engine,
        "gcs": worker.global_worker.node.gcs_address,
        "nodes": [n["NodeManagerAddress"] for n in ray.nodes()],
        "results": results,
    }))
"""


def test_a_local_ray_listens_on_loopback_only(tmp_path: Path) -> None:
    # Its own home folder: Ray wrote its access token to ~/.ray/auth_token on first use, where
    # two Rays starting at once (two sweeps, two test workers) could each write a different one.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         timeout=300, env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert list(tmp_path.iterdir()) == [], "a local Ray wrote into the home folder"
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["engine"] == "ray"
    assert probe["results"] == [-2, 3]
    assert probe["gcs"].startswith("127.0.0.1:"), probe
    assert probe["nodes"] == ["127.0.0.1"], probe
