"""The small JSONPath subset flow checks need: ``$.a.b[0].c`` and ``$["key with space"]``."""

from __future__ import annotations

from typing import Any

from slokit.spec._jsonpath import compile_path

__all__ = ["MISSING", "compile_path", "lookup"]

MISSING: Any = object()


def lookup(document: Any, parts: tuple[str | int, ...]) -> Any:
    """Follow ``parts`` into ``document``; MISSING when any step does not exist."""
    current = document
    for part in parts:
        if isinstance(part, int):
            if not isinstance(current, list) or not -len(current) <= part < len(current):
                return MISSING
            current = current[part]
        else:
            if not isinstance(current, dict) or part not in current:
                return MISSING
            current = current[part]
    return current
