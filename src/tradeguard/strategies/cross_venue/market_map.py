"""The human-curated map of Polymarket <-> Kalshi pairs: the only source of what may be traded.

```python
book = load_market_map("examples/pm_map.toml")
pair = book.pairs["fed-dec-above-4"]
why = pair.refusal(now_ms)        # "" when the pair may be traded, else why not
```

Pairs are never matched by title. Each entry names the Polymarket market (slug and token ids) and
the Kalshi ticker, how YES on one side maps to the other (`orientation`), each side's resolution
source, time and void rule, and who reviewed the pairing and until when the review holds. A pair
that is unreviewed, whose review has expired, whose resolution time has passed, or whose two
sides void differently is refused (for new entries: held legs still settle).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from tradeguard.model.errors import ConfigError
from tradeguard.model.instrument import SYMBOL_MAX_LEN, is_symbol
from tradeguard.model.toml_text import loads_toml

Orientation = Literal["same", "inverted"]
VOID_RULES = ("50-50", "refund", "none")
_QUOTE_MAX_LEN = 10  # params.pm_quote (CrossVenueParams) is 2-10 capitals or digits
# a pair id or event goes into every record, event, log line and table of the pair
_IDENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_TOKEN_RE = re.compile(r"[A-Za-z0-9]{1,100}")  # Polymarket token ids are uint256 in decimal
_NAME_MAX_LEN = 100
_SOURCE_MAX_LEN = 500
_PAIR_KEYS = {
    "id",
    "event",
    "orientation",
    "reviewed_by",
    "reviewed_at",
    "review_expires_at",
    "close_tolerance_s",
    "notes",
    "polymarket",
    "kalshi",
}
_SIDE_KEYS = {
    "polymarket": {
        "market",
        "yes_token",
        "no_token",
        "resolution_source",
        "resolves_at",
        "void_rule",
    },
    "kalshi": {"ticker", "resolution_source", "resolves_at", "void_rule"},
}


@dataclass(frozen=True, slots=True)
class MapSide:
    """One venue's half of a pair: its market, how and when it resolves, what voids it."""

    market: str  # Polymarket slug or Kalshi ticker
    resolution_source: str
    resolves_at_ms: int
    void_rule: str
    yes_token: str = ""
    no_token: str = ""


@dataclass(frozen=True, slots=True)
class MappedPair:
    """Two markets a human says are the same contract (or each other's inverse)."""

    id: str
    event: str
    orientation: Orientation
    polymarket: MapSide
    kalshi: MapSide
    reviewed_by: str
    reviewed_at_ms: int
    review_expires_at_ms: int
    close_tolerance_s: int

    @property
    def settles_at_ms(self) -> int:
        """Return the later of the two resolution times (capital is locked until then)."""
        return max(self.polymarket.resolves_at_ms, self.kalshi.resolves_at_ms)

    def refusal(self, now_ms: int) -> str:
        """Return why this pair may not be traded at `now_ms`, or "" when it may."""
        if not self.reviewed_by or not self.reviewed_at_ms:
            return f"pair {self.id}: not reviewed (set reviewed_by and reviewed_at after a review)"
        if not self.review_expires_at_ms:
            return (
                f"pair {self.id}: reviewed by {self.reviewed_by} with no review_expires_at; "
                "set when the review must be made again"
            )
        if now_ms >= self.review_expires_at_ms:
            return (
                f"pair {self.id}: review by {self.reviewed_by} expired at "
                f"{_iso(self.review_expires_at_ms)}; review it again and move review_expires_at"
            )
        resolves = min(self.polymarket.resolves_at_ms, self.kalshi.resolves_at_ms)
        if now_ms >= resolves:  # entered now, the money waits on a market that should be settled
            return (
                f"pair {self.id}: resolution time {_iso(resolves)} has passed; no new entry "
                "(held legs still settle); map the next market or move resolves_at"
            )
        if self.polymarket.void_rule != self.kalshi.void_rule:
            return (
                f"pair {self.id}: void rules differ (polymarket {self.polymarket.void_rule!r}, "
                f"kalshi {self.kalshi.void_rule!r}); a void on one side would not hedge the other"
            )
        gap_s = abs(self.polymarket.resolves_at_ms - self.kalshi.resolves_at_ms) / 1000
        if gap_s > self.close_tolerance_s:
            return (
                f"pair {self.id}: resolution times differ by {gap_s:.0f} s, beyond "
                f"close_tolerance_s={self.close_tolerance_s}"
            )
        return ""


@dataclass(frozen=True, slots=True)
class MarketMap:
    """Every mapped pair by id, and the file it came from."""

    pairs: dict[str, MappedPair]
    source: str = ""

    def tradeable(self, now_ms: int) -> list[MappedPair]:
        """Return the pairs that may be traded now (reviewed, unexpired, unresolved, one void
        rule)."""
        return [p for p in self.pairs.values() if not p.refusal(now_ms)]


def load_market_map(path: str | Path) -> MarketMap:
    """Read and check a map file; ConfigError names the file, the pair, the key and the value."""
    p = Path(path)
    try:
        doc = loads_toml(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"market map {p}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"market map {p}: not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"market map {p}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    return parse_market_map(doc, str(p))


def parse_market_map(doc: dict[str, Any], source: str = "market map") -> MarketMap:
    """Build a MarketMap from parsed TOML (`[[pairs]]` entries)."""
    unknown = sorted(set(doc) - {"pairs"})
    if unknown:
        raise ConfigError(f"{source}: unknown top-level key(s) {unknown}; expected [[pairs]]")
    raw = doc.get("pairs", [])
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{source}: no [[pairs]] entry; add at least one reviewed pair")
    pairs: dict[str, MappedPair] = {}
    seen_markets: dict[str, str] = {}
    for i, entry in enumerate(raw):
        pair = _pair(entry, f"{source}: pairs[{i}]")
        if pair.id in pairs:
            raise ConfigError(f"{source}: pairs[{i}].id = {pair.id!r} is used twice")
        for market in (f"pm:{pair.polymarket.market}", f"k:{pair.kalshi.market}"):
            if market in seen_markets:
                raise ConfigError(
                    f"{source}: pairs[{i}] maps {market.split(':', 1)[1]!r} again (already in "
                    f"pair {seen_markets[market]!r}); a market belongs to one pair"
                )
            seen_markets[market] = pair.id
        pairs[pair.id] = pair
    return MarketMap(pairs, source)


def _pair(entry: Any, where: str) -> MappedPair:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = sorted(set(entry) - _PAIR_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known keys: {sorted(_PAIR_KEYS)}")
    pair_id = _ident(entry, "id", where)
    where = f"{where} ({pair_id})"
    event = _ident(entry, "event", where) if "event" in entry else pair_id
    orientation = entry.get("orientation", "same")
    if orientation not in ("same", "inverted"):
        raise ConfigError(
            f"{where}.orientation = {_shown(orientation)}: must be 'same' (YES is YES) or "
            "'inverted' (Polymarket YES is Kalshi NO)"
        )
    tolerance = entry.get("close_tolerance_s", 3600)
    if type(tolerance) is not int or not 0 <= tolerance <= 7 * 86_400:
        raise ConfigError(
            f"{where}.close_tolerance_s = {_shown(tolerance)}: must be an integer in [0, 604800] s"
        )
    reviewed_by = _reviewer(entry.get("reviewed_by", ""), where)
    reviewed_at = _time(entry, "reviewed_at", where) if "reviewed_at" in entry else 0
    expires = _time(entry, "review_expires_at", where) if "review_expires_at" in entry else 0
    if reviewed_at and expires and expires <= reviewed_at:
        raise ConfigError(
            f"{where}.review_expires_at = {_iso(expires)}: must be after reviewed_at "
            f"{_iso(reviewed_at)}"
        )
    return MappedPair(
        id=pair_id,
        event=event,
        orientation=orientation,
        polymarket=_side(entry, "polymarket", where),
        kalshi=_side(entry, "kalshi", where),
        reviewed_by=reviewed_by,
        reviewed_at_ms=reviewed_at,
        review_expires_at_ms=expires,
        close_tolerance_s=tolerance,
    )


def _side(entry: dict[str, Any], venue: str, where: str) -> MapSide:
    raw = entry.get(venue)
    where = f"{where}.{venue}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: missing; each pair names both sides")
    unknown = sorted(set(raw) - _SIDE_KEYS[venue])
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(_SIDE_KEYS[venue])}")
    void = raw.get("void_rule")
    if void not in VOID_RULES:
        raise ConfigError(f"{where}.void_rule = {_shown(void)}: must be one of {list(VOID_RULES)}")
    side = MapSide(
        market=_text(raw, "market" if venue == "polymarket" else "ticker", where),
        resolution_source=_source(raw, where),
        resolves_at_ms=_time(raw, "resolves_at", where),
        void_rule=void,
        yes_token=_token(raw, "yes_token", where) if venue == "polymarket" else "",
        no_token=_token(raw, "no_token", where) if venue == "polymarket" else "",
    )
    _fits_a_symbol(side.market, "market" if venue == "polymarket" else "ticker", where)
    if side.yes_token and side.yes_token == side.no_token:
        raise ConfigError(f"{where}: yes_token and no_token are the same ({side.yes_token!r})")
    return side


def _fits_a_symbol(market: str, key: str, where: str) -> None:
    """The market's outcome symbols (`MARKET:YES/QUOTE`) must be symbols the whole program takes
    (config, command line, API, database), so a long slug is refused here, not at its first
    order or sale."""
    room = SYMBOL_MAX_LEN - len(":YES/") - _QUOTE_MAX_LEN
    if len(market) > room:
        raise ConfigError(
            f"{where}.{key} = {market[:40]!r}... ({len(market)} characters): at most {room} "
            f"characters (its outcome symbols MARKET:YES/QUOTE are at most {SYMBOL_MAX_LEN})"
        )
    if not is_symbol(f"{market}:YES/USD"):
        raise ConfigError(
            f"{where}.{key} = {market!r}: letters, digits, '.', '_' and '-' only, as the venue "
            "spells the market"
        )


def _text(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}.{key} = {_shown(value)}: required, a non-empty string")
    return value.strip()


def _shown(value: Any) -> str:
    """`value` as written, cut to a short line (an array or table of 200 KB too)."""
    if isinstance(value, str) and len(value) > 40:
        return f"{value[:40]!r}... ({len(value)} characters)"
    text = repr(value)
    if len(text) > 60:
        return f"{text[:40]}... (a {type(value).__name__} of {len(text)} characters)"
    return text


def _ident(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or _IDENT_RE.fullmatch(value) is None:
        raise ConfigError(
            f"{where}.{key} = {_shown(value)}: 1-100 letters, digits, '.', '_' and '-' "
            "(ASCII, starting with a letter or digit)"
        )
    return value


def _reviewer(value: Any, where: str) -> str:
    """'' (or no key) is unreviewed; anything else must be a name, never a `false` or `{}`
    that would read as one."""
    if value == "" and isinstance(value, str):
        return ""
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > _NAME_MAX_LEN or not text.isprintable():
        raise ConfigError(
            f"{where}.reviewed_by = {_shown(value)}: a name of 1-{_NAME_MAX_LEN} printable "
            "characters (leave the key out while the pair is unreviewed)"
        )
    return text


def _source(raw: dict[str, Any], where: str) -> str:
    value = raw.get("resolution_source")
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > _SOURCE_MAX_LEN or not text.isprintable():
        raise ConfigError(
            f"{where}.resolution_source = {_shown(value)}: 1-{_SOURCE_MAX_LEN} printable "
            "characters, the rule book's source of the result"
        )
    return text


def _token(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    text = value.strip() if isinstance(value, str) else ""
    if _TOKEN_RE.fullmatch(text) is None:
        raise ConfigError(
            f"{where}.{key} = {_shown(value)}: 1-100 ASCII letters and digits, the token id "
            "as the CLOB lists it"
        )
    return text


def _time(raw: dict[str, Any], key: str, where: str) -> int:
    value = raw.get(key)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        raise ConfigError(
            f"{where}.{key} = {_shown(value)}: required, a TOML date or date-time such as "
            "2026-12-17T19:00:00Z"
        )
    return int(moment.timestamp() * 1000)


def _iso(ms: int) -> str:
    # isoformat, not strftime("%Y"): glibc writes year 1 as "1", not "0001"
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
