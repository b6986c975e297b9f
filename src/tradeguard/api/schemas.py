"""Request bodies of the API: strict, with Decimal money given as strings."""

from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from tradeguard.model.enums import OrderType, Side, TimeInForce, TradingMode
from tradeguard.model.holdings import HOLDINGS
from tradeguard.model.instrument import SYMBOL_MAX_LEN, SYMBOL_PATTERN
from tradeguard.model.order import OrderIntent
from tradeguard.model.signal_keys import API_SOURCE_KEY, api_source_error, reserved_signal_error
from tradeguard.model.text import ONE_LINE_PATTERN, REASON_PATTERN, one_line_error
from tradeguard.risk.engine import ARB_UNWIND_TAG, KILL_FLATTEN_TAG

MAX_AMOUNT = Decimal("1e12")
MAX_PLACES = 18
MAX_SIGNAL_BYTES = 4096
SIGNAL_DEPTH = 8  # levels of nesting a signal may have


# A query value is read as given; PostgreSQL stores no NUL.
NO_NUL = r"^[^\x00]*$"
STRATEGY_ID = r"^[A-Za-z0-9_.:-]{1,40}$"
# An id this node issues and a client sends back (a confirmation `cf_…`, a bot trade `bt_…`):
# letters, digits, `_` and `-`. No space, control character or look-alike letter (a Cyrillic
# `с`), each of which named no id yet was looked up, echoed and written to the audit log.
ISSUED_ID = r"^[A-Za-z0-9_-]{1,64}$"
# A client order id: the node's own, or a venue's for an order adopted from it (a venue's ids
# hold `.`, `:` or `/`), so any visible ASCII character but a space.
ORDER_ID = r"^[!-~]{1,128}$"  # a Polymarket order hash alone is 66
VENUE_NAME = r"^[a-z0-9_-]{1,32}$"


# Free text a person sends (a reason, a tag): stored, audited, logged and shown on the
# dashboard and the terminal, where a newline forged a log line and an escape sequence redrew
# the screen. The command line's --reason holds to the same rule.
ONE_LINE = ONE_LINE_PATTERN
REASON = REASON_PATTERN  # a reason: one line, not only spaces (the command line trims it)


SIGNAL_RULE = (
    f"plain JSON nested at most {SIGNAL_DEPTH} levels; every key and string is one line of "
    "text (no control character, line separator or bidi control)"
)


def plain_json(value: Any, where: str, depth: int = 0) -> None:
    """Refuse what JSON cannot carry back (NaN, Infinity), nesting deeper than the limit and
    a key or string that is not one line of printable text."""
    if depth > SIGNAL_DEPTH:
        raise ValueError(f"{where} is nested deeper than {SIGNAL_DEPTH} levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} = {value}: not a finite number (JSON has no NaN or Infinity)")
    if isinstance(value, str) and (error := one_line_error(value)) is not None:
        raise ValueError(f"{where}: {error}")
    if isinstance(value, dict):
        for key, item in value.items():
            if (error := one_line_error(key)) is not None:
                raise ValueError(f"a key of {where}: {error}")
            plain_json(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            plain_json(item, f"{where}[{i}]", depth + 1)


# What the schema promises: ASCII digits, > 0, < 1e12, at most 18 places (the validator below
# also reads exponents, so its errors can name the limit a value breaks).
MONEY_PATTERN = r"^([1-9][0-9]{0,11}(\.[0-9]{1,18})?|0\.[0-9]{0,17}[1-9])$"


def _decimal(value: Any) -> Decimal:
    # Floats are refused: 0.1 is not 0.1 once it is a float, and money must be exact.
    if isinstance(value, bool | float):
        raise ValueError(
            f'must be a decimal string such as "0.015", got the JSON number {value!r}; '
            "send numbers as strings so no precision is lost"
        )
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError('must be a decimal string of at most 40 characters, such as "0.015"')
    if not value.isascii():
        # Decimal() reads any Unicode digit ("１" is 1); the schema promises ASCII only.
        raise ValueError(f'{value!r} must be written with ASCII digits 0-9, such as "0.015"')
    if "_" in value:  # Decimal reads "1_0" as 10: a typo for 1.0 would trade ten times it
        raise ValueError(f"{value!r} must be written without '_' between digits, such as \"0.015\"")
    try:
        d = Decimal(value.strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number") from None
    if not d.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    if not 0 < d <= MAX_AMOUNT:
        raise ValueError(f"{value!r} must be > 0 and <= {MAX_AMOUNT:f}")
    exponent = d.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_PLACES:
        raise ValueError(f"{value!r} has more than {MAX_PLACES} decimal places")
    return d


def _json_bool(value: Any) -> bool:
    # pydantic's lax mode reads "yes", "on", "1" and 1 as true: a guess on an order's meaning
    if isinstance(value, bool):
        return value
    raise ValueError(f"must be true or false (a JSON boolean), not {value!r}")


JsonBool = Annotated[bool, BeforeValidator(_json_bool)]

Money = Annotated[
    Decimal,
    BeforeValidator(_decimal),
    Field(json_schema_extra={"type": "string", "pattern": MONEY_PATTERN}),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IntentRequest(_Body):
    """An order intent from outside: the same risk checks as any built-in strategy."""

    strategy_id: str = Field(default="external", pattern=STRATEGY_ID)
    venue: str = Field(pattern=VENUE_NAME)
    symbol: str = Field(pattern=SYMBOL_PATTERN, max_length=SYMBOL_MAX_LEN)
    side: Side
    type: OrderType = OrderType.MARKET
    amount: Money
    price: Money | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: JsonBool = False
    stop_loss: Money | None = None
    take_profit: Money | None = None
    signal: dict[str, Any] = Field(default_factory=dict, description=SIGNAL_RULE)
    tag: str = Field(default="", max_length=40, pattern=ONE_LINE)

    @field_validator("strategy_id")
    @classmethod
    def _not_holdings(cls, v: str) -> str:
        if v == HOLDINGS:  # its fills move balances only: no position, no stop
            raise ValueError(
                f"strategy_id {v!r} names the account's trades made by hand, whose fills open "
                "no position (a stop_loss would never be watched); use another strategy_id"
            )
        return v

    @field_validator("tag")
    @classmethod
    def _no_kill_tag(cls, v: str) -> str:
        if v.strip().lower() == KILL_FLATTEN_TAG:
            raise ValueError(
                f"tag {KILL_FLATTEN_TAG!r} is reserved for the kill switch's own flatten orders; "
                "use POST /api/v1/kill with flatten=true to close positions"
            )
        if v.strip().lower() == ARB_UNWIND_TAG:  # it passes max_trades_per_day and REDUCING
            raise ValueError(
                f"tag {ARB_UNWIND_TAG!r} is reserved for the arbitrage executors' unwinds; "
                "use another tag (reduce_only=true closes a position while REDUCING)"
            )
        return v

    @field_validator("signal")
    @classmethod
    def _small_signal(cls, v: dict[str, Any]) -> dict[str, Any]:
        plain_json(v, "signal")
        # keys the node reads off its own orders; the API's record of who placed the order
        reserved = reserved_signal_error(v) or api_source_error(v)
        if reserved is not None:
            raise ValueError(reserved)
        size = len(json.dumps(v, default=str))
        if size > MAX_SIGNAL_BYTES:
            raise ValueError(f"signal is {size} bytes as JSON; the limit is {MAX_SIGNAL_BYTES}")
        return v

    def to_intent(self, source: str) -> OrderIntent:
        """Build the engine's OrderIntent, recording who sent it (`source`) in its signal."""
        signal = {**self.signal, API_SOURCE_KEY: source}  # the caller's own is refused above
        return OrderIntent(
            strategy_id=self.strategy_id,
            venue=self.venue,
            symbol=self.symbol,
            side=self.side,
            amount=self.amount,
            type=self.type,
            price=self.price,
            time_in_force=self.time_in_force,
            reduce_only=self.reduce_only,
            stop_loss=self.stop_loss,
            take_profit=self.take_profit,
            signal=signal,
            tag=self.tag,
        )


class KillRequest(_Body):
    reason: str = Field(
        default="emergency stop from the API", min_length=1, max_length=200, pattern=REASON
    )
    flatten: JsonBool = False


class HeldRetryRequest(_Body):
    """Offer the cross-venue legs held alone for sale again (within a loss cap)."""

    strategy_id: str | None = Field(default=None, pattern=STRATEGY_ID)
    # the loss allowed per held leg, in USD; unset: the strategy's exec.max_unwind_loss_usd
    max_unwind_loss_usd: Money | None = None


class ResumeRequest(_Body):
    reason: str = Field(min_length=1, max_length=200, pattern=REASON)


class ModeRequest(_Body):
    mode: TradingMode


class ResetRequest(_Body):
    confirm: str | None = Field(default=None, max_length=64)
