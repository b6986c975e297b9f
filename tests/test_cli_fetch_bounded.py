"""Fetches from a user-given URL are bounded. `calendar shift --sandbox URL` reads the sandbox
with one overall deadline and no redirects: a server redirecting elsewhere is refused without
connecting there, and one dripping bytes is cut at the deadline; each is exit 1 in one line
naming the URL. `status --api` asks the health the same way, and `pm arb retry` stops reading
an answer that drips past its overall deadline."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from rigs import calendar_shift, raw_http
from tradeguard.cli import pm_arb_retry
from tradeguard.cli.bounded_get import FetchError, bounded_get
from tradeguard.cli.liveness import fetch_health
from tradeguard.model.errors import TradeguardError


@pytest.fixture
def elsewhere() -> Iterator[tuple[str, list[object]]]:
    """A listener on 127.0.0.2 (another host for the client) recording any connection."""
    lst = socket.create_server(("127.0.0.2", 0))
    lst.settimeout(0.1)
    seen: list[object] = []
    try:
        yield f"http://127.0.0.2:{lst.getsockname()[1]}/admin/replay", seen
        with contextlib.suppress(OSError):
            seen.append(lst.accept()[1])
    finally:
        lst.close()


@pytest.fixture
def redirecting(elsewhere: tuple[str, list[object]]) -> Iterator[tuple[str, str, list[object]]]:
    target, seen = elsewhere

    def answer(conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 302 Found\r\nLocation: " + target.encode() + b"\r\n"
            b"Content-Length: 0\r\nConnection: close\r\n\r\n"
        )

    with raw_http(answer) as url:
        yield url, target, seen


def _drip_headers(conn: socket.socket) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 40:
        conn.sendall(bytes([byte]))
        time.sleep(0.5)


def _drip_body(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
    for _ in range(40):
        conn.sendall(b" ")
        time.sleep(0.5)


def test_a_redirect_to_another_host_is_refused_without_going_there(tmp_path, redirecting):
    url, target, seen = redirecting
    run = calendar_shift(tmp_path, url)
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert f"--sandbox {url!r}: cannot read {url}/admin/replay" in run.stderr, run.stderr
    assert f"redirect to {target}; redirects are not followed" in run.stderr, run.stderr
    assert not (tmp_path / "x.csv").exists()
    assert seen == [], "the client connected to the redirect's target"


@pytest.mark.parametrize("drip", [_drip_headers, _drip_body], ids=["headers", "body"])
def test_a_server_dripping_bytes_is_cut_at_the_overall_deadline(tmp_path, drip):
    with raw_http(drip) as url:
        run = calendar_shift(tmp_path, url)  # before: one read each 0.5 s never hit the 5 s timeout
        assert run.returncode == 1, run.stderr
        assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1
        assert f"cannot read {url}/admin/replay (no whole answer within 5 s)" in run.stderr
        assert not (tmp_path / "x.csv").exists()


def test_bounded_get_cuts_a_drip_and_refuses_a_hostile_location():
    def evil_redirect(conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 301 Moved\r\nLocation: http://x/\x1b[2J\r\nContent-Length: 0\r\n\r\n"
        )

    with (
        raw_http(_drip_body) as url,
        pytest.raises(FetchError, match=r"no whole answer within 1\.5 s"),
    ):
        bounded_get(url, deadline_s=1.5, max_bytes=1000)
    with raw_http(evil_redirect) as url:
        with pytest.raises(FetchError) as info:
            bounded_get(url, deadline_s=5, max_bytes=1000)
        assert "\x1b" not in str(info.value) and "redirects are not followed" in str(info.value)


def test_status_health_is_cut_at_its_deadline_and_never_follows_a_redirect(redirecting):
    url, target, seen = redirecting
    health = fetch_health(url, timeout_s=3.0)
    assert health["status"] == "unreachable" and health["api"] == url, health
    assert f"redirect to {target}; redirects are not followed" in health["error"], health
    with raw_http(_drip_body) as slow:
        health = fetch_health(slow, timeout_s=1.5)  # before: 3 s per read, so never cut
        assert health["status"] == "unreachable", health
        assert "no whole answer within 1.5 s" in health["error"], health
    assert seen == [], "the client connected to the redirect's target"


def test_status_health_refuses_a_huge_answer_and_still_reads_a_good_one():
    def huge(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        conn.sendall(b'{"status": "ok", "pad": "' + b"a" * 2_000_000 + b'"}')

    def degraded(conn: socket.socket) -> None:
        body = b'{"status": "degraded"}'
        head = f"HTTP/1.1 503 Unavailable\r\nContent-Length: {len(body)}\r\n\r\n"
        conn.sendall(head.encode() + body)

    with raw_http(huge) as url:
        health = fetch_health(url)
        assert health["status"] == "unreachable", health
        assert "over 1,000,000 bytes" in health["error"], health
    with raw_http(degraded) as url:
        assert fetch_health(url) == {"status": "degraded", "api": url}


def test_pm_arb_retry_stops_reading_an_answer_dripping_past_its_deadline(monkeypatch):
    monkeypatch.setattr(pm_arb_retry, "ANSWER_DEADLINE_S", 1.5)
    with raw_http(_drip_body) as url:
        began = time.monotonic()
        with pytest.raises(TradeguardError, match=r"whole answer within 1\.5 s"):
            pm_arb_retry._post(url, "tok", "123456", {}, True)
        assert time.monotonic() - began < 15  # the drip lasts 20 s: it was cut, not read out


def test_pm_arb_retry_stops_waiting_for_headers_dripping_past_its_deadline(monkeypatch):
    # httpx's 120 s bounds each read: headers arriving a byte at a time never trip it, and the
    # body's deadline check never ran, the headers never ending
    monkeypatch.setattr(pm_arb_retry, "ANSWER_DEADLINE_S", 1.5)
    with raw_http(_drip_headers) as url:
        began = time.monotonic()
        with pytest.raises(TradeguardError, match=r"whole answer within 1\.5 s"):
            pm_arb_retry._post(url, "tok", "123456", {}, True)
        assert time.monotonic() - began < 10  # the drip lasts 25 s: it was cut, not read out
