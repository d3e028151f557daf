"""The small JSONPath subset flow checks need: ``$.a.b[0].c`` and ``$["key with space"]``."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MISSING", "compile_path", "lookup"]

MISSING: Any = object()

_TOKEN = re.compile(r"""\.([A-Za-z_][A-Za-z0-9_-]*)|\[(-?\d+)\]|\[["']([^"']*)["']\]""")


def compile_path(path: str) -> tuple[str | int, ...]:
    """Split a path into keys and indexes; raise ValueError naming the bad part."""
    text = path.strip()
    if not text.startswith("$"):
        raise ValueError(f"JSON path {path!r} must start with '$', e.g. $.items[0].id")
    parts: list[str | int] = []
    pos = 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ValueError(
                f"JSON path {path!r} is not understood at {text[pos:]!r}; "
                'use .key, [index] or ["key"]'
            )
        key, index, quoted = m.groups()
        parts.append(int(index) if index is not None else (key if key is not None else quoted))
        pos = m.end()
    return tuple(parts)


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
