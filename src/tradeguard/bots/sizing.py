"""Order size from a signal's score: a step table or a line between two bounds.

```python
rule = SizeRule.parse("sizing", {"kind": "linear", "min_score": "0.5", "max_score": "1",
                                 "min_usd": "10", "max_usd": "50"})
rule.size_usd(Decimal("0.75"))   # -> (Decimal("30"), "linear 0.5..1 -> 10..50 USD")
```

The result is always capped afterwards by the bot's limits and the risk engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from tradeguard.model.errors import TradeguardError
from tradeguard.model.money import ZERO, plain

_SIZING_KEYS = {
    "fixed": {"kind"},
    "table": {"kind", "steps"},
    "linear": {"kind", "min_score", "max_score", "min_usd", "max_usd"},
}


class SizingError(TradeguardError):
    """A sizing rule is malformed; the message names the field and value."""


def _dec(what: str, value: Any) -> Decimal:
    if isinstance(value, bool | float) or not isinstance(value, str | int | Decimal):
        raise SizingError(f'{what}={value!r} must be a decimal string such as "0.5"')
    text = str(value)
    if not text.isascii() or "_" in text:  # Decimal reads "５０" as 50 and "1_0" as 10
        raise SizingError(f'{what}={value!r} must be written with the digits 0-9, such as "0.5"')
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise SizingError(f"{what}={value!r} is not a decimal number") from None
    if not d.is_finite():
        raise SizingError(f"{what}={value!r} is not finite")
    return d


@dataclass(frozen=True, slots=True)
class SizeRule:
    """`fixed` (the bot's max order), `table` (score >= step -> USD) or `linear` (two bounds)."""

    kind: str = "fixed"
    steps: tuple[tuple[Decimal, Decimal], ...] = ()  # (min score, USD), ascending by score
    min_score: Decimal = ZERO
    max_score: Decimal = Decimal(1)
    min_usd: Decimal = ZERO
    max_usd: Decimal = ZERO

    @classmethod
    def parse(cls, what: str, doc: Any) -> SizeRule:
        """Build a rule from its document; raise SizingError naming the field."""
        if not isinstance(doc, dict):
            raise SizingError(f"{what} must be a table with kind = fixed, table or linear")
        if "kind" not in doc:  # `{}` or a rule without its kind would size by another rule
            raise SizingError(
                f"{what}: kind is required: fixed (the bot's max_order_usd), table (steps) or "
                'linear (min_score, max_score, min_usd, max_usd), e.g. {"kind": "fixed"}'
            )
        kind = doc["kind"]
        allowed = _SIZING_KEYS.get(kind) if isinstance(kind, str) else None
        unknown = sorted(set(doc) - allowed) if allowed is not None else []
        if unknown:  # a misspelt key would be dropped and the bot sized another way than meant
            raise SizingError(
                f"{what}: unknown key(s) {unknown} for kind = {kind!r}; "
                f"known: {sorted(allowed or ())}"
            )
        if kind == "fixed":
            return cls()
        if kind == "table":
            raw = doc.get("steps")
            if not isinstance(raw, list) or not raw:
                raise SizingError(f'{what}.steps must be a list of ["min score", "usd"] pairs')
            steps: list[tuple[Decimal, Decimal]] = []
            for i, pair in enumerate(raw):
                if not isinstance(pair, list | tuple) or len(pair) != 2:
                    raise SizingError(f'{what}.steps[{i}]={pair!r} must be ["min score", "usd"]')
                usd = _dec(f"{what}.steps[{i}] usd", pair[1])
                if usd < 0:
                    raise SizingError(f"{what}.steps[{i}] usd={usd} must be >= 0")
                score = _dec(f"{what}.steps[{i}] score", pair[0])
                twin = next((j for j, (s, _) in enumerate(steps) if s == score), None)
                if twin is not None:  # two sizes for one score: the sort would keep the larger
                    raise SizingError(
                        f"{what}.steps[{i}] score={pair[0]} repeats steps[{twin}]'s; "
                        "each score threshold once"
                    )
                steps.append((score, usd))
            if all(usd == 0 for _, usd in steps):
                raise SizingError(f"{what}.steps: every step sizes 0 USD; one needs usd > 0")
            return cls(kind="table", steps=tuple(sorted(steps)))
        if kind == "linear":
            keys = ("min_score", "max_score", "min_usd", "max_usd")
            missing = [k for k in keys if k not in doc]
            if missing:
                raise SizingError(f"{what}: linear sizing needs {missing[0]}")
            v = {k: _dec(f"{what}.{k}", doc[k]) for k in keys}
            if v["min_score"] >= v["max_score"]:
                raise SizingError(
                    f"{what}.min_score={v['min_score']} must be below max_score={v['max_score']}"
                )
            if not 0 <= v["min_usd"] <= v["max_usd"] or v["max_usd"] == 0:
                raise SizingError(
                    f"{what}: need 0 <= min_usd={v['min_usd']} <= max_usd={v['max_usd']}, "
                    "max_usd > 0"
                )
            return cls(
                kind="linear", min_score=v["min_score"], max_score=v["max_score"],
                min_usd=v["min_usd"], max_usd=v["max_usd"],
            )  # fmt: skip
        raise SizingError(f"{what}.kind={kind!r} must be fixed, table or linear")

    def size_usd(self, score: Decimal | None, fallback_usd: Decimal) -> tuple[Decimal, str]:
        """Return (USD size, the rule as words) for a score; `fallback_usd` for `fixed`.

        A table or linear rule sizes nothing without a score: falling back to the bot's
        largest order would trade a signal without a score above the rule's own maximum.
        """
        if self.kind == "fixed":
            return fallback_usd, f"fixed {fallback_usd} USD"
        if score is None:
            return ZERO, f"{self.kind} sizing needs a score (or temperature); none given"
        if self.kind == "table":
            usd = ZERO
            used = "below every step"
            for min_score, step_usd in self.steps:
                if score >= min_score:
                    usd, used = step_usd, f"score >= {min_score}"
            return usd, f"table step {used} -> {usd} USD"
        clamped = min(max(score, self.min_score), self.max_score)
        frac = (clamped - self.min_score) / (self.max_score - self.min_score)
        usd = self.min_usd + (self.max_usd - self.min_usd) * frac
        if score < self.min_score:
            usd = ZERO  # under the lower bound the signal is too weak to trade
        words = f"linear {self.min_score}..{self.max_score} -> {self.min_usd}..{self.max_usd} USD"
        return usd.quantize(Decimal("0.01")), words

    def to_doc(self) -> dict[str, Any]:
        """Return the rule as a JSON-ready document."""
        if self.kind == "table":
            return {"kind": "table", "steps": [[plain(s), plain(u)] for s, u in self.steps]}
        if self.kind == "linear":
            return {"kind": "linear", "min_score": plain(self.min_score),
                    "max_score": plain(self.max_score), "min_usd": plain(self.min_usd),
                    "max_usd": plain(self.max_usd)}  # fmt: skip
        return {"kind": "fixed"}
