"""The failed-authentication limit counts an IPv6 client by its /64, the block one host or one
customer line is given: keyed by the whole address, a client guessing tokens named itself anew
for each guess from the 2**64 addresses of its own network, and was never limited. An IPv4
address written IPv6-mapped (`::ffff:10.0.0.1`) is that IPv4 address."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from test_api_support import bearer, build_app, started_node
from tradeguard.api.auth import FailureLimiter


def test_addresses_of_one_ipv6_64_share_one_count() -> None:
    limiter = FailureLimiter(limit=3, window_s=60.0)
    for n in (1, 2, 3):
        limiter.fail(f"2001:db8:0:7::{n}", now=0.0)
    assert limiter.blocked_for("2001:db8:0:7:ffff::1", now=1.0) > 0  # before: 0, a new name
    assert limiter.blocked_for("2001:db8:0:8::1", now=1.0) == 0  # the next /64 is someone else
    assert limiter.blocked_for("10.0.0.1", now=1.0) == 0


def test_an_ipv4_mapped_address_is_the_ipv4_address() -> None:
    limiter = FailureLimiter(limit=2, window_s=60.0)
    limiter.fail("10.0.0.1", now=0.0)
    limiter.fail("::ffff:10.0.0.1", now=0.0)
    assert limiter.blocked_for("10.0.0.1", now=1.0) > 0
    assert limiter.blocked_for("10.0.0.2", now=1.0) == 0
    assert limiter.blocked_for("unknown", now=1.0) == 0  # no address: counted as given


@pytest.fixture
async def node(tmp_path: Path, data_dir: Path):
    async with started_node(tmp_path, data_dir, rows=30) as node:
        yield node


async def test_guessing_from_a_new_address_of_the_same_64_each_time_is_limited(node) -> None:
    app, tokens = build_app(node, failures_per_min=3)
    codes = []
    for n in range(1, 6):
        transport = httpx.ASGITransport(app=app, client=(f"2001:db8::{n:x}", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            r = await http.get("/api/v1/positions", headers=bearer("tg_guess"))
            codes.append(r.status_code)
    assert codes == [401, 401, 401, 429, 429], codes
    transport = httpx.ASGITransport(app=app, client=("2001:db8::99", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        held = await http.get("/api/v1/positions", headers=bearer(tokens.viewer))
    assert held.status_code == 200  # a valid token still passes from a limited network
