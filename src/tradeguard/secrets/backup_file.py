"""The encrypted backup file: named parts sealed in chunks under a scrypt-derived key.

Layout: `TGBACKUP`, the header's length (4 bytes, big-endian), the header (JSON), the SHA-256
of everything before it, then the sealed contents. The header says what the file holds (format
version, creation time, schema revision, source dialect, each part's size and SHA-256) and
carries the KDF salt, a key check and the nonce material; its SHA-256 is bound into every
chunk's authentication, so changing any of it fails authentication.

Format version 2 (written): the parts laid end to end, sealed in chunks of `chunk_bytes`
(backup_stream). Writing and reading hold one chunk in memory whatever the size of the
database. Format version 1 (one AES-GCM message for everything) is still read
(backup_legacy).

Each way a file can be wrong has its own message: a header checksum that does not match
(corruption), a key check that fails (wrong passphrase), a file shorter or longer than its
header says (truncated, also at a chunk boundary), a tag that fails (altered, reordered or
duplicated chunks, or a changed header).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from tradeguard.secrets.atomic import atomic_file
from tradeguard.secrets.backup_legacy import decrypt_v1, sealed_size_v1
from tradeguard.secrets.backup_stream import (
    NONCE_PREFIX_BYTES,
    PartSink,
    StreamError,
    decrypt_chunks,
    encrypt_chunks,
    sealed_size,
)
from tradeguard.secrets.redact import register_secret
from tradeguard.secrets.vault import ScryptParams, VaultError, _b64, _unb64

MAGIC = b"TGBACKUP"
FORMAT = "tradeguard-backup"
FORMAT_VERSION = 2  # the version written; READ_VERSIONS are read
READ_VERSIONS = (1, 2)
PASSPHRASE_ENV = "TG_BACKUP_PASSPHRASE"
DATABASE_PART, VAULT_PART = "database", "vault"  # the names of the parts a backup holds
MAX_HEADER_BYTES = 64 * 1024
CHUNK_BYTES = 1 << 20  # plaintext per chunk: what writing or reading holds in memory
MIN_CHUNK_BYTES, MAX_CHUNK_BYTES = 4096, 64 << 20  # what a header may say
_HASH_READ_BYTES = 1 << 20
_CHECK_LABEL = b"tradeguard-backup key check v1"
_DIGEST_BYTES = 32


class BackupFileError(Exception):
    """A backup file cannot be written or read; the message names the file and what is wrong.

    (The command line prints it as one line, as it does a vault error: `secrets` imports
    nothing of ours, so this is no TradeguardError.)"""


@dataclass(frozen=True, slots=True)
class Part:
    """One thing a backup holds: its name, size and SHA-256 (hex) of its plaintext."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """What a backup header says; readable without the passphrase."""

    version: int
    created_ts: int
    schema_head: str
    dialect: str
    parts: tuple[Part, ...]

    def part(self, name: str) -> Part | None:
        """Return the part called `name`, or None."""
        return next((p for p in self.parts if p.name == name), None)

    @property
    def plaintext_bytes(self) -> int:
        """The size of every part together."""
        return sum(p.size for p in self.parts)


@dataclass(frozen=True, slots=True)
class _Header:
    info: BackupInfo
    fields: dict[str, Any]
    prefix: bytes  # MAGIC, length and the JSON header: version 1's associated data
    digest: bytes  # SHA-256 of `prefix`, as stored after it: bound into version 2's chunks

    @property
    def body_start(self) -> int:
        return len(self.prefix) + _DIGEST_BYTES


def write_backup_file(
    out: Path,
    parts: Sequence[tuple[str, IO[bytes]]],
    *,
    passphrase: str,
    created_ts: int,
    schema_head: str,
    dialect: str,
    kdf: ScryptParams | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> int:
    """Write the encrypted backup of `parts` (name, readable file at its start) to `out`
    atomically, in format version 2; return its size. Each part is read twice (its SHA-256
    goes in the header, then it is encrypted), a chunk at a time."""
    register_secret(passphrase)
    params = kdf or ScryptParams()
    described = [(name, *_size_and_sha256(fh)) for name, fh in parts]
    total = sum(size for _, size, _ in described)
    salt, nonce_prefix = os.urandom(16), os.urandom(NONCE_PREFIX_BYTES)
    key, check_key = params.derive(passphrase, salt)
    header = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "created_ts": created_ts,
        "schema_head": schema_head,
        "dialect": dialect,
        "parts": [{"name": n, "size": size, "sha256": sha} for n, size, sha in described],
        "kdf": params.spec(),
        "salt": _b64(salt),
        "key_check": _b64(_key_check(check_key, salt)),
        "nonce_prefix": _b64(nonce_prefix),
        "chunk_bytes": chunk_bytes,
    }
    body = json.dumps(header, sort_keys=True).encode("utf-8")
    prefix = MAGIC + struct.pack(">I", len(body)) + body
    digest = hashlib.sha256(prefix).digest()
    sources = [_Hashing(fh) for _, fh in parts]
    try:
        with atomic_file(out) as fh:
            fh.write(prefix + digest)
            sealed = encrypt_chunks(key, nonce_prefix, digest, sources, total, chunk_bytes, fh)
            for (name, _, sha), source in zip(described, sources, strict=True):
                if source.hexdigest() != sha:  # the header would promise other contents
                    raise StreamError("read", f"its {name} changed while it was being encrypted")
    except OSError as exc:
        raise BackupFileError(
            f"cannot write backup {out}: {exc.strerror or exc}; nothing was written under "
            "that name (free some space, or choose another --out)"
        ) from None
    except StreamError as exc:
        raise BackupFileError(f"cannot write backup {out}: {exc}") from None
    return len(prefix) + len(digest) + sealed


def _size_and_sha256(fh: IO[bytes]) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    while block := fh.read(_HASH_READ_BYTES):
        digest.update(block)
        size += len(block)
    fh.seek(0)
    return size, digest.hexdigest()


class _Hashing:
    """A file being read, with the SHA-256 of what was read so far."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self._digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self._digest.update(data)
        return data

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


class BackupReader:
    """A backup file opened once: its header is read and checked at once (no passphrase
    needed), then `extract` decrypts the contents in one pass."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._fh: IO[bytes] = self.path.open("rb")
        except FileNotFoundError:
            raise BackupFileError(f"no backup at {self.path}; check --in") from None
        except OSError as exc:
            raise BackupFileError(f"cannot read backup {self.path}: {exc.strerror}") from None
        try:
            self._header = _read_header(self.path, self._fh)
        except BaseException:
            self._fh.close()
            raise
        self.info = self._header.info

    def __enter__(self) -> BackupReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self._fh.close()

    def extract(self, passphrase: str, targets: Mapping[str, IO[bytes]]) -> None:
        """Decrypt every part into `targets` (a writable file per part name). Raises
        BackupFileError for a wrong passphrase or any damage; what was written to `targets`
        then counts for nothing, and only when this returns is every byte authenticated."""
        register_secret(passphrase)
        header, fields, path = self._header, self._header.fields, self.path
        key = _derive_key(path, fields, passphrase)
        sink = PartSink(path, self.info.parts, targets)
        total = self.info.plaintext_bytes
        self._fh.seek(header.body_start)
        try:
            if self.info.version == 1:
                nonce = _field_bytes(path, fields, "nonce", 12)
                decrypt_v1(self._fh, key, nonce, header.prefix, total, sink)
            else:
                prefix = _field_bytes(path, fields, "nonce_prefix", NONCE_PREFIX_BYTES)
                chunk = int(fields["chunk_bytes"])
                decrypt_chunks(self._fh, key, prefix, header.digest, total, chunk, sink)
            sink.finish()
        except StreamError as exc:
            raise _stream_error(path, exc) from None


def read_info(path: Path) -> BackupInfo:
    """Read and check the header of the backup at `path` (no passphrase needed)."""
    with BackupReader(path) as reader:
        return reader.info


def open_backup(path: Path, passphrase: str) -> tuple[BackupInfo, dict[str, bytes]]:
    """Decrypt the backup at `path`; return its header and its parts by name, in memory (for
    small backups and checks: a restore extracts into files instead)."""
    with BackupReader(path) as reader:
        targets = {part.name: io.BytesIO() for part in reader.info.parts}
        reader.extract(passphrase, targets)
        return reader.info, {name: buf.getvalue() for name, buf in targets.items()}


def _stream_error(path: Path, exc: StreamError) -> BackupFileError:
    advice = "use another backup"
    if exc.kind == "authentication":
        return BackupFileError(
            f"backup {path} failed authentication: {exc}; it was altered or corrupted after "
            f"it was written, {advice}"
        )
    if exc.kind == "truncated":
        return BackupFileError(
            f"backup {path} is truncated: {exc}; it was cut off while copying or writing, {advice}"
        )
    if exc.kind == "longer":
        return BackupFileError(f"backup {path} is longer than written: {exc}; {advice}")
    if exc.kind == "read":
        return BackupFileError(f"cannot read backup {path}: {exc}")
    if exc.kind == "write":
        return BackupFileError(
            f"cannot restore backup {path}: {exc}; nothing was restored (free some space)"
        )
    return BackupFileError(f"backup {path}: {exc}; {advice}")


def _derive_key(path: Path, fields: Mapping[str, Any], passphrase: str) -> bytes:
    try:
        params = ScryptParams(**{k: fields["kdf"][k] for k in ("n", "r", "p")})
        salt = _unb64(fields["salt"])
        expected = _unb64(fields["key_check"])
        key, check_key = params.derive(passphrase, salt)
    except (KeyError, TypeError, ValueError, VaultError) as exc:
        raise BackupFileError(f"backup {path}: its header is malformed ({exc})") from None
    if not hmac.compare_digest(_key_check(check_key, salt), expected):
        raise BackupFileError(
            f"backup {path}: wrong passphrase (give the one the backup was made with, in "
            f"{PASSPHRASE_ENV} or at the prompt)"
        )
    return key


def _field_bytes(path: Path, fields: Mapping[str, Any], name: str, size: int) -> bytes:
    try:
        value = _unb64(fields[name])
    except (KeyError, TypeError, ValueError):
        value = b""
    if len(value) != size:
        raise BackupFileError(f"backup {path}: its header is malformed ({name})")
    return value


def _read_header(path: Path, fh: IO[bytes]) -> _Header:
    try:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(len(MAGIC) + 4)
    except OSError as exc:
        raise BackupFileError(f"cannot read backup {path}: {exc.strerror}") from None
    if len(head) < len(MAGIC) + 4 and (MAGIC + bytes(4)).startswith(head[: len(MAGIC)]):
        raise BackupFileError(f"backup {path} is truncated: {size} bytes, no header")
    if not head.startswith(MAGIC):
        raise BackupFileError(f"{path} is not a tradeguard backup (it does not start {MAGIC!r})")
    if len(head) < len(MAGIC) + 4:
        raise BackupFileError(f"backup {path} is truncated: {size} bytes, no header")
    (length,) = struct.unpack(">I", head[len(MAGIC) :])
    if length > MAX_HEADER_BYTES:
        raise BackupFileError(f"backup {path} is corrupted: header length {length:,} is absurd")
    body, stored = fh.read(length), fh.read(_DIGEST_BYTES)
    if len(body) < length or len(stored) < _DIGEST_BYTES:
        raise BackupFileError(
            f"backup {path} is truncated: {size:,} bytes, less than its header alone"
        )
    prefix = head + body
    digest = hashlib.sha256(prefix).digest()
    if not hmac.compare_digest(digest, stored):
        raise BackupFileError(
            f"backup {path} is corrupted: its header does not match its checksum; use another "
            "backup"
        )
    fields = _parse_header(path, body)
    header = _Header(_info(path, fields), fields, prefix, digest)
    _check_size(path, header, size)
    return header


def _check_size(path: Path, header: _Header, size: int) -> None:
    total = header.info.plaintext_bytes
    if header.info.version == 1:
        sealed = sealed_size_v1(total)
    else:
        chunk = header.fields.get("chunk_bytes")
        if not isinstance(chunk, int) or not MIN_CHUNK_BYTES <= chunk <= MAX_CHUNK_BYTES:
            raise BackupFileError(
                f"backup {path}: its header is malformed (chunk_bytes {chunk!r} is not from "
                f"{MIN_CHUNK_BYTES:,} to {MAX_CHUNK_BYTES:,})"
            )
        sealed = sealed_size(total, chunk)
    want = header.body_start + sealed
    if size != want:
        what = "truncated" if size < want else "longer than written"
        raise BackupFileError(
            f"backup {path} is {what}: {size:,} bytes where its header says {want:,}; "
            "it was cut off or changed while copying or writing, use another backup"
        )


def _parse_header(path: Path, body: bytes) -> dict[str, Any]:
    try:
        header = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BackupFileError(f"backup {path}: its header is not JSON") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupFileError(f"{path} is not a tradeguard backup (format {FORMAT!r} expected)")
    if header.get("version") not in READ_VERSIONS:
        raise BackupFileError(
            f"backup {path} has format version {header.get('version')!r}; this tradeguard "
            f"reads versions {', '.join(map(str, READ_VERSIONS))}: restore it with the version "
            "that wrote it"
        )
    return header


def _info(path: Path, header: Mapping[str, Any]) -> BackupInfo:
    try:
        parts = tuple(
            Part(str(p["name"]), int(p["size"]), str(p["sha256"])) for p in header["parts"]
        )
        info = BackupInfo(
            version=int(header["version"]),
            created_ts=int(header["created_ts"]),
            schema_head=str(header["schema_head"]),
            dialect=str(header["dialect"]),
            parts=parts,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BackupFileError(f"backup {path}: its header is malformed ({exc})") from None
    if any(p.size < 0 for p in parts) or len({p.name for p in parts}) != len(parts):
        raise BackupFileError(f"backup {path}: its header is malformed (parts)")
    return info


def _key_check(check_key: bytes, salt: bytes) -> bytes:
    return hmac.new(check_key, _CHECK_LABEL + salt, hashlib.sha256).digest()
