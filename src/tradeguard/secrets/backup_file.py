"""The encrypted backup file: named parts sealed with AES-256-GCM under a scrypt-derived key.

Layout: `TGBACKUP`, the header's length (4 bytes, big-endian), the header (JSON), the SHA-256
of everything before it, then the ciphertext of the parts laid end to end. The header says
what the file holds (format version, creation time, schema revision, source dialect, each
part's size and SHA-256) and carries the KDF salt, a key check and the nonce; it is the
ciphertext's associated data, so changing any of it fails authentication.

Each way a file can be wrong has its own message: a header checksum that does not match
(corruption), a key check that fails (wrong passphrase), a file shorter than its header says
(truncated), a tag that fails (altered ciphertext or header).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tradeguard.secrets.redact import register_secret
from tradeguard.secrets.vault import ScryptParams, VaultError, _b64, _unb64

MAGIC = b"TGBACKUP"
FORMAT = "tradeguard-backup"
FORMAT_VERSION = 1
PASSPHRASE_ENV = "TG_BACKUP_PASSPHRASE"
DATABASE_PART, VAULT_PART = "database", "vault"  # the names of the parts a backup holds
MAX_HEADER_BYTES = 64 * 1024
MAX_PLAINTEXT_BYTES = 2**31 - 1 - 16  # one AES-GCM call of the cryptography package
_CHECK_LABEL = b"tradeguard-backup key check v1"
_TAG_BYTES = 16


class BackupFileError(Exception):
    """A backup file cannot be written or read; the message names the file and what is wrong."""


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


def seal(
    parts: Mapping[str, bytes],
    *,
    passphrase: str,
    created_ts: int,
    schema_head: str,
    dialect: str,
    kdf: ScryptParams | None = None,
) -> bytes:
    """Return the encrypted backup file holding `parts`, in their order."""
    register_secret(passphrase)
    params = kdf or ScryptParams()
    plaintext = b"".join(parts.values())
    if len(plaintext) > MAX_PLAINTEXT_BYTES:
        raise BackupFileError(
            f"backup would hold {len(plaintext):,} bytes; this format holds at most "
            f"{MAX_PLAINTEXT_BYTES:,} (back up a smaller database, e.g. after pruning events)"
        )
    salt, nonce = os.urandom(16), os.urandom(12)
    key, check_key = params.derive(passphrase, salt)
    header = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "created_ts": created_ts,
        "schema_head": schema_head,
        "dialect": dialect,
        "parts": [
            {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in parts.items()
        ],
        "kdf": params.spec(),
        "salt": _b64(salt),
        "key_check": _b64(_key_check(check_key, salt)),
        "nonce": _b64(nonce),
    }
    body = json.dumps(header, sort_keys=True).encode("utf-8")
    prefix = MAGIC + struct.pack(">I", len(body)) + body
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, prefix)
    return prefix + hashlib.sha256(prefix).digest() + ciphertext


def read_info(path: Path) -> BackupInfo:
    """Read and check the header of the backup at `path` (no passphrase needed)."""
    info, _, _ = _read(Path(path))
    return info


def open_backup(path: Path, passphrase: str) -> tuple[BackupInfo, dict[str, bytes]]:
    """Decrypt the backup at `path`; return its header and its parts by name."""
    path = Path(path)
    register_secret(passphrase)
    info, header, data = _read(path)
    prefix_len = len(MAGIC) + 4 + header["_length"]
    prefix, ciphertext = data[:prefix_len], data[prefix_len + 32 :]
    try:
        params = ScryptParams(**{k: header["kdf"][k] for k in ("n", "r", "p")})
        salt, nonce = _unb64(header["salt"]), _unb64(header["nonce"])
        expected = _unb64(header["key_check"])
        key, check_key = params.derive(passphrase, salt)
    except (KeyError, TypeError, ValueError, VaultError) as exc:
        raise BackupFileError(f"backup {path}: its header is malformed ({exc})") from None
    if not hmac.compare_digest(_key_check(check_key, salt), expected):
        raise BackupFileError(
            f"backup {path}: wrong passphrase (give the one the backup was made with, in "
            f"{PASSPHRASE_ENV} or at the prompt)"
        )
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, prefix)
    except InvalidTag:
        raise BackupFileError(
            f"backup {path} failed authentication: its contents were altered or corrupted "
            "after it was written; use another backup"
        ) from None
    return info, _split(path, info, plaintext)


def _read(path: Path) -> tuple[BackupInfo, dict[str, Any], bytes]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BackupFileError(f"no backup at {path}; check --in") from None
    except OSError as exc:
        raise BackupFileError(f"cannot read backup {path}: {exc.strerror}") from None
    if len(data) < len(MAGIC) + 4 and (MAGIC + bytes(4)).startswith(data[: len(MAGIC)]):
        raise BackupFileError(f"backup {path} is truncated: {len(data)} bytes, no header")
    if not data.startswith(MAGIC):
        raise BackupFileError(f"{path} is not a tradeguard backup (it does not start {MAGIC!r})")
    if len(data) < len(MAGIC) + 4:
        raise BackupFileError(f"backup {path} is truncated: {len(data)} bytes, no header")
    (length,) = struct.unpack(">I", data[len(MAGIC) : len(MAGIC) + 4])
    if length > MAX_HEADER_BYTES:
        raise BackupFileError(f"backup {path} is corrupted: header length {length:,} is absurd")
    end = len(MAGIC) + 4 + length
    if len(data) < end + 32:
        raise BackupFileError(
            f"backup {path} is truncated: {len(data):,} bytes, less than its header alone"
        )
    if hashlib.sha256(data[:end]).digest() != data[end : end + 32]:
        raise BackupFileError(
            f"backup {path} is corrupted: its header does not match its checksum; use another "
            "backup"
        )
    header = _parse_header(path, data[len(MAGIC) + 4 : end])
    header["_length"] = length
    info = _info(path, header)
    want = end + 32 + sum(p.size for p in info.parts) + _TAG_BYTES
    if len(data) != want:
        what = "truncated" if len(data) < want else "longer than written"
        raise BackupFileError(
            f"backup {path} is {what}: {len(data):,} bytes where its header says {want:,}; "
            "it was cut off while copying or writing, use another backup"
        )
    return info, header, data


def _parse_header(path: Path, body: bytes) -> dict[str, Any]:
    try:
        header = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BackupFileError(f"backup {path}: its header is not JSON") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupFileError(f"{path} is not a tradeguard backup (format {FORMAT!r} expected)")
    if header.get("version") != FORMAT_VERSION:
        raise BackupFileError(
            f"backup {path} has format version {header.get('version')!r}; this tradeguard "
            f"reads version {FORMAT_VERSION}: restore it with the version that wrote it"
        )
    return header


def _info(path: Path, header: Mapping[str, Any]) -> BackupInfo:
    try:
        parts = tuple(
            Part(str(p["name"]), int(p["size"]), str(p["sha256"])) for p in header["parts"]
        )
        return BackupInfo(
            version=int(header["version"]),
            created_ts=int(header["created_ts"]),
            schema_head=str(header["schema_head"]),
            dialect=str(header["dialect"]),
            parts=parts,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BackupFileError(f"backup {path}: its header is malformed ({exc})") from None


def _split(path: Path, info: BackupInfo, plaintext: bytes) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    offset = 0
    for part in info.parts:
        data = plaintext[offset : offset + part.size]
        offset += part.size
        if hashlib.sha256(data).hexdigest() != part.sha256:
            raise BackupFileError(f"backup {path}: part {part.name!r} fails its SHA-256 check")
        out[part.name] = data
    return out


def _key_check(check_key: bytes, salt: bytes) -> bytes:
    return hmac.new(check_key, _CHECK_LABEL + salt, hashlib.sha256).digest()
