"""A quicker `__init__` for frozen, slotted dataclasses built many times an order."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """Give frozen slotted dataclass `cls` an `__init__` that sets each slot through its
    descriptor.

    The one dataclasses writes for a frozen class calls `object.__setattr__` per field (a
    lookup of the method and of the slot by name each time), about twice the cost of setting
    the slot directly; the order path builds several events, reports and fills an order. The
    parameters, their defaults and default factories are the dataclass's own, and the object
    stays frozen (assigning a field after `__init__` still raises). A `__post_init__` is
    called last, as dataclasses calls it.
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in vars(cls):
        raise TypeError(f"quick_init: {cls.__name__} is not a frozen slotted dataclass")
    env: dict[str, Any] = {}
    args: list[str] = []
    body: list[str] = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.init or f.kw_only:
            raise TypeError(f"quick_init: {cls.__name__}.{f.name} is not a plain init field")
        name = f.name
        env[f"_set_{name}"] = vars(cls)[name].__set__
        if f.default_factory is not dataclasses.MISSING:
            env[f"_factory_{name}"] = f.default_factory
            env[f"_none_{name}"] = object()  # "not given", as dataclasses marks it
            args.append(f"{name}=_none_{name}")
            value = f"_factory_{name}() if {name} is _none_{name} else {name}"
        elif f.default is not dataclasses.MISSING:
            env[f"_default_{name}"] = f.default
            args.append(f"{name}=_default_{name}")
            value = name
        else:
            args.append(name)
            value = name
        body.append(f"    _set_{name}(self, {value})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    code = f"def __init__(self, {', '.join(args)}):\n" + "\n".join(body) + "\n"
    exec(compile(code, f"<{cls.__name__}.__init__>", "exec"), env)  # field names only
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    setattr(cls, "__init__", init)  # noqa: B010 - replacing a method
    return cls
