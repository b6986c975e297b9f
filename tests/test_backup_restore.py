"""`tradeguard backup` and `restore` on real databases: every table comes back equal, audited."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from node_support import write_paper_toml, write_slice
from tradeguard.chaos.paper import ledger_snapshot
from tradeguard.cli import main
from tradeguard.secrets.backup_file import PASSPHRASE_ENV, read_info, write_backup_file
from tradeguard.secrets.vault import ScryptParams, Vault
from tradeguard.storage import Database, Storage
from tradeguard.storage.db import SCHEMA_HEAD
from tradeguard.storage.lock import acquire_writer_lock
from tradeguard.storage.snapshot import table_rows, taken_snapshot

pytest_plugins = ["storage_fixtures"]

PASS = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _passphrase(monkeypatch):
    monkeypatch.setenv(PASSPHRASE_ENV, PASS)
    monkeypatch.delenv("TG_VAULT_PATH", raising=False)
    monkeypatch.chdir(Path(__file__).parent)  # no ./tradeguard-vault.json here


def _paper_run(tmp_path: Path, data_dir: Path, db_url: str | None = None) -> tuple[str, str]:
    """Run a short paper replay; return (config path, database URL)."""
    data = write_slice(data_dir, tmp_path / "btc.csv", 3000)
    url = db_url or f"sqlite:///{tmp_path / 'tg.db'}"
    cfg = write_paper_toml(tmp_path, data, db_url=url)
    assert main(["run", "--config", str(cfg), "--until-end"]) == 0
    return str(cfg), url


def _contents(url: str) -> tuple[dict, dict]:
    db = Database(url)
    try:
        return table_rows(db), _key_order_free(ledger_snapshot(Storage(db)))
    finally:
        db.dispose()


def _key_order_free(snapshot: dict) -> dict:
    # PostgreSQL's JSONB orders an order's signal keys its own way; the snapshot prints the dict.
    def fix(item: tuple) -> tuple:
        key, value = item
        if key == "signal" and value != "None":
            return key, sorted(ast.literal_eval(value).items())
        return item

    return {**snapshot, "orders": sorted(tuple(map(fix, o)) for o in snapshot["orders"])}


def _restore(backup: Path, url: str, cfg: str, *extra: str) -> int:
    return main(["restore", "--in", str(backup), "--db", url, "--config", cfg, *extra])


def _assert_same(source: str, restored: str) -> None:
    rows, ledger = _contents(source)
    assert rows["fills"] and rows["orders"] and rows["balances"] and rows["events"]
    got_rows, got_ledger = _contents(restored)
    assert got_ledger == ledger
    assert got_rows == rows


def test_sqlite_backup_restores_every_table_and_the_audit_passes(tmp_path, data_dir, capsys):
    cfg, url = _paper_run(tmp_path, data_dir)
    out = tmp_path / "backups" / "tg.tgb"
    out.parent.mkdir()  # backup --out makes no folder
    assert main(["backup", "--config", cfg, "--out", str(out)]) == 0
    info = read_info(out)
    assert (info.dialect, info.schema_head) == ("sqlite", SCHEMA_HEAD)
    assert [p.name for p in info.parts] == ["database"]
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    capsys.readouterr()
    assert _restore(out, target, cfg) == 0
    assert "ledger ok" in capsys.readouterr().out
    _assert_same(url, target)
    assert main(["doctor", "--config", cfg, "--db", target]) == 0


@pytest.mark.postgres
def test_postgres_backup_restores_into_postgres_and_sqlite(
    tmp_path, data_dir, pg_url, storage_pg_url, capsys
):
    cfg, url = _paper_run(tmp_path, data_dir, pg_url)
    out = tmp_path / "pg.tgb"
    assert main(["backup", "--config", cfg, "--out", str(out)]) == 0
    assert read_info(out).dialect == "postgresql"
    assert _restore(out, storage_pg_url, cfg) == 0
    _assert_same(url, storage_pg_url)
    lite = f"sqlite:///{tmp_path / 'from_pg.db'}"
    assert _restore(out, lite, cfg) == 0
    _assert_same(url, lite)
    assert main(["doctor", "--config", cfg, "--db", storage_pg_url]) == 0
    assert _restore(out, storage_pg_url, cfg) == 1  # holds data now
    assert _restore(out, storage_pg_url, cfg, "--force") == 0
    _assert_same(url, storage_pg_url)


@pytest.mark.postgres
def test_sqlite_backup_restores_into_postgres_and_new_ids_follow(
    tmp_path, data_dir, storage_pg_url
):
    cfg, url = _paper_run(tmp_path, data_dir)
    out = tmp_path / "tg.tgb"
    assert main(["backup", "--config", cfg, "--out", str(out)]) == 0
    assert _restore(out, storage_pg_url, cfg) == 0
    _assert_same(url, storage_pg_url)
    db = Database(storage_pg_url)
    try:
        with db.engine.begin() as conn:
            top = conn.exec_driver_sql("SELECT max(id) FROM order_transitions").scalar()
            new = conn.exec_driver_sql(
                "SELECT nextval(pg_get_serial_sequence('order_transitions', 'id'))"
            ).scalar()
        assert new == top + 1
    finally:
        db.dispose()


def test_restore_refuses_a_database_with_data_unless_forced(tmp_path, data_dir, capsys):
    cfg, url = _paper_run(tmp_path, data_dir)
    out = tmp_path / "tg.tgb"
    assert main(["backup", "--config", cfg, "--out", str(out)]) == 0
    capsys.readouterr()
    assert _restore(out, url, cfg) == 1
    err = capsys.readouterr().err
    assert "already holds data" in err and "--force" in err and "Traceback" not in err
    assert _restore(out, url, cfg, "--force") == 0  # replaces it, events table and all
    rows, _ = _contents(url)
    assert rows == take_rows(out, tmp_path, cfg)


def take_rows(out: Path, tmp_path: Path, cfg: str) -> dict:
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert _restore(out, fresh, cfg) == 0
    return _contents(fresh)[0]


def test_restore_refuses_while_a_node_holds_the_writer_lock(tmp_path, data_dir, capsys):
    cfg, _ = _paper_run(tmp_path, data_dir)
    out = tmp_path / "tg.tgb"
    assert main(["backup", "--config", cfg, "--out", str(out)]) == 0
    target = f"sqlite:///{tmp_path / 'target.db'}"
    lock = acquire_writer_lock(target)
    try:
        capsys.readouterr()
        assert _restore(out, target, cfg) == 1
        assert "already written by another tradeguard node" in capsys.readouterr().err
    finally:
        assert lock is not None
        lock.release()
    assert _restore(out, target, cfg) == 0


def test_a_backup_from_a_newer_schema_is_refused(tmp_path, data_dir, capsys):
    cfg, url = _paper_run(tmp_path, data_dir)
    out = tmp_path / "newer.tgb"
    with taken_snapshot(url, "newer") as snapshot:
        parts = [("database", snapshot.file)]
        write_backup_file(out, parts, passphrase=PASS, created_ts=0, schema_head="9999",
                          dialect="sqlite", kdf=ScryptParams(n=2**14))  # fmt: skip
    assert _leftovers(tmp_path) == []
    capsys.readouterr()
    assert _restore(out, f"sqlite:///{tmp_path / 'r.db'}", cfg) == 1
    err = capsys.readouterr().err
    assert "'9999', newer than this tradeguard" in err and "Traceback" not in err
    assert not (tmp_path / "r.db").exists()


def test_an_older_schema_backup_is_upgraded_through_the_migrations(tmp_path, data_dir):
    old = Database(f"sqlite:///{tmp_path / 'old.db'}")
    old.migrate("0004")  # before trigger orders: no trigger_price, no oco_group
    with old.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO orders (client_order_id, strategy_id, venue, symbol, side, type, amount, "
            "price, time_in_force, reduce_only, status, venue_order_id, filled, avg_price, fee, "
            "reason, created_ts, updated_ts) VALUES ('c1', 's', 'paper', 'BTC/USDT', 'buy', "
            "'limit', '0.5', '100', 'GTC', 0, 'accepted', 'v1', '0', '0', '0', '', 1, 1)"
        )
        conn.exec_driver_sql(
            "INSERT INTO balances (venue, asset, free, locked, total, updated_ts) "
            "VALUES ('paper', 'USDT', '10000', '0', '10000', 1)"
        )
    old.dispose()
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    cfg = str(write_paper_toml(tmp_path, data, db_url=f"sqlite:///{tmp_path / 'old.db'}"))
    out = tmp_path / "old.tgb"
    assert main(["backup", "--config", cfg, "--out", str(out)]) == 0
    assert read_info(out).schema_head == "0004"
    target = Database(f"sqlite:///{tmp_path / 'new.db'}")
    assert _restore(out, str(target.url), cfg) == 0
    assert target.current_revision() == SCHEMA_HEAD
    (order,) = Storage(target).load_orders()
    assert (order.client_order_id, str(order.amount), order.oco_group) == ("c1", "0.5", "")
    target.dispose()


def test_restore_into_a_database_at_an_older_head_upgrades_it(tmp_path, data_dir):
    cfg, url = _paper_run(tmp_path, data_dir)
    out = tmp_path / "tg.tgb"
    assert main(["backup", "--config", cfg, "--out", str(out)]) == 0
    target = Database(f"sqlite:///{tmp_path / 'at0003.db'}")
    target.migrate("0003")
    assert _restore(out, str(target.url), cfg) == 0
    assert target.current_revision() == SCHEMA_HEAD
    target.dispose()
    _assert_same(url, f"sqlite:///{tmp_path / 'at0003.db'}")


def test_the_vault_is_bundled_and_written_back_only_when_asked(tmp_path, data_dir, capsys):
    cfg, _ = _paper_run(tmp_path, data_dir)
    vault = Vault(tmp_path / "vault.json", kdf=ScryptParams(n=2**14))
    vault.create("a long master passphrase")
    vault.add("binance-main", "binance", {"api_key": "key-123", "secret": "s3cr3t-value"})
    out = tmp_path / "tg.tgb"
    assert main(["backup", "--config", cfg, "--vault", str(vault.path), "--out", str(out)]) == 0
    assert [p.name for p in read_info(out).parts] == ["database", "vault"]
    assert b"s3cr3t-value" not in out.read_bytes()
    capsys.readouterr()
    assert _restore(out, f"sqlite:///{tmp_path / 'a.db'}", cfg) == 0
    assert "--vault-out" in capsys.readouterr().err
    back = tmp_path / "restored-vault.json"
    assert _restore(out, f"sqlite:///{tmp_path / 'b.db'}", cfg, "--vault-out", str(back)) == 0
    assert back.read_bytes() == vault.path.read_bytes()
    restored = Vault(back)
    restored.unlock("a long master passphrase")
    assert restored.get("binance-main").field("secret") == "s3cr3t-value"
    capsys.readouterr()
    assert _restore(out, f"sqlite:///{tmp_path / 'c.db'}", cfg, "--vault-out", str(back)) == 2
    assert "exists; give --force" in capsys.readouterr().err


def test_a_missing_named_vault_is_a_config_error(tmp_path, data_dir, capsys):
    cfg, _ = _paper_run(tmp_path, data_dir)
    argv = ["backup", "--config", cfg, "--vault", str(tmp_path / "nope.json")]
    assert main([*argv, "--out", str(tmp_path / "x.tgb")]) == 2
    assert "nope.json" in capsys.readouterr().err
    assert not (tmp_path / "x.tgb").exists()


def test_damaged_backups_each_give_their_error_and_exit_1(tmp_path, data_dir, capsys, monkeypatch):
    cfg, _ = _paper_run(tmp_path, data_dir)
    out = tmp_path / "tg.tgb"
    assert main(["backup", "--config", cfg, "--out", str(out)]) == 0
    data = out.read_bytes()
    truncated, flipped = tmp_path / "cut.tgb", tmp_path / "flip.tgb"
    truncated.write_bytes(data[: len(data) // 2])
    flipped.write_bytes(data[:-100] + bytes([data[-100] ^ 0x40]) + data[-99:])
    cases = [(truncated, "is truncated"), (flipped, "failed authentication")]
    for path, message in cases:
        capsys.readouterr()
        assert _restore(path, f"sqlite:///{tmp_path / 'r.db'}", cfg) == 1
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    monkeypatch.setenv(PASSPHRASE_ENV, "not the right passphrase")
    assert _restore(out, f"sqlite:///{tmp_path / 'r.db'}", cfg) == 1
    assert "wrong passphrase" in capsys.readouterr().err
    assert not (tmp_path / "r.db").exists()
    assert _leftovers(tmp_path) == []


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".*.tmp"))


def test_a_backup_damaged_in_its_last_chunk_leaves_the_target_untouched(tmp_path, data_dir, capsys):
    # Every chunk is checked before the target is touched: --force on a database with data
    # and a flipped byte near the end of the backup changes nothing.
    cfg, url = _paper_run(tmp_path, data_dir)
    out = tmp_path / "tg.tgb"
    assert main(["backup", "--config", cfg, "--out", str(out)]) == 0
    data = out.read_bytes()
    out.write_bytes(data[:-20] + bytes([data[-20] ^ 0x01]) + data[-19:])
    before = _contents(url)
    capsys.readouterr()
    assert _restore(out, url, cfg, "--force") == 1
    err = capsys.readouterr().err
    assert "failed authentication" in err and "Traceback" not in err
    assert _contents(url) == before
    assert _leftovers(tmp_path) == []


def test_a_backup_written_in_format_1_restores(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(PASSPHRASE_ENV, "format one backup passphrase")
    target, vault = f"sqlite:///{tmp_path / 'from-format1.db'}", tmp_path / "vault.json"
    old = Path(__file__).parent / "data" / "backup-format1.tgb"
    assert read_info(old).version == 1
    argv = ["restore", "--in", str(old), "--db", target, "--vault-out", str(vault)]
    assert main(argv) == 0, capsys.readouterr().err
    assert "ledger ok" in capsys.readouterr().out
    rows, _ = _contents(target)
    assert [(b["venue"], b["asset"], b["total"]) for b in rows["balances"]] == [
        ("paper", "USDT", Decimal("10000"))
    ]
    assert [e["data"] for e in rows["events"]] == [{"note": "written by format 1"}]
    restored = Vault(vault)
    restored.unlock("a long master passphrase")
    assert restored.get("binance-main").field("secret") == "s3cr3t-value"
    assert _leftovers(tmp_path) == []


def test_a_short_backup_passphrase_is_named_as_the_backup_one(
    tmp_path, data_dir, capsys, monkeypatch
):
    cfg, _ = _paper_run(tmp_path, data_dir)
    monkeypatch.setenv(PASSPHRASE_ENV, "short")
    assert main(["backup", "--config", cfg, "--out", str(tmp_path / "x.tgb")]) == 2
    err = capsys.readouterr().err
    assert f"backup passphrase ({PASSPHRASE_ENV}) is 5 characters long" in err
    assert "at least 12" in err and "master" not in err
    assert not (tmp_path / "x.tgb").exists()


@pytest.mark.parametrize("where", ["", "folder"])
def test_restore_from_a_folder_or_an_empty_in_is_a_usage_error(tmp_path, capsys, where):
    # Both were exit 1 "cannot read backup .: Is a directory" ('' read as the current folder).
    given = str(tmp_path) if where else ""
    target = tmp_path / "restored.db"
    assert main(["restore", "--in", given, "--db", f"sqlite:///{target}"]) == 2
    err = capsys.readouterr().err
    what = "is a directory" if where else "is empty (an unset variable?)"  # '' is no folder
    assert f"--in {given!r} {what}; give the backup file" in err
    assert "Traceback" not in err and not target.exists()


def test_backup_to_an_empty_out_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tg.db").touch()
    assert main(["backup", "--db", "sqlite:///tg.db", "--out", ""]) == 2
    assert "--out '' is empty (an unset variable?)" in capsys.readouterr().err


@pytest.mark.parametrize("parent", ["missing/sub", "afile"], ids=["missing", "a-file"])
def test_backup_into_a_folder_that_is_not_there_is_a_usage_error_naming_it(
    tmp_path, capsys, monkeypatch, parent
):
    monkeypatch.chdir(tmp_path)
    Database("sqlite:///tg.db").migrate()
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    out = f"{parent}/tg.tgb"
    assert main(["backup", "--db", "sqlite:///tg.db", "--out", out]) == 2
    err = capsys.readouterr().err
    assert f"its folder {parent!r}" in err and "Traceback" not in err
    assert not (tmp_path / "missing").exists()  # nothing created
    (tmp_path / "made").mkdir()
    assert main(["backup", "--db", "sqlite:///tg.db", "--out", "made/tg.tgb"]) == 0
    assert (tmp_path / "made" / "tg.tgb").stat().st_size > 0
