"""Shared fixtures: the real data directory, fresh databases, and a bounded `eventually`."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

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
