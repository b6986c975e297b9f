"""Client order ids: unique across restarts, short enough for every venue (<= 32 chars)."""

from __future__ import annotations

import os
import re

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_VALID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


# the numbers below 36**2 in base 36, and the same as two digits with zeros: a sequence number
# below 36**3 (46,656 orders of a session) is one or two look-ups, not a loop of divmods
_UNDER_1296 = [a + b if a != "0" else b for a in _ALPHABET for b in _ALPHABET]
_TWO_DIGITS = [a + b for a in _ALPHABET for b in _ALPHABET]


def _base36(n: int) -> str:
    if 0 <= n < 46_656:
        high, low = divmod(n, 1296)
        return _ALPHABET[high] + _TWO_DIGITS[low] if high else _UNDER_1296[low]
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(_ALPHABET[r])
    return "".join(reversed(out))


class ClientOrderIdFactory:
    """Make ids `tg<session><seq>`; the session part is random so a restart never reuses one."""

    def __init__(self, prefix: str = "tg", session: str | None = None) -> None:
        if not re.fullmatch(r"[A-Za-z0-9]{1,6}", prefix):
            raise ValueError(f"client order id prefix {prefix!r} must be 1-6 letters or digits")
        self._prefix = prefix
        self._session = session or _base36(int.from_bytes(os.urandom(6), "big")).rjust(10, "0")
        self._seq = 0

    def next(self) -> str:
        self._seq += 1
        cid = f"{self._prefix}{self._session}-{_base36(self._seq)}"
        return cid

    @staticmethod
    def is_valid(cid: str) -> bool:
        return bool(_VALID.match(cid))
