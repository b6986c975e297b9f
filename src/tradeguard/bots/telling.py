"""What a token bound to one bot may read of a refusal: a public message, never the private one.

```python
public = withheld("MAX_DAILY_LOSS", "order rejected: today's loss 512.20 USDT ...")
# -> "MAX_DAILY_LOSS: refused by the account's risk limits or the venue; ..."
```

Every denial, rejection and error a bot's trade carries has two texts: `reason`, for account
tokens and the audit log, and `public_reason`, for the bot's own token. The bot's own checks
(its limits, cooldown, confirmations) speak only of the bot's figures, so both are one text.
The risk engine's denials and the venue's answers may name the account's figures (equity,
today's loss, balances) in any words, so their public text is made here from the code alone.
"""

from __future__ import annotations

from typing import Any

# the halt's advice (how to close while halted) names no figure: it is passed on
_FLATTEN = "; to close positions while halted"


def withheld(code: str, reason: str = "") -> str:
    """Return the public text of a refusal by the account's limits or the venue: its code."""
    if code == "TRADING_HALTED":
        _, sep, advice = reason.partition(_FLATTEN)
        why = "the account's figures and the halt's cause are withheld from a bot's token"
        return f"{code}: trading is HALTED; {why}{sep}{advice}"
    if not code or code == "OK":
        return ""
    return (
        f"{code}: refused by the account's risk limits or the venue; the account's figures are "
        "withheld from a bot's token"
    )


def set_outcome(doc: dict[str, Any], code: str, reason: str, public: str | None = None) -> None:
    """Set a trade record's code and reasons; `public` None: the reason is withheld from bots."""
    doc.update(code=code, reason=reason, public_reason=withheld(code, reason) if public is None
               else public)  # fmt: skip


# the codes of the bot's own checks (its gate, sizing, confirmations): their reasons name the
# bot's figures only, so a record stored before public reasons were keeps its words for the bot
_OWN_CODES = ("CONFIRMATION_REQUIRED", "CONFIRMATION_REFUSED", "SIGNALS_NEEDED", "NO_PRICE")


def public_of(doc: dict[str, Any]) -> str:
    """Return what a bot's token reads of a trade record's reason: its public one; for a record
    stored without one, the reason of the bot's own check, else its code alone."""
    public = doc.get("public_reason")
    if isinstance(public, str):
        return public
    code, reason = str(doc.get("code") or ""), str(doc.get("reason") or "")
    if code.startswith("BOT_") or code in _OWN_CODES:
        return reason
    return withheld(code, reason)
