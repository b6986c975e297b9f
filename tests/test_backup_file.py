"""The encrypted backup file: round trip, and a clear error for each way a file can be wrong.

Format 2 (chunked) is what is written; format 1 files, as earlier versions wrote them, are read
from tests/data/backup-format1.tgb (made by `tradeguard backup` of format 1).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import tracemalloc
from pathlib import Path

import pytest

from tradeguard.secrets.atomic import write_atomic
from tradeguard.secrets.backup_file import (
    MAGIC,
    BackupFileError,
    BackupReader,
    open_backup,
    read_info,
    write_backup_file,
)
from tradeguard.secrets.backup_stream import TAG_BYTES
from tradeguard.secrets.vault import ScryptParams, Vault

PASS = "a long backup passphrase"
CHEAP = ScryptParams(n=2**14)  # the format, not the cost, is under test here
CHUNK = 4096
PARTS = {"database": os.urandom(5 * CHUNK + 1234), "vault": b'{"format": "tradeguard-vault"}'}
FORMAT1 = Path(__file__).parent / "data" / "backup-format1.tgb"
FORMAT1_PASS = "format one backup passphrase"


def _write(path: Path, parts: dict[str, bytes] = PARTS, **kw) -> int:
    args = {"passphrase": PASS, "created_ts": 1_700_000_000_000, "schema_head": "0005",
            "dialect": "sqlite", "kdf": CHEAP, "chunk_bytes": CHUNK} | kw  # fmt: skip
    return write_backup_file(path, [(n, io.BytesIO(d)) for n, d in parts.items()], **args)


@pytest.fixture
def backup(tmp_path):
    path = tmp_path / "b.tgb"
    assert _write(path) == path.stat().st_size
    return path


def _header_end(data: bytes) -> int:
    (length,) = struct.unpack(">I", data[len(MAGIC) : len(MAGIC) + 4])
    return len(MAGIC) + 4 + length


def _chunks(data: bytes) -> tuple[bytes, list[bytes]]:
    """Split a format 2 file into its header (with checksum) and its sealed chunks."""
    start = _header_end(data) + 32
    body = data[start:]
    size = CHUNK + TAG_BYTES
    return data[:start], [body[i : i + size] for i in range(0, len(body), size)]


def _forge(data: bytes, edit) -> bytes:
    """Change the JSON header with `edit` and recompute the (unkeyed) checksum."""
    end = _header_end(data)
    header = json.loads(data[len(MAGIC) + 4 : end])
    edit(header)
    body = json.dumps(header, sort_keys=True).encode()
    prefix = MAGIC + struct.pack(">I", len(body)) + body
    return prefix + hashlib.sha256(prefix).digest() + data[end + 32 :]


def test_round_trip_returns_every_part_and_the_header(backup):
    info, parts = open_backup(backup, PASS)
    assert parts == PARTS
    assert (info.version, info.schema_head, info.dialect, info.created_ts) == (
        2,
        "0005",
        "sqlite",
        1_700_000_000_000,
    )
    assert info.part("database").sha256 == hashlib.sha256(PARTS["database"]).hexdigest()
    assert read_info(backup) == info
    _, chunks = _chunks(backup.read_bytes())
    assert len(chunks) == 6  # 5 full chunks and the rest, with the vault


@pytest.mark.parametrize("size", [0, 1, CHUNK - 30, CHUNK])
def test_parts_ending_on_or_around_a_chunk_boundary_round_trip(tmp_path, size):
    parts = {"database": os.urandom(size), "vault": b"v" * 30}
    _write(tmp_path / "b.tgb", parts)
    assert open_backup(tmp_path / "b.tgb", PASS)[1] == parts


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


@pytest.mark.parametrize("drop", [1, 2, 5])
def test_a_file_cut_at_a_chunk_boundary_says_truncated(backup, drop):
    head, chunks = _chunks(backup.read_bytes())
    backup.write_bytes(head + b"".join(chunks[:-drop]))
    with pytest.raises(BackupFileError, match="is truncated"):
        read_info(backup)


def test_a_cut_file_whose_header_is_edited_to_match_fails_authentication(backup):
    # Drop the final chunk and shrink the header's sizes to fit: the chunk now last was not
    # sealed as final, and the header is not the one the chunks were sealed with.
    head, chunks = _chunks(backup.read_bytes())

    def shrink(header):
        header["parts"] = [{**header["parts"][0], "size": 5 * CHUNK}]

    backup.write_bytes(_forge(head + b"".join(chunks[:-1]), shrink))
    assert read_info(backup).part("database").size == 5 * CHUNK
    with pytest.raises(BackupFileError, match="failed authentication"):
        open_backup(backup, PASS)


@pytest.mark.parametrize("chunk", range(6))
def test_a_flipped_byte_in_any_chunk_or_its_tag_fails_authentication(backup, chunk):
    head, chunks = _chunks(backup.read_bytes())
    for where in (0, len(chunks[chunk]) // 2, -1):
        altered = bytearray(chunks[chunk])
        altered[where] ^= 0x01
        backup.write_bytes(head + b"".join([*chunks[:chunk], bytes(altered), *chunks[chunk + 1 :]]))
        with pytest.raises(BackupFileError, match=f"failed authentication: chunk {chunk + 1} "):
            open_backup(backup, PASS)


def test_reordered_or_duplicated_chunks_fail_authentication(backup):
    head, chunks = _chunks(backup.read_bytes())
    swapped = [chunks[1], chunks[0], *chunks[2:]]
    repeated = [chunks[0], chunks[0], *chunks[2:]]
    for body, bad in ((swapped, 1), (repeated, 2)):
        backup.write_bytes(head + b"".join(body))
        with pytest.raises(BackupFileError, match=f"failed authentication: chunk {bad} of 6"):
            open_backup(backup, PASS)
    backup.write_bytes(head + b"".join([*chunks[:3], chunks[2], *chunks[3:]]))
    with pytest.raises(BackupFileError, match="longer than written"):
        open_backup(backup, PASS)


def test_chunks_from_another_backup_fail_authentication(tmp_path, backup):
    other = tmp_path / "other.tgb"
    _write(other)  # same passphrase, same parts: another salt, key and nonces
    head, _ = _chunks(backup.read_bytes())
    _, chunks = _chunks(other.read_bytes())
    backup.write_bytes(head + b"".join(chunks))
    with pytest.raises(BackupFileError, match="failed authentication: chunk 1 "):
        open_backup(backup, PASS)


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
    # Someone edits the schema revision and fixes the unkeyed checksum: the chunks bind it.
    backup.write_bytes(_forge(backup.read_bytes(), lambda h: h.update(schema_head="0004")))
    assert read_info(backup).schema_head == "0004"
    with pytest.raises(BackupFileError, match="failed authentication: chunk 1 "):
        open_backup(backup, PASS)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"version": 3}, "format version 3; this tradeguard reads versions 1, 2"),
        ({"chunk_bytes": 2**40}, "chunk_bytes 1099511627776 is not from"),
        ({"format": "other"}, "not a tradeguard backup"),
    ],
)
def test_a_header_this_version_cannot_read_is_named(backup, edit, message):
    backup.write_bytes(_forge(backup.read_bytes(), lambda h: h.update(edit)))
    with pytest.raises(BackupFileError, match=message):
        read_info(backup)


def test_a_file_that_is_no_backup_says_so(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text('mode = "paper"\n')
    with pytest.raises(BackupFileError, match="not a tradeguard backup"):
        read_info(path)
    with pytest.raises(BackupFileError, match="no backup at"):
        read_info(tmp_path / "missing.tgb")


def test_writing_and_reading_hold_one_chunk_in_memory_not_the_part(tmp_path):
    big = tmp_path / "image.bin"
    with big.open("wb") as fh:
        for _ in range(32):
            fh.write(os.urandom(1 << 20))
    out, back = tmp_path / "big.tgb", tmp_path / "back.bin"
    tracemalloc.start()
    try:
        with big.open("rb") as part:
            write_backup_file(out, [("database", part)], passphrase=PASS, created_ts=0,
                              schema_head="0006", dialect="sqlite", kdf=CHEAP)  # fmt: skip
        _, written_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with BackupReader(out) as reader, back.open("wb") as sink:
            reader.extract(PASS, {"database": sink})
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(big.read_bytes()).digest()
    assert written_peak < 8 << 20 and read_peak < 8 << 20  # a 32 MiB part, 1 MiB chunks


class _ChangedAfterHashing(io.FileIO):
    """A part's file that another writer changes in place once it has been hashed (the
    writer rewinds it to encrypt it)."""

    change = b""

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        with open(self.name, "r+b") as other:
            other.seek(0, os.SEEK_END if self.change.startswith(b"+") else os.SEEK_SET)
            other.write(self.change.lstrip(b"+"))
        return super().seek(pos, whence)


@pytest.mark.parametrize(
    ("change", "message"),
    [(b"X", "its database changed while"), (b"+more", "a part became longer while")],
)
def test_a_part_that_changes_while_it_is_backed_up_fails_and_leaves_nothing(
    tmp_path, change, message
):
    image = tmp_path / "image.db"
    image.write_bytes(b"0" * 10_000)
    out = tmp_path / "out" / "b.tgb"
    part = _ChangedAfterHashing(image, "rb")
    part.change = change
    with part, pytest.raises(BackupFileError, match=f"cannot write backup .*{message}"):
        write_backup_file(out, [("database", part)], passphrase=PASS, created_ts=0,
                          schema_head="0006", dialect="sqlite", kdf=CHEAP)  # fmt: skip
    assert list(out.parent.iterdir()) == []


def test_a_format_1_backup_still_opens(tmp_path):
    info, parts = open_backup(FORMAT1, FORMAT1_PASS)
    assert (info.version, info.dialect, [p.name for p in info.parts]) == (
        1,
        "sqlite",
        ["database", "vault"],
    )
    assert parts["database"].startswith(b"SQLite format 3\x00")
    assert b"written by format 1" in parts["database"]
    vault = tmp_path / "vault.json"
    vault.write_bytes(parts["vault"])
    restored = Vault(vault)
    restored.unlock("a long master passphrase")
    assert restored.get("binance-main").field("secret") == "s3cr3t-value"


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d[:-1], "truncated"),
        (lambda d: d[:-5000], "truncated"),
        (lambda d: d + b"\x00", "longer than written"),
        (lambda d: d[:-3000] + bytes([d[-3000] ^ 1]) + d[-2999:], "failed authentication"),
        (lambda d: d[:-1] + bytes([d[-1] ^ 1]), "failed authentication"),
        (lambda d: d[:20] + bytes([d[20] ^ 1]) + d[21:], "corrupted"),
    ],
)
def test_a_damaged_format_1_backup_gives_its_error(tmp_path, damage, message):
    path = tmp_path / "old.tgb"
    path.write_bytes(damage(FORMAT1.read_bytes()))
    with pytest.raises(BackupFileError, match=message):
        open_backup(path, FORMAT1_PASS)


def test_a_format_1_backup_with_the_wrong_passphrase_says_so():
    with pytest.raises(BackupFileError, match="wrong passphrase"):
        open_backup(FORMAT1, "not the passphrase it was made with")


def test_write_atomic_leaves_no_temp_file_and_replaces_whole(tmp_path):
    path = tmp_path / "b.tgb"
    write_atomic(path, b"first")
    write_atomic(path, b"second")
    assert path.read_bytes() == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.tgb"]
