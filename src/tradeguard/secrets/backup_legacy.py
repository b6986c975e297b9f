"""Reading backups of format version 1 (one AES-256-GCM message), as earlier tradeguards wrote.

Version 1 sealed all the parts as a single message: the header's `nonce`, the header bytes as
associated data, the 16-byte tag at the very end of the file. It is still read, in one pass
and with memory bounded by `READ_BYTES`: the tag is read first, then the ciphertext is
decrypted a piece at a time into the parts' destinations. The plaintext counts only once the
tag has been checked at the end (`finalize`); until then the caller has only written it to
its temporary destinations, which it removes on any failure.
"""

from __future__ import annotations

from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tradeguard.secrets.backup_stream import TAG_BYTES, PartSink, StreamError

READ_BYTES = 1 << 20


def sealed_size_v1(total: int) -> int:
    """The size of version 1's ciphertext and tag for `total` plaintext bytes."""
    return total + TAG_BYTES


def decrypt_v1(
    source: IO[bytes], key: bytes, nonce: bytes, prefix: bytes, total: int, sink: PartSink
) -> None:
    """Decrypt version 1's single message of `total` bytes from `source` into `sink`."""
    start = source.tell()
    source.seek(start + total)
    tag = source.read(TAG_BYTES)
    if len(tag) != TAG_BYTES:
        raise StreamError("truncated", "its tag is missing")
    if source.read(1):
        raise StreamError("longer", "it goes on after its tag")
    source.seek(start)
    decryptor = Cipher(algorithms.AES(key), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(prefix)
    left = total
    while left:
        data = source.read(min(READ_BYTES, left))
        if not data:
            raise StreamError("truncated", "it ends inside its ciphertext")
        sink.write(decryptor.update(data))
        left -= len(data)
    try:
        decryptor.finalize()
    except InvalidTag:
        raise StreamError(
            "authentication", "its tag does not match (a changed byte or a changed header)"
        ) from None
