"""The encrypted backup file: round trip, and a clear error for each way a file can be wrong."""

from __future__ import annotations

import hashlib
import os
import struct

import pytest

from tradeguard.secrets.atomic import write_atomic
from tradeguard.secrets.backup_file import (
    MAGIC,
    BackupFileError,
    open_backup,
    read_info,
    seal,
)
from tradeguard.secrets.vault import ScryptParams

PASS = "a long backup passphrase"
CHEAP = ScryptParams(n=2**14)  # the format, not the cost, is under test here
PARTS = {"database": os.urandom(5000), "vault": b'{"format": "tradeguard-vault"}'}


def _sealed(**kw) -> bytes:
    args = {"passphrase": PASS, "created_ts": 1_700_000_000_000, "schema_head": "0005",
            "dialect": "sqlite", "kdf": CHEAP} | kw  # fmt: skip
    return seal(PARTS, **args)


@pytest.fixture
def backup(tmp_path):
    path = tmp_path / "b.tgb"
    write_atomic(path, _sealed())
    return path


def test_round_trip_returns_every_part_and_the_header(backup):
    info, parts = open_backup(backup, PASS)
    assert parts == PARTS
    assert (info.schema_head, info.dialect, info.created_ts) == (
        "0005",
        "sqlite",
        1_700_000_000_000,
    )
    assert info.part("database").sha256 == hashlib.sha256(PARTS["database"]).hexdigest()
    assert read_info(backup) == info


def test_the_file_is_private_and_holds_no_plaintext(backup):
    data = backup.read_bytes()
    assert backup.stat().st_mode & 0o777 == 0o600
    assert PARTS["database"][:64] not in data and b"tradeguard-vault" not in data
    assert PASS.encode() not in data


def test_wrong_passphrase_is_named(backup):
    with pytest.raises(BackupFileError, match="wrong passphrase"):
        open_backup(backup, "another long passphrase")


@pytest.mark.parametrize("keep", [0, 3, 10, 40, -17, -1])
def test_a_truncated_file_says_truncated(backup, keep):
    data = backup.read_bytes()
    backup.write_bytes(data[:keep])
    with pytest.raises(BackupFileError, match="truncated"):
        open_backup(backup, PASS)


def test_a_flipped_ciphertext_or_tag_byte_fails_authentication(backup):
    data = backup.read_bytes()
    for where in (-1, -20, len(data) - 3000):
        flipped = bytearray(data)
        flipped[where] ^= 0x01
        backup.write_bytes(bytes(flipped))
        with pytest.raises(BackupFileError, match="failed authentication"):
            open_backup(backup, PASS)


def _header_end(data: bytes) -> int:
    (length,) = struct.unpack(">I", data[len(MAGIC) : len(MAGIC) + 4])
    return len(MAGIC) + 4 + length


def test_a_flipped_header_or_checksum_byte_is_corruption(backup):
    data = backup.read_bytes()
    header_end = _header_end(data)
    for where in (len(MAGIC) + 8, header_end - 2, header_end + 5):
        flipped = bytearray(data)
        flipped[where] ^= 0x01
        backup.write_bytes(bytes(flipped))
        with pytest.raises(BackupFileError, match="corrupted"):
            open_backup(backup, PASS)


def test_a_changed_header_with_a_recomputed_checksum_still_fails(backup):
    # Someone edits the schema revision and fixes the unkeyed checksum: the key binds the header.
    data = backup.read_bytes()
    end = _header_end(data)
    prefix = data[:end].replace(b'"0005"', b'"0004"')
    forged = prefix + hashlib.sha256(prefix).digest() + data[end + 32 :]
    backup.write_bytes(forged)
    assert read_info(backup).schema_head == "0004"
    with pytest.raises(BackupFileError, match="failed authentication"):
        open_backup(backup, PASS)


def test_a_file_that_is_no_backup_says_so(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text('mode = "paper"\n')
    with pytest.raises(BackupFileError, match="not a tradeguard backup"):
        read_info(path)
    with pytest.raises(BackupFileError, match="no backup at"):
        read_info(tmp_path / "missing.tgb")


def test_write_atomic_leaves_no_temp_file_and_replaces_whole(tmp_path):
    path = tmp_path / "b.tgb"
    write_atomic(path, b"first")
    write_atomic(path, b"second")
    assert path.read_bytes() == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.tgb"]
