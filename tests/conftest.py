"""Shared fixtures: the real data directory, fresh databases, a bounded `eventually`, the
vault a node opens, and the seeded spot sandbox with what tests reach it through (a ccxt
client, a node stack)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from test_ccxt_support import Stack
    from tradeguard.sandbox.kraken.server import KrakenSandbox
    from tradeguard.sandbox.server import SandboxExchange

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("TG_DATA_DIR", ROOT.parent / "shared" / "data"))
PG_ADMIN_URL = os.environ.get("TG_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA_DIR.is_dir():
        pytest.fail(f"real market data not found at {DATA_DIR}; set TG_DATA_DIR")
    return DATA_DIR


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tg.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A freshly created PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"tg_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(
            PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"),
            autocommit=True,
            connect_timeout=5,
        )
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({exc}); start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
        )
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections for the whole test: bound but never
    listening, so no other process (another test worker) can take it meanwhile, as it could
    a port found free and let go."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def eventually(check: Callable[[], bool], timeout_s: float = 5.0, interval_s: float = 0.01) -> None:
    """Poll `check` until it is true or fail after `timeout_s` (no fixed sleeps in tests)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


async def aeventually(
    check: Callable[[], bool | Awaitable[bool]], timeout_s: float = 5.0, interval_s: float = 0.01
) -> None:
    """Async `eventually`: `check` may be a coroutine function."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


@pytest.fixture
def vault_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A vault holding alice's sandbox key (credentials "alice", venue binance), opened
    through the environment as a node opens it."""
    from live_support import write_vault

    write_vault(tmp_path, monkeypatch)


# The seeded spot sandbox (BTCUSDT around 50,000, Alice and Bob funded) and its clients;
# a module defining its own `ex` (another config) overrides this one.
@pytest.fixture
async def ex() -> AsyncIterator[SandboxExchange]:
    from tradeguard.sandbox.testing import seeded_exchange

    async with seeded_exchange() as sandbox:
        yield sandbox


# The seeded Kraken sandbox (BTC/USD around 50,000, Carol and Dave funded).
@pytest.fixture
async def kx() -> AsyncIterator[KrakenSandbox]:
    from tradeguard.sandbox.kraken.testing import seeded_kraken

    async with seeded_kraken() as sandbox:
        yield sandbox


@pytest.fixture
async def client(ex: SandboxExchange) -> AsyncIterator[Any]:
    """The real ccxt Binance client, as Alice, markets loaded."""
    from tradeguard.sandbox.client import make_ccxt_client
    from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET

    c = make_ccxt_client(ex, ALICE_KEY, ALICE_SECRET, enable_rate_limit=False)
    await c.load_markets()
    yield c
    await c.close()


@pytest.fixture
async def stack(ex: SandboxExchange, tmp_path: Path) -> AsyncIterator[Stack]:
    """The ccxt venue on `ex` behind a risk engine, order manager and storage."""
    from test_ccxt_support import build_stack

    s = await build_stack(ex, tmp_path)
    yield s
    await s.close()
