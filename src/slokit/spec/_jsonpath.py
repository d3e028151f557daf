"""The JSON path subset flow checks use (``$.a.b[0].c``, ``$["key with space"]``), parsed
where the spec is read so a bad path is refused with its line, before any load starts."""

from __future__ import annotations

import re

__all__ = ["compile_path"]

# ASCII digits, at most 18: int() reads other scripts' digits and has a digit limit.
_TOKEN = re.compile(r"""\.([A-Za-z_][A-Za-z0-9_-]*)|\[(-?[0-9]{1,18})\]|\[["']([^"']*)["']\]""")


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
