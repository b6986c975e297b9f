"""What one bot may do: its limits, cooldowns, confirmation policy and sizing rule.

```python
spec = BotSpec.parse("alpha", {"max_order_usd": "50", "max_position_usd": "100",
                               "daily_loss_usd": "20", "symbols": ["BTC/USDT"]})
spec.to_doc()   # JSON-ready, money as strings
```
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal, InvalidOperation
from typing import Any

from tradeguard.bots.sizing import SizeRule, SizingError
from tradeguard.model.errors import TradeguardError
from tradeguard.model.holdings import HOLDINGS
from tradeguard.model.instrument import SYMBOL_RULE, is_symbol
from tradeguard.model.money import plain

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_MONEY_CAP = Decimal(1_000_000)


class BotError(TradeguardError):
    """A bot's name, spec or request is not acceptable; the message names field, value, limit."""


class UnknownBot(BotError):
    """No bot of that name is registered."""


@dataclass(frozen=True, slots=True)
class BotSpec:
    """One bot's limits (USD), cooldowns (s), breaker and confirmation policy."""

    name: str
    max_order_usd: Decimal
    max_position_usd: Decimal
    daily_loss_usd: Decimal
    weekly_loss_usd: Decimal | None = None  # unset: only the daily limit (and the node's own)
    # every symbol's position and working entries together; unset: max_position_usd per symbol
    max_total_position_usd: Decimal | None = None
    venue: str = "paper"
    symbols: tuple[str, ...] = ()  # empty: any symbol the node trades
    cooldown_s: int = 0
    max_losing_streak: int = 3
    one_position_per_symbol: bool = True
    require_confirmation: bool = True
    confirmation_ttl_s: int = 60
    confirmations_needed: int = 1  # agreeing validate-trade approvals inside the window
    confirmation_window_s: int = 300
    sizing: SizeRule = field(default_factory=SizeRule)

    @classmethod
    def parse(cls, name: str, doc: dict[str, Any]) -> BotSpec:
        """Build a spec from a config or stored document; raise BotError naming the field."""
        check_name(name)
        known = {f.name for f in fields(cls)} - {"name"}
        unknown = sorted(set(doc) - known)
        if unknown:
            raise BotError(f"bot {name}: unknown field {unknown[0]!r}; known: {sorted(known)}")
        kw: dict[str, Any] = {"name": name}
        for key in ("max_order_usd", "max_position_usd", "daily_loss_usd"):
            if key not in doc:
                raise BotError(f'bot {name}: {key} is required (a USD amount such as "50")')
            kw[key] = money(f"bot {name}: {key}", doc[key], _MONEY_CAP)
        for key in ("weekly_loss_usd", "max_total_position_usd"):
            if doc.get(key) is not None:
                kw[key] = money(f"bot {name}: {key}", doc[key], _MONEY_CAP)
        if "venue" in doc:
            kw["venue"] = str(doc["venue"])
        if "symbols" in doc:
            kw["symbols"] = tuple(str(s) for s in doc["symbols"])
        bounds = {
            "cooldown_s": (0, 7 * 86_400),
            "max_losing_streak": (1, 1000),
            "confirmation_ttl_s": (1, 3600),
            "confirmations_needed": (1, 20),
            "confirmation_window_s": (1, 86_400),
        }
        for key, (lo, hi) in bounds.items():
            if key in doc:
                kw[key] = integer(f"bot {name}: {key}", doc[key], lo, hi)
        for key in ("one_position_per_symbol", "require_confirmation"):
            if key in doc:
                if not isinstance(doc[key], bool):
                    raise BotError(f"bot {name}: {key}={doc[key]!r} must be true or false")
                kw[key] = doc[key]
        if "sizing" in doc:
            try:
                kw["sizing"] = SizeRule.parse(f"bot {name}: sizing", doc["sizing"])
            except SizingError as exc:
                raise BotError(str(exc)) from None
        spec = cls(**kw)
        if spec.max_order_usd > spec.max_position_usd:
            raise BotError(
                f"bot {name}: max_order_usd={spec.max_order_usd} exceeds "
                f"max_position_usd={spec.max_position_usd}; lower it or raise the position limit"
            )
        total = spec.max_total_position_usd
        if total is not None and total < spec.max_position_usd:
            raise BotError(
                f"bot {name}: max_total_position_usd={total} is below "
                f"max_position_usd={spec.max_position_usd}; raise it or lower the per-symbol limit"
            )
        return spec

    def to_doc(self) -> dict[str, Any]:
        """Return the spec as a JSON-ready document (without the name)."""
        doc = {k: v for k, v in asdict(self).items() if k not in ("name", "sizing")}
        doc = {k: (plain(v) if isinstance(v, Decimal) else v) for k, v in doc.items()}
        doc["symbols"] = list(self.symbols)
        doc["sizing"] = self.sizing.to_doc()
        return doc

    def updated(self, changes: dict[str, Any]) -> BotSpec:
        """Return a spec with `changes` applied and checked."""
        doc = self.to_doc()
        doc.update(changes)
        return BotSpec.parse(self.name, doc)


def check_name(name: str) -> str:
    """Return `name` if it is a valid bot name, else raise BotError."""
    if not NAME_PATTERN.fullmatch(name):  # '$' of match() lets a trailing newline through
        raise BotError(
            f"bot name {name!r} must be 1-32 characters: lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    if name == HOLDINGS:  # a bot's orders are booked to its name
        raise BotError(
            f"bot name {name!r} names the account's trades made by hand, whose fills open no "
            "position (the bot's exits would never run); choose another name"
        )
    return name


def money(what: str, value: Any, cap: Decimal) -> Decimal:
    """Read a positive Decimal amount (string or int, never float) up to `cap`."""
    if isinstance(value, bool | float) or not isinstance(value, str | int | Decimal):
        raise BotError(f'{what}={value!r} must be a decimal string such as "50"')
    text = str(value).strip()
    if not text.isascii():
        # Decimal reads any script's digits ("５０" is 50); the API's schema takes 0-9 only
        raise BotError(f'{what}={value!r} must be written with the digits 0-9, such as "50"')
    if "_" in text:  # Decimal reads "1_0" as 10: a typo for 1.0 was a limit ten times it
        raise BotError(
            f"{what}={value!r} must be written without '_' between digits, such as \"50\""
        )
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise BotError(f"{what}={value!r} is not a decimal number") from None
    if not d.is_finite() or not 0 < d <= cap:
        raise BotError(f"{what}={value} must be > 0 and <= {cap}")
    return d


def integer(what: str, value: Any, lo: int, hi: int) -> int:
    """Read an int within [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise BotError(f"{what}={value!r} must be a whole number from {lo} to {hi}")
    return value


def check_symbols(name: str, raw: Any) -> tuple[str, ...]:
    """Return a new bot's symbols, each BASE/QUOTE (or MARKET:YES/QUOTE); BotError names a bad
    one. Checked where symbols come in (command line, config), not on reading stored bots."""
    if not isinstance(raw, list | tuple):
        raise BotError(f"bot {name}: symbols = {raw!r} must be a list such as ['BTC/USDT']")
    for s in raw:
        if not is_symbol(s):
            long = isinstance(s, str) and len(s) > 64
            shown = f"{s[:64]!r}... ({len(s)} characters)" if long else repr(s)
            raise BotError(f"bot {name}: symbol {shown} is not {SYMBOL_RULE}")
    return tuple(raw)
