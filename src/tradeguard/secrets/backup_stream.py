"""The chunked encryption of a backup's contents: memory bounded by one chunk, whatever the size.

The plaintext (the parts laid end to end) is cut into chunks of `chunk_bytes` (the last one
shorter, or empty when there is no plaintext). Chunk i is sealed alone with AES-256-GCM:

- nonce: the file's random 8-byte prefix followed by i as 4 bytes, big-endian, so no two chunks
  of any file share a nonce under one key (each file has its own salt, hence its own key, too);
- associated data: the SHA-256 of the file's header, i as 8 bytes and a final-chunk flag.

A chunk moved, repeated or taken from another file fails its tag (its nonce or header hash
differs); a file cut at a chunk boundary ends on a chunk that does not carry the final flag.

`PartSink` spreads decrypted bytes over the parts' destinations and checks each part's
SHA-256 once everything is authenticated.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:
    from pathlib import Path

    from tradeguard.secrets.backup_file import Part

TAG_BYTES = 16
NONCE_PREFIX_BYTES = 8
MAX_CHUNKS = 2**32  # the counter's 4 bytes in the nonce


class Readable(Protocol):
    """What a part is read from: a binary file, or anything with its `read`."""

    def read(self, size: int = -1, /) -> bytes: ...


class StreamError(Exception):
    """Raised inside the stream; backup_file turns it into a BackupFileError naming the file."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "truncated", "longer", "authentication", "read", "write", "check"


def chunk_count(total: int, chunk_bytes: int) -> int:
    """How many chunks hold `total` plaintext bytes (at least one: the final chunk)."""
    return max(1, -(-total // chunk_bytes))


def sealed_size(total: int, chunk_bytes: int) -> int:
    """The size of the sealed chunks of `total` plaintext bytes."""
    return total + TAG_BYTES * chunk_count(total, chunk_bytes)


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def _associated(header_digest: bytes, index: int, final: bool) -> bytes:
    return header_digest + struct.pack(">QB", index, 1 if final else 0)


def encrypt_chunks(
    key: bytes,
    nonce_prefix: bytes,
    header_digest: bytes,
    sources: Sequence[Readable],
    total: int,
    chunk_bytes: int,
    out: IO[bytes],
) -> int:
    """Seal `total` bytes read from `sources` in turn and write the chunks to `out`; return
    how many bytes were written. Holds one chunk at a time."""
    aead = AESGCM(key)
    count = chunk_count(total, chunk_bytes)
    if count >= MAX_CHUNKS:
        raise StreamError("write", f"{total:,} bytes need more than {MAX_CHUNKS:,} chunks")
    pending = list(sources)
    written = 0
    for index in range(count):
        want = min(chunk_bytes, total - index * chunk_bytes)
        data = _read_from(pending, want)
        if len(data) != want:
            raise StreamError("read", "a part became shorter while it was being encrypted")
        associated = _associated(header_digest, index, index == count - 1)
        sealed = aead.encrypt(_nonce(nonce_prefix, index), data, associated)
        out.write(sealed)
        written += len(sealed)
    if _read_from(pending, 1):
        raise StreamError("read", "a part became longer while it was being encrypted")
    return written


def _read_from(sources: list[Readable], want: int) -> bytes:
    """Read up to `want` bytes from the first sources, dropping each one it exhausts."""
    pieces: list[bytes] = []
    while want > 0 and sources:
        piece = sources[0].read(want)
        if not piece:
            sources.pop(0)
            continue
        pieces.append(piece)
        want -= len(piece)
    return b"".join(pieces)


def decrypt_chunks(
    source: IO[bytes],
    key: bytes,
    nonce_prefix: bytes,
    header_digest: bytes,
    total: int,
    chunk_bytes: int,
    sink: PartSink,
) -> None:
    """Open every chunk of `total` plaintext bytes from `source` into `sink`, in one pass."""
    aead = AESGCM(key)
    count = chunk_count(total, chunk_bytes)
    for index in range(count):
        want = min(chunk_bytes, total - index * chunk_bytes) + TAG_BYTES
        data = _read_exact(source, want)
        if len(data) != want:
            raise StreamError("truncated", f"it ends inside chunk {index + 1} of {count}")
        associated = _associated(header_digest, index, index == count - 1)
        try:
            plain = aead.decrypt(_nonce(nonce_prefix, index), data, associated)
        except InvalidTag:
            raise StreamError(
                "authentication",
                f"chunk {index + 1} of {count} fails its tag (a changed byte, a chunk moved or "
                "repeated, or a changed header)",
            ) from None
        sink.write(plain)
    if _read_exact(source, 1):
        raise StreamError("longer", "it goes on after its final chunk")


def _read_exact(source: IO[bytes], want: int) -> bytes:
    try:
        data = source.read(want)
        while data and len(data) < want:
            more = source.read(want - len(data))
            if not more:
                break
            data += more
    except OSError as exc:
        raise StreamError("read", f"reading it failed: {exc.strerror or exc}") from None
    return data


class PartSink:
    """Write a stream of plaintext to each part's destination in turn, hashing as it goes
    (a part without a destination is hashed and dropped)."""

    def __init__(self, path: Path, parts: Sequence[Part], targets: Mapping[str, IO[bytes]]):
        self._path = path
        self._parts = list(parts)
        self._targets = targets
        self._hashes = [hashlib.sha256() for _ in parts]
        self._index = 0
        self._left = parts[0].size if parts else 0

    def write(self, data: bytes) -> None:
        """Take the next bytes of the plaintext."""
        view = memoryview(data)
        while view:
            while self._left == 0:
                self._index += 1
                if self._index >= len(self._parts):
                    raise StreamError("check", "it holds more bytes than its parts")
                self._left = self._parts[self._index].size
            take = view[: self._left]
            part = self._parts[self._index]
            target = self._targets.get(part.name)  # a part this tradeguard has no use for
            try:
                if target is not None:
                    target.write(take)
            except OSError as exc:
                raise StreamError(
                    "write",
                    f"writing its {part.name} to {getattr(target, 'name', 'memory')} failed: "
                    f"{exc.strerror or exc}",
                ) from None
            self._hashes[self._index].update(take)
            self._left -= len(take)
            view = view[len(take) :]

    def finish(self) -> None:
        """Check that every part came whole and matches its SHA-256 (after authentication)."""
        for part, digest in zip(self._parts, self._hashes, strict=True):
            if digest.hexdigest() != part.sha256:
                raise StreamError("check", f"part {part.name!r} fails its SHA-256 check")
