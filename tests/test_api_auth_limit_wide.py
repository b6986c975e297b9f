"""The failed-authentication limit holds a guesser who rotates addresses: besides its own /64
(IPv6) or address (IPv4), a client's wider network (its /48, its /24) is counted against a
threshold of its own, and the table of counted clients, capped in size, never drops a client
that is locked out. Before, a guesser spreading under the limit across the 65,536 /64s of one
/48 was never held, and one flooding the table from fresh networks had the locked-out entries
evicted and could guess again."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from test_api_support import bearer, build_app, started_node
from tradeguard.api.auth import FailureLimiter


def test_a_guesser_spread_across_the_64s_of_one_48_is_held_by_the_48():
    limiter = FailureLimiter(limit=3, window_s=60.0, wide_limit=10)
    for n in range(10):  # one failure from each of ten /64s: each far under its own limit
        assert limiter.blocked_for(f"2001:db8:7:{n:x}::1", now=0.0) == 0
        limiter.fail(f"2001:db8:7:{n:x}::1", now=0.0)
    assert limiter.blocked_for("2001:db8:7:ffff::1", now=1.0) == 59.0  # a /64 never seen
    assert limiter.blocked_for("2001:db8:8::1", now=1.0) == 0  # the next /48 is someone else
    assert limiter.blocked_for("2001:db8:7:1::1", now=61.0) == 0  # the window passed


def test_an_ipv4_guesser_spread_across_one_24_is_held_by_the_24():
    limiter = FailureLimiter(limit=3, window_s=60.0, wide_limit=5)
    for n in range(5):
        limiter.fail(f"203.0.113.{n}", now=0.0)
    assert limiter.blocked_for("203.0.113.200", now=1.0) > 0
    assert limiter.blocked_for("::ffff:203.0.113.77", now=1.0) > 0  # the same, IPv6-mapped
    assert limiter.blocked_for("203.0.114.1", now=1.0) == 0
    assert limiter.blocked_for("unknown", now=1.0) == 0  # no address: no network either


def test_the_wide_threshold_defaults_to_five_times_the_limit():
    assert FailureLimiter(limit=10, window_s=60.0).wide_limit == 50


def test_a_flood_of_fresh_networks_does_not_evict_a_locked_out_client():
    # A table of 1,000 clients (10,000 by default): the eviction is the same, the flood that
    # overruns it a tenth as long (each failure parses its address twice, some 0.3 ms).
    # The global budget out of the way: past it every client waits, which hid an eviction of
    # the locked-out client (the flood's 20,000 failures were 100 times the default of 200).
    limiter = FailureLimiter(limit=3, window_s=60.0, max_tracked=1_000, global_limit=100_000)
    for _ in range(3):
        limiter.fail("2001:db8:1:2::1", now=0.0)
    assert limiter.blocked_for("2001:db8:1:2::1", now=0.0) > 0
    # one failure each from 2,000 networks, past the 1,000 clients (and networks) the table keeps
    for n in range(2_000):
        limiter.fail(f"2002:{n >> 8:x}:{n & 0xFF:x}::1", now=1.0)
    assert limiter.tracked() == (1_000, 1_000)  # the flood did overrun both tables
    assert limiter.blocked_for("2001:db8:1:2::99", now=2.0) > 0  # still locked out


def test_a_table_full_of_locked_out_clients_holds_off_a_new_one_until_one_expires():
    limiter = FailureLimiter(limit=2, window_s=60.0, wide_limit=1_000, max_tracked=4)
    for n in range(4):  # locked out until 60 + n
        limiter.fail(f"10.0.{n}.1", now=float(n))
        limiter.fail(f"10.0.{n}.1", now=float(n))
    for n in range(4):
        limiter.fail(f"10.9.{n}.1", now=5.0)  # not tracked: every entry is locked out
    assert all(limiter.blocked_for(f"10.0.{n}.1", now=5.0) > 0 for n in range(4))
    assert limiter.blocked_for("10.9.0.1", now=5.0) == 55.0  # until the first entry expires
    assert limiter.blocked_for("10.9.0.1", now=61.0) == 0
    limiter.fail("10.9.0.1", now=61.0)  # now it takes the expired entry's place
    limiter.fail("10.9.0.1", now=61.0)
    assert limiter.blocked_for("10.9.0.1", now=61.5) > 0
    assert limiter.blocked_for("10.0.0.1", now=61.5) == 0  # the expired entry it replaced
    assert all(limiter.blocked_for(f"10.0.{n}.1", now=61.5) > 0 for n in (2, 3))  # kept


def test_an_unlocked_entry_goes_before_a_locked_out_one_and_the_table_stays_capped():
    limiter = FailureLimiter(limit=2, window_s=60.0, wide_limit=1_000, max_tracked=3)
    limiter.fail("10.0.0.1", now=0.0)
    limiter.fail("10.0.0.1", now=0.0)  # locked out, the oldest entry
    for n in range(1, 50):
        limiter.fail(f"10.0.{n}.1", now=1.0)  # once each: never locked out
    assert limiter.blocked_for("10.0.0.1", now=2.0) > 0
    assert limiter.tracked() <= (3, 3)


@pytest.fixture
async def node(tmp_path: Path, data_dir: Path):
    async with started_node(tmp_path, data_dir, rows=30) as node:
        yield node


async def _guess(app, peer: str, forwarded: str) -> int:
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        headers = {**bearer("tg_guess"), "X-Forwarded-For": forwarded}
        return (await http.get("/api/v1/positions", headers=headers)).status_code


async def test_a_forwarded_for_header_from_an_untrusted_peer_changes_nothing(node) -> None:
    app, _ = build_app(node, failures_per_min=3)
    # each guess names a fresh network; the peer is what counts
    codes = [await _guess(app, "2001:db8:5::1", f"2002:{n:x}::1") for n in range(5)]
    assert codes == [401, 401, 401, 429, 429], codes


async def test_behind_a_trusted_proxy_the_forwarded_clients_48_is_counted(node) -> None:
    node.config.api.trusted_proxies = ["2001:db8:5::/64"]
    node.config.api.auth_failures_per_min_network = 4
    app, tokens = build_app(node, failures_per_min=3)
    # two guesses from each /64 of 2001:db8:77::/48 (under the limit of 3), through the proxy
    codes = [await _guess(app, "2001:db8:5::1", f"2001:db8:77:{n // 2:x}::{n}") for n in range(6)]
    assert codes == [401, 401, 401, 401, 429, 429], codes
    assert await _guess(app, "2001:db8:5::1", "2001:db8:78::1") == 401  # another /48
    transport = httpx.ASGITransport(app=app, client=("2001:db8:5::1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        held = await http.get(
            "/api/v1/positions",
            headers={**bearer(tokens.viewer), "X-Forwarded-For": "2001:db8:77::1"},
        )
    assert held.status_code == 200  # a valid token still passes from a held network


def test_a_table_crowded_with_locked_out_clients_costs_each_new_failure_little(monkeypatch):
    """Locked-out entries at the front of the table were looked at again by every failure of a
    new client (9,999 of them: some 20 ms of the event loop per failed request)."""
    from tradeguard.api import auth

    looked = 0
    real = auth._Buckets._locked

    def counted(self: auth._Buckets, q: object, now: float) -> bool:
        nonlocal looked
        looked += 1
        return real(self, q, now)  # type: ignore[arg-type]

    monkeypatch.setattr(auth._Buckets, "_locked", counted)
    limiter = FailureLimiter(
        limit=2, window_s=60.0, wide_limit=100_000, max_tracked=1_000, global_limit=100_000
    )  # the global budget out of the way: this is the per-client table's cost
    for n in range(999):  # locked out, the oldest entries
        limiter.fail(f"10.{n >> 8}.{n & 0xFF}.1", now=0.0)
        limiter.fail(f"10.{n >> 8}.{n & 0xFF}.1", now=0.0)
    looked = 0
    for n in range(2_000):  # fresh clients, once each: one slot left for them
        limiter.fail(f"2001:db8:{n:x}::1", now=1.0)
    assert looked <= 4 * 2_000, looked  # was some 2,000,000
    assert limiter.tracked()[0] == 1_000
    assert all(limiter.blocked_for(f"10.{n >> 8}.{n & 0xFF}.1", now=2.0) > 0 for n in range(999))
    assert limiter.blocked_for("2001:db8:7cf::1", now=2.0) == 0  # the latest, under its limit
