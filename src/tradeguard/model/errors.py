"""Exception families: what the operator must fix versus what may be retried."""

from __future__ import annotations

from tradeguard.model.text import whole


class TradeguardError(Exception):
    """Base of every error tradeguard raises on purpose."""


class ConfigError(TradeguardError):
    """A configuration value is missing or out of range; the message names key, value and limit."""


class InvalidOrderTransition(TradeguardError):
    """An order was asked to move to a state its current state cannot reach."""


class VenueError(TradeguardError):
    """A venue call failed."""

    def __init__(self, venue: str, message: str, code: str = "") -> None:
        # a venue's text may hold half of a UTF-16 pair, which the order's stored reason and
        # every answer sent on could not hold (the refusal's commit raised)
        super().__init__(whole(f"{venue}: {message}"))
        self.venue = venue
        self.code = code


class DefinitiveVenueError(VenueError):
    """The venue answered no: insufficient funds, invalid order, bad credentials. Never retried."""


class AmbiguousVenueError(VenueError):
    """The outcome is unknown (timeout, disconnect, 5xx): resolve by query, never by guess."""


class DataNotSaved(TradeguardError):
    """A stop whose last writes the database refused (a locked file, a full disk): the run
    ended, what it held in memory since its last checkpoint written was not saved, and the
    next start reconciles with the venues before any trade."""
