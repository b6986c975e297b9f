"""Alembic migrations shipped with the package; run them with `Database.migrate()`."""
