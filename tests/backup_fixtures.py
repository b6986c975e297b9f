"""Backups' fixtures; test modules load them with `pytest_plugins = ["backup_fixtures"]`."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from backup_support import _paper_db
from node_support import write_paper_toml, write_slice


@pytest.fixture(scope="session")
def paper_templates(tmp_path_factory, data_dir) -> Callable[[int], Path]:
    """The journal a paper node run over the first `rows` BTC candles leaves: one run per size
    for the session, each test given its own copy (`paper_db`)."""
    made: dict[int, Path] = {}

    def template(rows: int) -> Path:
        if rows not in made:
            folder = tmp_path_factory.mktemp(f"paper-{rows}")
            _, db = _paper_db(folder, data_dir, rows)
            assert sorted(p.name for p in folder.iterdir() if p.name.startswith("tg.db")) == [
                "tg.db", "tg.db.lock"
            ], "the node left a WAL: its journal is not in tg.db alone"  # fmt: skip
            made[rows] = db
        return made[rows]

    return template


@pytest.fixture
def paper_db(tmp_path, data_dir, paper_templates) -> Callable[..., tuple[str, Path]]:
    """`paper_db(rows)`: what `_paper_db` leaves in `tmp_path` (the data slice, the config and
    the node's journal `tg.db`), the journal copied from the session's run of that size."""

    def make(rows: int = 3000) -> tuple[str, Path]:
        data = write_slice(data_dir, tmp_path / "btc.csv", rows)
        cfg = write_paper_toml(tmp_path, data)
        shutil.copyfile(paper_templates(rows), tmp_path / "tg.db")
        return str(cfg), tmp_path / "tg.db"

    return make
