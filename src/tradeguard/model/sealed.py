"""An intent as the order path checks it: a plain frozen `OrderIntent` with a read-only signal.

Every way into the order path (a strategy's `emit()`, an execution gateway, the orders API, a
bot) takes its intent through `sealed_intent` before any check: what the checks saw is what is
journaled and sent, whoever still holds the intent or the dict its signal was made of.
"""

from __future__ import annotations

import copy
import dataclasses
from decimal import Decimal
from typing import Any

from tradeguard.model.order import OrderIntent

_SCALARS = frozenset({str, int, float, bool, Decimal, type(None)})
_CHANGED = (
    "an emitted intent's signal cannot be changed (what emit() checked is what is sent): emit "
    "a new intent, dataclasses.replace(intent, signal={...})"
)
_FIELDS = tuple(f.name for f in dataclasses.fields(OrderIntent))


def _refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise TypeError(_CHANGED)


class SentSignal(dict):
    """An emitted intent's signal: read-only, equal to and stored as the dict it was made of."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    update = setdefault = pop = popitem = clear = _refuse

    def __reduce__(self) -> Any:  # copied or pickled: a plain dict
        return (dict, (dict(self),))


class _SentList(list):
    """A list inside an emitted intent's signal: read-only, as the signal is."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = remove = pop = clear = sort = reverse = _refuse

    def __reduce__(self) -> Any:
        return (list, (list(self),))


NO_SIGNAL = SentSignal()
# what `sealed` makes: each is kept as it is once all it holds is sealed too
_SEALED = frozenset({SentSignal, _SentList, tuple, frozenset})


def sealed(value: Any) -> Any:
    """`value` (a signal or a value in one) as a copy no one can change: the intent is frozen,
    but a strategy holding it (or the dict it gave) could otherwise change its signal after
    its checks, in the order sent and the journaled one. Sets become frozensets; a value
    already sealed is kept only when all it holds is sealed too (a `SentSignal` made by hand
    around a plain dict is sealed afresh)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind in _SEALED and _all_sealed(value):
        return value
    if isinstance(value, dict):
        out = SentSignal(value)
        for k, v in value.items():  # a loop, not a call per value: most values are scalars
            if type(v) not in _SCALARS:
                dict.__setitem__(out, k, sealed(v))
        return out
    if isinstance(value, list):
        return _SentList([sealed(v) for v in value])
    if kind is tuple:
        return tuple(sealed(v) for v in value)
    if isinstance(value, set | frozenset):
        return frozenset(sealed(v) for v in value)
    return copy.deepcopy(value)


def _all_sealed(value: Any) -> bool:
    """Whether every value inside `value` (a sealed container) is a scalar or sealed itself."""
    items = value.values() if isinstance(value, dict) else value
    for v in items:
        kind = type(v)
        if kind in _SCALARS:
            continue
        if kind not in _SEALED or not _all_sealed(v):
            return False
    return True


def sealed_intent(intent: OrderIntent) -> OrderIntent:
    """`intent` with its signal sealed in place; a subclass of `OrderIntent` (whose fields a
    property could answer differently at each read) read once into a plain one. Anything but
    an `OrderIntent` is a TypeError."""
    if type(intent) is not OrderIntent:
        if not isinstance(intent, OrderIntent):
            raise TypeError(f"the order path takes an OrderIntent, got {type(intent).__name__}")
        intent = OrderIntent(*(getattr(intent, name) for name in _FIELDS))
    signal = intent.signal
    if type(signal) is not SentSignal or not _all_sealed(signal):  # a seal is checked
        object.__setattr__(intent, "signal", sealed(signal) if signal else NO_SIGNAL)
    return intent
