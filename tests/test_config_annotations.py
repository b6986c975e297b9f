"""The config's models are written with their field types as objects, not as text.

Every command builds the config's models at start; a field type written as text (a module
under `from __future__ import annotations`) is compiled into a `ForwardRef` and evaluated by
pydantic for each of the ~240 fields, some 15 M instructions of every start
(`benchmarks/startup_instructions.py`). This test keeps them objects.
"""

from __future__ import annotations

from pydantic import BaseModel

from tradeguard.config import Config


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[type[BaseModel]]:
    """`model` and every model its fields name, however nested (lists, unions, dicts)."""
    if model in seen:
        return seen
    seen.add(model)
    todo = [f.annotation for f in model.model_fields.values()]
    while todo:
        kind = todo.pop()
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            _models(kind, seen)
        todo.extend(getattr(kind, "__args__", ()))
    return seen


def test_every_config_model_declares_its_field_types_as_objects():
    models = _models(Config, set())
    assert len(models) >= 15  # the walk reaches the sections (risk, alerts, api, venues...)
    written_as_text = sorted(
        f"{cls.__module__}.{cls.__qualname__}.{name}"
        for cls in models
        for klass in cls.__mro__
        if issubclass(klass, BaseModel) and klass.__module__.startswith("tradeguard")
        for name, kind in vars(klass).get("__annotations__", {}).items()
        if isinstance(kind, str)
    )
    assert written_as_text == []
