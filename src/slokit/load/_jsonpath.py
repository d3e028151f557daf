"""The small JSONPath subset flow checks need: ``$.a.b[0].c`` and ``$["key with space"]``,
and the one way a ``json:`` check judges a document (for responses and stream events)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slokit.spec._jsonpath import compile_path

if TYPE_CHECKING:
    from slokit.spec import Check

__all__ = ["MISSING", "JsonCheck", "compile_path", "lookup"]

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


@dataclass(frozen=True, slots=True)
class JsonCheck:
    """A ``json: $.path`` check with ``equals`` or ``exists`` (exists by default)."""

    path: tuple[str | int, ...]
    equals: Any = MISSING
    exists: bool = True

    @classmethod
    def from_spec(cls, check: Check) -> JsonCheck:
        assert check.json_path is not None
        equals = check.equals if "equals" in check.model_fields_set else MISSING
        exists = check.exists if check.exists is not None or equals is not MISSING else True
        return cls(compile_path(check.json_path), equals, bool(exists))

    def passes(self, data: str | bytes) -> bool:
        """Whether ``data`` is JSON that has the path (with that value): never raises."""
        try:
            document = json.loads(data)
        except ValueError:
            return False
        found = lookup(document, self.path)
        if self.equals is not MISSING:
            return found is not MISSING and bool(found == self.equals)
        return (found is not MISSING) == self.exists
