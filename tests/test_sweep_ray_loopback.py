"""A local Ray for a sweep lives on the loopback address: its control store, its node manager and
its workers answer on 127.0.0.1, never on the machine's network address (Ray by default replaces
127.0.0.1 with the address other machines would reach)."""

from __future__ import annotations

import json
import subprocess
import sys

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


def test_a_local_ray_listens_on_loopback_only() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["engine"] == "ray"
    assert probe["results"] == [-2, 3]
    assert probe["gcs"].startswith("127.0.0.1:"), probe
    assert probe["nodes"] == ["127.0.0.1"], probe
