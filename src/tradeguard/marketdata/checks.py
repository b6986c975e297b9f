"""Checks a candle file must pass before it is replayed.

- The file is text: no NUL byte (a binary file), valid UTF-8 (a BOM is allowed).
- It ends with a line end: a last line without one is taken as truncated (a number cut short
  still parses, so `1266572.0451` cut to `1266` would replay as a wrong volume).
- It holds at least one row besides the header.
- Open times lie from 2009-01-01 to before 2100-01-01 UTC (`EARLIEST_OPEN_MS`,
  `LATEST_OPEN_MS`): a time outside is a unit mistake (seconds or nanoseconds for ms), a sign
  or a damaged row, and would move the replay clock by decades.
- Epoch integers are ms, or microseconds for a whole file (Binance Vision spot klines from
  2025-01-01 on): the first row's open time sets the unit (`time_scale`), every later row is
  read in it and one that is not in range in it (another unit) is refused naming the row.
- Timestamps strictly increase. Duplicate policy: a row whose timestamp and values are identical
  to the row before is dropped and counted (the count is logged as a warning); a row with the
  same timestamp but other values is an error, as is any timestamp going backwards.

Each error names the file, the row (1-based file line, or record for binary formats) and the
value.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tradeguard.marketdata.errors import DataFileError
from tradeguard.model.market import Candle

log = logging.getLogger(__name__)

# A candle's open time (epoch ms) lies in [EARLIEST_OPEN_MS, LATEST_OPEN_MS): no market traded
# before 2009, and a time from 2100 on is a unit mistake (microseconds read as ms)
EARLIEST_OPEN_MS = 1_230_768_000_000  # 2009-01-01 00:00 UTC
LATEST_OPEN_MS = 4_102_444_800_000  # 2100-01-01 00:00 UTC
# the same range in microseconds: disjoint from the ms range, so a time reads as one or neither
EARLIEST_OPEN_US = EARLIEST_OPEN_MS * 1000
LATEST_OPEN_US = LATEST_OPEN_MS * 1000
_UNITS = {1: ("ms", "milliseconds"), 1000: ("µs", "microseconds")}


def time_scale(first_ts: int) -> int:
    """The unit of a file's epoch integers from its first row's open time, as what one ms holds:
    1000 when it reads as microseconds in the open-time range, else 1 (ms; the range check
    names a time outside)."""
    return 1000 if EARLIEST_OPEN_US <= first_ts < LATEST_OPEN_US else 1


def read_csv_text(path: Path) -> str:
    """Read a CSV file as UTF-8 text, refusing binary, non-UTF-8 and truncated files."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataFileError(path, f"cannot read the file: {exc.strerror}") from None
    if not data.strip():
        raise DataFileError(path, "file is empty; expected a header and rows")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise DataFileError(
            path,
            f"binary data (NUL byte at byte offset {nul}); expected CSV text",
            row=data.count(b"\n", 0, nul) + 1,
            value=data[max(0, nul - 8) : nul + 8],
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFileError(
            path,
            f"not UTF-8 text (byte offset {exc.start}); save the file as UTF-8",
            row=data.count(b"\n", 0, exc.start) + 1,
            value=data[exc.start : exc.start + 4],
        ) from None
    if not text.endswith("\n"):
        last = text.rsplit("\n", 1)[-1]
        raise DataFileError(
            path,
            "the last line has no line end, so it may be cut short; complete the row and end "
            "the file with a newline",
            row=text.count("\n") + 1,
            value=last,
        )
    return text


def open_time_error(
    path: Path,
    row: int,
    column: str,
    value: object,
    ts: int,
    first_row: int | None = None,
    scale: int = 1,
    what: str = "open time",
) -> DataFileError:
    """The error for a candle opening at `ts` (epoch ms, or microseconds for `scale` 1000),
    outside the open-time range: it names the range and, when the time fits it in another
    unit, that unit; with `first_row` (the row whose time set the file's unit, see
    `time_scale`), the unit that row set. `what` names the time (a trade's, a quote's)."""
    short = _UNITS[scale][0]
    hint = ""
    for other, per in (("seconds", -1000), ("milliseconds", 1), ("microseconds", 1000),
                       ("nanoseconds", 1_000_000)):  # fmt: skip
        as_ms = ts * -per if per < 0 else ts // per
        if per != scale and ts > 0 and EARLIEST_OPEN_MS <= as_ms < LATEST_OPEN_MS:
            hint = f"; it reads as {other}: write epoch milliseconds"
            if first_row is not None and first_row != row:
                hint = (
                    f"; it reads as {other}, and row {first_row}'s {what} as {short}: "
                    "write every time of the file in one unit"
                )
            break
    return DataFileError(
        path,
        f"the {what} {ts} {short} is out of range: it must be from 2009-01-01 (epoch "
        f"{short} {EARLIEST_OPEN_MS * scale}) to before 2100-01-01 UTC "
        f"({LATEST_OPEN_MS * scale}){hint}",
        row=row,
        column=column,
        value=value,
    )


class TimeOrder:
    """Check that bars come in strictly increasing time; drop identical duplicate rows.

    The loader compares each timestamp with the last one kept itself (the fast path) and calls
    `keep` only for a bar that is not later.
    """

    __slots__ = ("dropped", "path")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.dropped = 0

    def keep(self, bar: Candle, row: int, raw_ts: object, prev: Candle, prev_row: int) -> bool:
        """Return False for a row identical to `prev` (dropped); raise when out of order."""
        if bar.ts == prev.ts:
            if (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
                prev.open,
                prev.high,
                prev.low,
                prev.close,
                prev.volume,
            ):
                self.dropped += 1
                return False
            raise DataFileError(
                self.path,
                f"duplicate timestamp with other values than row {prev_row}; "
                "remove one of the two rows",
                row=row,
                column="timestamp",
                value=raw_ts,
            )
        raise DataFileError(
            self.path,
            f"timestamp goes backwards (row {prev_row} is later); sort the file by time",
            row=row,
            column="timestamp",
            value=raw_ts,
        )

    def finish(self, rows: int) -> None:
        """Refuse a file without rows; log how many identical duplicates were dropped."""
        if rows == 0 and self.dropped == 0:
            raise DataFileError(self.path, "no rows after the header; expected OHLCV rows", row=1)
        if self.dropped:
            log.warning(
                "%s: dropped %d row(s) identical to the row before (duplicate timestamps)",
                self.path,
                self.dropped,
            )
