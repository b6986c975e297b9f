"""The token-unlock calendar: a CSV or JSON file of unlock events, validated row by row.

Columns (CSV header, or keys of each JSON object): `token`, `unlock_time_utc`, `amount`,
`pct_of_supply` (percent of circulating supply), `source_url`, and an optional `note`. CSV lines
starting with `#` are comments. Every bad row is reported, each on one line naming the file, the
row, the field, the value and what was expected.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

REQUIRED = ("token", "unlock_time_utc", "amount", "pct_of_supply", "source_url")
OPTIONAL = ("note",)
_TOKEN = re.compile(r"^[A-Z0-9]{1,20}$")
_MAX_REPORTED = 20
_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")  # what splitlines() splits on
MAX_CALENDAR_BYTES = 16 * 1024 * 1024  # far above any real calendar; /dev/zero is not one


class CalendarError(ValueError):
    """The calendar file cannot be used; the message lists every bad row (up to 20)."""


@dataclass(frozen=True, slots=True)
class UnlockEvent:
    """One scheduled unlock of `amount` tokens, `pct_of_supply` % of the circulating supply."""

    token: str
    unlock_ms: int
    amount: Decimal
    pct_of_supply: Decimal
    source_url: str
    note: str = ""

    @property
    def key(self) -> str:
        """Return a stable id for the event (token and unlock time)."""
        return f"{self.token}@{self.unlock_ms}"

    @property
    def when(self) -> str:
        """Return the unlock time as ISO 8601 UTC."""
        dt = datetime.fromtimestamp(self.unlock_ms / 1000, UTC)  # ValueError outside 1-9999
        return f"{dt.year:04d}" + dt.strftime("-%m-%dT%H:%M:%SZ")  # %Y drops zeros before 1000


def _time_ms(raw: str) -> int:
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)  # raises ValueError on anything else
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    elif dt.utcoffset() != UTC.utcoffset(None):
        raise ValueError("offset")
    return int(dt.timestamp() * 1000)


# A figure as a person reads it off the source: ASCII digits, a point, an exponent. Decimal()
# also reads Python's `1_0` and any script's digits (Arabic-Indic, full-width).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_DIGITS = "ASCII digits"


def _decimal(raw: str) -> Decimal | None:
    text = raw.strip()
    if not _NUMBER.fullmatch(text):
        return None
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def parse_row(row: dict[str, Any]) -> tuple[UnlockEvent | None, list[str]]:
    """Check one row's fields; return the event, or None and one message per bad field."""
    errors: list[str] = []
    cells = {k: "" if row.get(k) is None else str(row.get(k)).strip() for k in REQUIRED + OPTIONAL}
    token = cells["token"].upper()
    if not _TOKEN.match(token):
        errors.append(f"token = {cells['token']!r}: expected 1-20 letters or digits, e.g. ETH")
    unlock_ms = 0
    try:
        unlock_ms = _time_ms(cells["unlock_time_utc"])
    except ValueError:
        errors.append(
            f"unlock_time_utc = {cells['unlock_time_utc']!r}: expected an ISO 8601 UTC time "
            "such as 2018-01-15T12:00:00Z"
        )
    amount = _decimal(cells["amount"])
    if amount is None or amount <= 0:
        errors.append(
            f"amount = {cells['amount']!r}: expected a number above 0 (tokens) in {_DIGITS}"
        )
    pct = _decimal(cells["pct_of_supply"])
    if pct is None or not 0 < pct <= 100:
        errors.append(
            f"pct_of_supply = {cells['pct_of_supply']!r}: "
            f"expected a number in (0, 100] in {_DIGITS}"
        )
    url = cells["source_url"]
    if not url.startswith(("https://", "http://")) or len(url) > 500 or " " in url:
        errors.append(f"source_url = {url!r}: expected an http(s) URL of at most 500 characters")
    for column in ("source_url", "note"):
        if not _text(cells[column]):  # a JSON "\ud800" escape: no UTF-8 file can hold it
            errors.append(f"{column}: holds a lone surrogate (\\ud800-\\udfff), not text")
    if errors or amount is None or pct is None:
        return None, errors
    note = _BREAKS.sub(" ", cells["note"])  # a CSV row is one line: a note must fit on it
    return UnlockEvent(token, unlock_ms, amount, pct, url, note), []


def _text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _csv_rows(text: str, name: str) -> list[tuple[int, dict[str, Any]]]:
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    lines = [(n, line) for n, line in lines if not line.lstrip().startswith("#")]
    if not lines:
        raise CalendarError(f"unlock calendar {name}: no header and no rows")
    header_no, header_line = lines[0]
    try:
        header = [h.strip() for h in next(csv.reader([header_line]))]
    except csv.Error as exc:
        raise CalendarError(f"unlock calendar {name} header (line {header_no}): {exc}") from None
    _check_columns(name, f"header (line {header_no})", header)
    out = []
    for n, line in lines[1:]:
        try:
            cells = next(csv.reader(io.StringIO(line)))
        except csv.Error as exc:  # a field over csv.field_size_limit() (128 KiB)
            out.append((n, {"__width__": f"not a CSV row: {exc}"}))
            continue
        if len(cells) != len(header):
            out.append((n, {"__width__": f"{len(cells)} fields, the header has {len(header)}"}))
            continue
        out.append((n, dict(zip(header, cells, strict=True))))
    return out


_JSON_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
MAX_JSON_DEPTH = 32  # a calendar is a list (or {"events": [...]}) of flat objects


def _too_deep(text: str) -> bool:
    """Whether the JSON text nests deeper than MAX_JSON_DEPTH, counted before parsing: the
    parser recurses on the C stack, which a deep document can overflow when a library has raised
    the recursion limit."""
    depth = 0
    for ch in _NOT_BRACKETS.sub("", _JSON_STRINGS.sub("", text)):
        depth += 1 if ch in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            return True
    return False


def _json_rows(text: str, name: str) -> list[tuple[int, dict[str, Any]]]:
    if _too_deep(text):
        raise CalendarError(
            f"unlock calendar {name}: not valid JSON: nested too deeply "
            f"(more than {MAX_JSON_DEPTH} levels)"
        )
    try:
        doc = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, or an integer of over 4300 digits
        raise CalendarError(f"unlock calendar {name}: not valid JSON: {exc}") from None
    except RecursionError:
        raise CalendarError(f"unlock calendar {name}: not valid JSON: nested too deeply") from None
    if isinstance(doc, dict):
        doc = doc.get("events")
    if not isinstance(doc, list):
        raise CalendarError(
            f'unlock calendar {name}: expected a list of events (or {{"events": [...]}})'
        )
    out: list[tuple[int, dict[str, Any]]] = []
    for i, item in enumerate(doc, 1):
        if not isinstance(item, dict):
            out.append((i, {"__width__": f"expected an object, got {type(item).__name__}"}))
            continue
        problem = _column_problem(list(item))
        expected = f"expected {list(REQUIRED)} (+ optional {list(OPTIONAL)})"
        out.append((i, {"__width__": f"{problem} columns; {expected}"} if problem else item))
    return out


def _column_problem(columns: list[str]) -> str:
    """Name the missing and unknown columns ("" when there are none)."""
    missing = [c for c in REQUIRED if c not in columns]
    unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
    parts = [f"missing {missing}"] if missing else []
    parts += [f"unknown {unknown}"] if unknown else []
    return "; ".join(parts)


def _check_columns(name: str, where: str, columns: list[str]) -> None:
    problem = _column_problem(columns)
    if problem:
        raise CalendarError(
            f"unlock calendar {name} {where}: {problem} columns; "
            f"expected {list(REQUIRED)} (+ optional {list(OPTIONAL)})"
        )


def parse_calendar(text: str, name: str, fmt: str) -> list[UnlockEvent]:
    """Parse calendar text (`fmt` "csv" or "json"); raise CalendarError listing bad rows."""
    rows = _json_rows(text, name) if fmt == "json" else _csv_rows(text, name)
    label = "event" if fmt == "json" else "line"
    events: list[UnlockEvent] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for n, row in rows:
        if "__width__" in row:
            problems.append(f"{name} {label} {n}: {row['__width__']}")
            continue
        event, errors = parse_row(row)
        problems.extend(f"{name} {label} {n}: {e}" for e in errors)
        if event is None:
            continue
        if event.key in seen:
            problems.append(
                f"{name} {label} {n}: {event.token} at {event.when} repeats "
                f"{label} {seen[event.key]}"
            )
            continue
        seen[event.key] = n
        events.append(event)
    if problems:
        more = len(problems) - _MAX_REPORTED
        shown = problems[:_MAX_REPORTED] + ([f"... and {more} more"] if more > 0 else [])
        raise CalendarError("unlock calendar has bad rows:\n  " + "\n  ".join(shown))
    if not events:
        raise CalendarError(f"unlock calendar {name}: no events (a header alone is not a calendar)")
    return sorted(events, key=lambda e: (e.unlock_ms, e.token))


def load_calendar(path: str | Path) -> list[UnlockEvent]:
    """Read and validate a `.csv` or `.json` unlock calendar; raise CalendarError if unusable."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise CalendarError(f"unlock calendar {p}: expected a .csv or .json file, got {suffix!r}")
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_CALENDAR_BYTES + 1)
        if len(data) > MAX_CALENDAR_BYTES:
            raise CalendarError(
                f"unlock calendar {p}: larger than {MAX_CALENDAR_BYTES:,} bytes; "
                "is it the right file?"
            )
        text = data.decode("utf-8-sig")  # a spreadsheet's "CSV UTF-8" starts with a BOM
    except FileNotFoundError:
        raise CalendarError(f"unlock calendar {p} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CalendarError(f"unlock calendar {p} cannot be read: {exc}") from None
    return parse_calendar(text, str(p), suffix[1:])


def shift_events(events: list[UnlockEvent], shift_ms: int, label: str) -> list[UnlockEvent]:
    """Return the events moved by `shift_ms`, each note saying so (`label` names the shift)."""
    out = []
    for e in events:
        note = f"{e.note} [{label}: was {e.when}]".strip()
        moved = replace(e, unlock_ms=e.unlock_ms + shift_ms, note=note)
        moved.when  # noqa: B018 - raises ValueError if the time left years 1-9999
        out.append(moved)
    return out


def calendar_csv(events: list[UnlockEvent], header_comment: str = "") -> str:
    """Render events as a calendar CSV that `load_calendar` reads back unchanged."""
    buf = io.StringIO()
    for line in header_comment.splitlines():
        buf.write(f"# {line}\n")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*REQUIRED, *OPTIONAL])
    for e in events:
        w.writerow([e.token, e.when, e.amount, e.pct_of_supply, e.source_url, e.note])
    return buf.getvalue()
