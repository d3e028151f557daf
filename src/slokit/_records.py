"""Plain dataclasses to and from the JSON documents slokit writes (results.json, the store).

Most result records are a flat set of fields: they are written field by field and read back
through pydantic (already a dependency), which coerces, fills defaults and names a wrong
field, instead of each record carrying its own hand-written ``to_dict``/``from_dict``.
Records whose document layout differs from their fields (nested ``latency_ms``, computed
summaries, rounding) keep their own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from slokit.errors import UsageError

__all__ = ["load_record", "plain_record"]

T = TypeVar("T")


def plain_record(record: Any, **extra: Any) -> dict[str, Any]:
    """``record``'s fields as a dict (lists and dicts copied), then ``extra``."""
    data: dict[str, Any] = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        data[f.name] = list(value) if isinstance(value, list | tuple) else value
        if isinstance(value, dict):
            data[f.name] = dict(value)
    data.update(extra)
    return data


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(cls: type[Any]) -> TypeAdapter[Any]:
    found = _ADAPTERS.get(cls)
    if found is None:
        found = _ADAPTERS[cls] = TypeAdapter(cls)
    return found


def load_record(cls: type[T], data: Mapping[str, Any], **override: Any) -> T:
    """A ``cls`` from ``data``: its fields taken, the rest (computed keys) ignored, values
    coerced to the field types, missing ones given their defaults."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    given = {k: v for k, v in data.items() if k in names}
    given.update(override)
    try:
        result: T = _adapter(cls).validate_python(given)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(record)"
        raise UsageError(
            f"not a slokit results document: {cls.__name__}.{where}: {first['msg']} "
            "(was it written by slokit, and not edited since?)"
        ) from None
    return result
