"""``{{column}}`` placeholders in flow steps, filled from a data row per iteration."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from slokit.errors import UsageError

__all__ = ["has_placeholders", "placeholders", "render", "render_value"]

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def has_placeholders(value: Any) -> bool:
    if isinstance(value, str):
        return _PLACEHOLDER.search(value) is not None
    if isinstance(value, Mapping):
        return any(has_placeholders(k) or has_placeholders(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_placeholders(v) for v in value)
    return False


def render(text: str, row: Mapping[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        try:
            return row[key]
        except KeyError:
            known = ", ".join(sorted(row)) or "none: the scenario has no data file"
            raise UsageError(
                f"placeholder {{{{{key}}}}} has no column in the data row (columns: {known})"
            ) from None

    return _PLACEHOLDER.sub(fill, text)


def render_value(value: Any, row: Mapping[str, str]) -> Any:
    """Render placeholders inside a JSON-like value, keeping its structure."""
    if isinstance(value, str):
        return render(value, row)
    if isinstance(value, Mapping):
        return {render(str(k), row): render_value(v, row) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [render_value(v, row) for v in value]
    return value
