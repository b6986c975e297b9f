"""The keys of an order's signal that the node reserves for its own orders.

An order's `signal` is a free dict its sender fills in: an API caller, a signal bot, a
strategy. A few keys are read by the node's own code to decide what an order is (a settlement
booked, a netting sale, the re-send of another order, a cycle's leg, a bot's venue exit). A
caller that could set them would have its order taken for one of the node's: holdings cleared,
a held leg settled, a re-send refused. So these keys are refused at every entry from outside
(`POST /api/v1/orders` and `/api/v1/risk/validate`, a bot's signal, a strategy's intent: a
422 or a ValueError naming the key and its value), while the node's own orders carry them.
`arb` alone may be set by a strategy, and only through its execution gateway (the legs of a
multi-leg cycle). Orders stored before this rule still load as they were.

`source` on an order sent through `POST /api/v1/orders` is the API's record of who placed it
(`api:<token name>(<token id>)`), written by the API itself: the orders API refuses a caller's
`source` (`api_source_error`; another key such as `origin` carries the caller's own label), so
no caller can pass its order off as another token's, or blank it (a close placed by hand is
known by it: `node.exit_buyback`). A strategy's intent may not set it either (`emit()` raises
a ValueError, an execution gateway denies the leg `SIGNAL_RESERVED`): its order would be counted
as a close placed by hand. A signal bot's signal is its own: its `source` (a scanner's name) goes
on with the bot's trade orders.

Where it can, the check acting on a key also asks for what no caller sets: a settlement's or a
netting's order id (`stl`/`net` + 24 hex digits) is the node's own, never one a sent order gets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# key -> who sets it (docs/api.md and ARCHITECTURE list the same set)
NODE_SIGNAL_KEYS: dict[str, str] = {
    "arb": "a multi-leg cycle's legs and unwinds, sent through an execution gateway",
    "bot_trade": "a signal bot's trade orders (the bot desk names the trade)",
    "exit": "a bot's exits and the node's exit buy-backs",
    "exit_plan": "a bot's venue exits (the exit plan's key)",
    "native": "a bot's venue exits",
    "netting": "the node's netting and merge orders of outcome pairs",
    "replaces": "the node's re-sends of a timed-out or shrunk order",
    "settlement": "the node's settlement orders of a resolved market",
}
# the one a strategy may set on the legs it sends through its execution gateway
GATEWAY_SIGNAL_KEYS = frozenset({"arb"})
_LISTED = ", ".join(sorted(NODE_SIGNAL_KEYS))


# the key of an API order's signal naming the token that placed it (written by the API)
API_SOURCE_KEY = "source"
# every key a strategy's intent may not carry (but those a caller allows): most signals carry
# none of them, and one test of its keys answers for them
_STRATEGY_REFUSED = frozenset(NODE_SIGNAL_KEYS) | {API_SOURCE_KEY}


def api_source_error(signal: Mapping[str, Any]) -> str | None:
    """Say why `signal` cannot be sent to the orders API: it sets the API's own record of who
    placed the order; None when it does not."""
    if API_SOURCE_KEY not in signal:
        return None
    return (
        f"signal.{API_SOURCE_KEY} = {signal[API_SOURCE_KEY]!r} is written by the API itself "
        "(the token that placed the order, api:<token name>(<token id>)); put a label of your "
        "own under another key, such as signal.origin"
    )


def placed_through_api(signal: Mapping[str, Any]) -> bool:
    """Tell whether an order's `signal` records the orders API placing it (a token's
    `api:<token name>(<token id>)`), not a bot's or a strategy's own `source`."""
    source = signal.get(API_SOURCE_KEY)
    return isinstance(source, str) and source.startswith("api:")


# The ids of the orders the node books itself, never sent to a venue: a settlement's and a
# netting's (`stl`/`net` + 24 hex digits of a hash); a sent order's id (`model.ids`) has a dash.
SETTLEMENT_ID_PREFIX = "stl"
NETTING_ID_PREFIX = "net"
_BOOKED_ID = {p: re.compile(rf"{p}[0-9a-f]{{24}}") for p in ("stl", "net")}


def booked_id(client_order_id: str, prefix: str) -> bool:
    """Tell whether `client_order_id` is one the node made up for a settlement (`stl`) or a
    netting (`net`) it booked: no caller's order gets one."""
    return _BOOKED_ID[prefix].fullmatch(client_order_id) is not None


def reserved_signal_error(
    signal: Mapping[str, Any], allowed: frozenset[str] = frozenset()
) -> str | None:
    """Say why `signal` cannot come from outside the node (the first reserved key it carries
    and its value), None when it carries none but those in `allowed`."""
    for key in sorted(NODE_SIGNAL_KEYS.keys() & signal.keys() - allowed):
        return (
            f"signal.{key} = {signal[key]!r} is reserved for the node's own orders "
            f"({NODE_SIGNAL_KEYS[key]}); reserved keys: {_LISTED}; use another key"
        )
    return None


def strategy_signal_error(
    signal: Mapping[str, Any], allowed: frozenset[str] = frozenset()
) -> str | None:
    """Say why a strategy's intent cannot carry `signal`: a key reserved for the node's own
    orders (but those in `allowed`), or the orders API's `source`; None when it may."""
    if _STRATEGY_REFUSED.isdisjoint(signal):  # every strategy intent: none of them
        return None
    return reserved_signal_error(signal, allowed) or api_source_error(signal)


__all__ = [
    "API_SOURCE_KEY",
    "GATEWAY_SIGNAL_KEYS",
    "NETTING_ID_PREFIX",
    "NODE_SIGNAL_KEYS",
    "SETTLEMENT_ID_PREFIX",
    "api_source_error",
    "booked_id",
    "placed_through_api",
    "reserved_signal_error",
    "strategy_signal_error",
]
