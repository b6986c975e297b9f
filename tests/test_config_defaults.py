"""The config models' empty defaults: fresh per config, and never a builtin as the factory."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel

from tradeguard.config import Config, VenueConfig


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> Iterator[type[BaseModel]]:
    if model in seen:
        return
    seen.add(model)
    yield model
    for info in model.model_fields.values():
        for arg in (info.annotation, *getattr(info.annotation, "__args__", ())):
            for inner in (arg, *getattr(arg, "__args__", ())):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    yield from _models(inner, seen)


def test_no_default_factory_is_a_builtin() -> None:
    # pydantic reads every default factory's signature as a model is built; a builtin's
    # (`list`, `dict`) is parsed from its text signature by the tokenizer, which costs the
    # start of every command that loads a config.
    builtins = [
        f"{model.__name__}.{name}"
        for model in _models(Config, set())
        for name, info in model.model_fields.items()
        if getattr(info.default_factory, "__module__", None) == "builtins"
    ]
    assert builtins == []


def test_empty_defaults_are_not_shared() -> None:
    a, b = Config(), Config()
    a.venues.append(VenueConfig(name="x"))
    assert b.venues == [] and Config().venues == []
    v1, v2 = VenueConfig(name="a"), VenueConfig(name="b")
    v1.balances["BTC"] = 1  # type: ignore[assignment]
    v1.symbols.append("BTC/USDT")
    assert v2.balances == {} and v2.symbols == []
