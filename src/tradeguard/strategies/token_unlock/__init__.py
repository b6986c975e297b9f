"""The token-unlock strategy and its calendar (`kind = "token_unlock"`)."""

from tradeguard.strategies.token_unlock.calendar import (
    CalendarError,
    UnlockEvent,
    load_calendar,
    parse_calendar,
)

__all__ = ["CalendarError", "UnlockEvent", "load_calendar", "parse_calendar"]
