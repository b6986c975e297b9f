"""Request bodies of the safety and bot routes: strict, numbers as decimal strings."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator

from tradeguard.api.schemas import ISSUED_ID, REASON, SIGNAL_RULE, plain_json
from tradeguard.model.instrument import SYMBOL_MAX_LEN, SYMBOL_PATTERN
from tradeguard.model.signal_keys import reserved_signal_error

# a score or temperature: within +-1000000, the desk's own bound (api/bot_desk.py), declared in
# the schema so that a client reading it never sends one the desk refuses
SCORE = r"^-?([0-9]{1,6}(\.[0-9]{1,18})?|1000000(\.0{1,18})?)$"
# an exit's percentage of the entry: above 0 and at most 100 (bots/exits.py), declared here so
# that the 422 names the field as every other does, and the published schema says so
PCT = r"^(100(\.0{1,8})?|[1-9][0-9]?(\.[0-9]{1,8})?|0\.[0-9]{0,7}[1-9][0-9]{0,7})$"
BOT_ID = r"^[a-z0-9][a-z0-9_-]{0,31}$"
IDEMPOTENCY_KEY = r"^[!-~]{1,128}$"


def _decimal_string(value: Any, example: str) -> Any:
    # A JSON number is a float to most clients (0.1 is not 0.1 once it is one): say how to send it
    if isinstance(value, bool | int | float):
        raise ValueError(
            f"must be a decimal string such as {example}, got the JSON "
            f"{'boolean' if isinstance(value, bool) else 'number'} {json.dumps(value)}; "
            "send numbers as strings so no precision is lost"
        )
    return value


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TradeSignal(_Body):
    """A bot's trade as its safety client sends it; `score` or `temperature` sizes it."""

    bot_id: str = Field(pattern=BOT_ID)
    symbol: str = Field(pattern=SYMBOL_PATTERN, max_length=SYMBOL_MAX_LEN)
    side: str = Field(pattern=r"^(buy|sell|BUY|SELL)$")
    score: str | None = Field(default=None, pattern=SCORE)
    temperature: str | None = Field(
        default=None,
        pattern=SCORE,
        description="score under the name some clients use; with a score that differs: a 422",
    )
    signal: dict[str, Any] = Field(default_factory=dict, max_length=64, description=SIGNAL_RULE)
    # a close only: refused (BOT_NOT_REDUCING) when it would open or flip a position
    reduce_only: StrictBool = False

    @field_validator("score", "temperature", mode="before")
    @classmethod
    def _score_is_a_string(cls, value: Any) -> Any:
        return _decimal_string(value, '"0.82"')

    @field_validator("signal")
    @classmethod
    def _signal_is_plain_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        plain_json(value, "signal")
        # the bot's order would be taken for one of the node's: a close carrying a venue
        # exit's key is not counted as working, so a second close would pass BOT_CLOSE_WORKING
        reserved = reserved_signal_error(value)
        if reserved is not None:
            raise ValueError(reserved)
        return value

    @field_validator("temperature")
    @classmethod
    def _one_sizing_figure(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Both name the figure that sizes the trade: two that differ leave it a guess.
        score = info.data.get("score")
        if value is not None and score is not None and Decimal(score) != Decimal(value):
            raise ValueError(
                f'score "{score}" and temperature "{value}" both size the trade: send one '
                "(a figure to record only goes in signal)"
            )
        return value

    def doc(self) -> dict[str, Any]:
        """Return the fields the desk reads."""
        return self.model_dump(exclude_none=True)


class ExecuteTrade(TradeSignal):
    """A trade to execute, with its confirmation id and optional server-side exits."""

    confirmation_id: str | None = Field(default=None, pattern=ISSUED_ID)
    # a replay of the same key gets the first trade's answer (api.bot_replay)
    idempotency_key: str | None = Field(default=None, pattern=IDEMPOTENCY_KEY)
    stop_loss_pct: str | None = Field(default=None, pattern=PCT)
    take_profit_pct: str | None = Field(default=None, pattern=PCT)
    trailing_activation_pct: str | None = Field(default=None, pattern=PCT)
    trailing_distance_pct: str | None = Field(default=None, pattern=PCT)
    # a JSON number with no fraction (477 or 477.0, both integers to JSON Schema); never true
    # (read as 1: a time stop a second after entry) nor a string
    time_stop_s: int | None = Field(default=None, ge=1, le=30 * 86_400)

    @field_validator(
        "stop_loss_pct",
        "take_profit_pct",
        "trailing_activation_pct",
        "trailing_distance_pct",
        mode="before",
    )
    @classmethod
    def _pct_is_a_string(cls, value: Any) -> Any:
        return _decimal_string(value, '"2.5"')

    @field_validator("time_stop_s", mode="before")
    @classmethod
    def _time_stop_is_a_json_number(cls, value: Any) -> Any:
        if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            return value
        raise ValueError(f"expected a whole number of seconds, got {type(value).__name__}")


class EmergencyStop(_Body):
    """Stop one bot (disable it, cancel its orders), or, without `bot_id`, halt the node."""

    bot_id: str | None = Field(default=None, pattern=BOT_ID)
    reason: str = Field(
        default="emergency stop from the safety API", min_length=1, max_length=200, pattern=REASON
    )


class ClosePositions(_Body):
    """Close the bot's positions, or only the one on `symbol`."""

    symbol: str | None = Field(default=None, pattern=SYMBOL_PATTERN, max_length=SYMBOL_MAX_LEN)
