"""Storage fixtures: a migrated SQLite file and an isolated schema on the local PostgreSQL server.

Test modules load these with `pytest_plugins = ["storage_fixtures"]`. Names carry a `storage_`
prefix so they never shadow (or get shadowed by) shared fixtures in conftest.py.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tradeguard.storage import Database, Storage

PG_SERVER_URL = os.environ.get("TG_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PG_START_HINT = (
    "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
)


def _pg_admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(PG_SERVER_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0]
    # Fail (never skip): a missing server must not pass for a green run.
    pytest.fail(f"PostgreSQL is not reachable at {PG_SERVER_URL} ({reason}); {PG_START_HINT}")


@pytest.fixture(scope="session")
def storage_pg_database() -> Iterator[str]:
    """Create a throwaway database for this test run and drop it afterwards."""
    name = f"tradeguard_test_{uuid.uuid4().hex[:10]}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_SERVER_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def storage_pg_url(storage_pg_database: str) -> Iterator[str]:
    """Give each test a fresh, empty schema (first on the search path) in the run's database."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(storage_pg_database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = make_url(storage_pg_database).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(storage_pg_database, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def storage_sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tradeguard.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_db_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty database, once per backend."""
    name = "storage_sqlite_url" if request.param == "sqlite" else "storage_pg_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def storage_db(storage_db_url: str) -> Iterator[Database]:
    """A migrated database, once per backend."""
    database = Database(storage_db_url)
    database.migrate()
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def store(storage_db: Database) -> Storage:
    return Storage(storage_db)
