"""Durations, rates, percentages and sizes: parsed here and nowhere else.

The public ``parse_*`` functions raise :class:`ValueError` whose message says what was
wrong and what is accepted; pydantic shows that message as the field's error. The
``Annotated`` types at the end are what the models use, so a YAML string such as
``"250ms"`` is accepted wherever a number of seconds is stored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

from slokit.spec._base import describe

__all__ = [
    "Duration",
    "Objective",
    "Percent",
    "PositiveDuration",
    "PositiveRate",
    "Rate",
    "Size",
    "format_duration",
    "parse_duration",
    "parse_percent",
    "parse_quota",
    "parse_rate",
    "parse_size",
]

# Unsigned decimal number; the sign is rejected separately so the message can say why.
_NUM = r"(?:\d+(?:\.\d*)?|\.\d+)"

_DURATION_UNITS: dict[str, Decimal] = {
    "us": Decimal("0.000001"),
    "µs": Decimal("0.000001"),
    "μs": Decimal("0.000001"),
    "ms": Decimal("0.001"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
    "d": Decimal(86400),
    "w": Decimal(604800),
}
_DURATION_UNIT = "(?:us|µs|μs|ms|s|m|h|d|w)"
DURATION_PATTERN = rf"^\s*(?:{_NUM}|(?:{_NUM}\s*{_DURATION_UNIT}\s*)+)\s*$"
_DURATION_RE = re.compile(DURATION_PATTERN)
_DURATION_PART = re.compile(rf"({_NUM})\s*({_DURATION_UNIT})")
_DURATION_HELP = "expected a number with a unit: 250ms, 1.5s, 10m, 2h, 30d"

_RATE_UNITS: dict[str, Decimal] = {}
for _names, _seconds in (
    (("s", "sec", "second"), 1),
    (("m", "min", "minute"), 60),
    (("h", "hr", "hour"), 3600),
    (("d", "day"), 86400),
):
    for _name in _names:
        _RATE_UNITS[_name] = Decimal(_seconds)
        if len(_name) > 1:
            _RATE_UNITS[_name + "s"] = Decimal(_seconds)
_RATE_UNIT = "(?:" + "|".join(sorted(_RATE_UNITS, key=len, reverse=True)) + ")"
RATE_PATTERN = rf"^\s*{_NUM}\s*(?:/\s*{_RATE_UNIT}\s*)?$"
_RATE_RE = re.compile(rf"^\s*({_NUM})\s*(?:/\s*({_RATE_UNIT})\s*)?$")
_RATE_HELP = (
    "expected a number per time unit: 50/s, 3/min, 15/hour, 100/d (a bare number is per second)"
)

PERCENT_PATTERN = rf"^\s*{_NUM}\s*%?\s*$"
_PERCENT_RE = re.compile(rf"^\s*({_NUM})\s*(%?)\s*$")
_PERCENT_HELP = "expected a percentage such as 99.9% or a ratio between 0 and 1 such as 0.999"

_SIZE_UNITS: dict[str, int] = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
SIZE_PATTERN = rf"^\s*{_NUM}\s*(?:[bB]|[kKmMgGtT][iI]?[bB])?\s*$"
_SIZE_RE = re.compile(rf"^\s*({_NUM})\s*([a-zA-Z]*)\s*$")
_SIZE_HELP = "expected a size such as 512KiB, 1MiB, 10MB, 100kB or a number of bytes"


def _show(value: object) -> str:
    return describe(value)


def _plain_number(value: object, what: str, help_text: str) -> Decimal | None:
    """The value as a Decimal when it is a real (non-bool) number; None for strings."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"invalid {what} {_show(value)}; {help_text}")
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("-"):
            raise ValueError(f"invalid {what} {value!r}: it cannot be negative; {help_text}")
        return None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"invalid {what} {value}; {help_text}")
    if value < 0:
        raise ValueError(f"invalid {what} {value}: it cannot be negative; {help_text}")
    return Decimal(str(value)) if isinstance(value, float) else Decimal(value)


def _finite(value: Decimal, what: str, text: object) -> float:
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"invalid {what} {_show(text)}: the number is too large")
    return result


def parse_duration(text: str | int | float) -> float:
    """Seconds from ``"250ms"``, ``"1.5s"``, ``"10m"``, ``"2h"``, ``"30d"``, ``"1w"``,
    ``"500us"`` or ``"1h30m"``; a bare number is seconds."""
    number = _plain_number(text, "duration", _DURATION_HELP)
    if number is not None:
        return _finite(number, "duration", text)
    assert isinstance(text, str)
    match = _DURATION_RE.match(text)
    if match is None:
        raise ValueError(f"invalid duration {text!r}; {_DURATION_HELP}")
    parts = _DURATION_PART.findall(text)
    if not parts:
        return _finite(Decimal(text.strip()), "duration", text)
    total = sum((Decimal(n) * _DURATION_UNITS[u] for n, u in parts), Decimal(0))
    return _finite(total, "duration", text)


def parse_rate(text: str | int | float) -> float:
    """Events per second from ``"50/s"``, ``"3/min"``, ``"15/hour"``, ``"100/d"``; a bare
    number is per second."""
    number = _plain_number(text, "rate", _RATE_HELP)
    if number is not None:
        return _finite(number, "rate", text)
    assert isinstance(text, str)
    match = _RATE_RE.match(text)
    if match is None:
        raise ValueError(f"invalid rate {text!r}; {_RATE_HELP}")
    count, unit = match.groups()
    per = _RATE_UNITS[unit] if unit else Decimal(1)
    return _finite(Decimal(count) / per, "rate", text)


def parse_quota(text: str | int | float) -> tuple[float, float]:
    """``(count, window_seconds)`` from a rate as written: ``"15/hour"`` -> ``(15, 3600)``,
    ``"50/s"`` -> ``(50, 1)``; a bare number is per second. Rate limits need both halves:
    the quota people advertise and the window it refills over."""
    number = _plain_number(text, "rate", _RATE_HELP)
    if number is not None:
        return _finite(number, "rate", text), 1.0
    assert isinstance(text, str)
    match = _RATE_RE.match(text)
    if match is None:
        raise ValueError(f"invalid rate {text!r}; {_RATE_HELP}")
    count, unit = match.groups()
    per = _RATE_UNITS[unit] if unit else Decimal(1)
    return _finite(Decimal(count), "rate", text), float(per)


def parse_percent(text: str | int | float) -> float:
    """A ratio in [0, 1] from ``"99.9%"`` (0.999) or a bare ratio such as ``0.999``."""
    number = _plain_number(text, "percentage", _PERCENT_HELP)
    shown = _show(text)
    if number is None:
        assert isinstance(text, str)
        match = _PERCENT_RE.match(text)
        if match is None:
            raise ValueError(f"invalid percentage {shown}; {_PERCENT_HELP}")
        digits, sign = match.groups()
        if sign:
            value = Decimal(digits)
            if value > 100:
                raise ValueError(f"invalid percentage {shown}: it is above 100%; {_PERCENT_HELP}")
            return float(value / 100)
        number = Decimal(digits)
    if number > 1:
        raise ValueError(
            f"ambiguous percentage {shown}: a bare number must be a ratio between 0 and 1; "
            f"write '{number}%' for a percentage"
        )
    return float(number)


def parse_size(text: str | int | float) -> int:
    """Bytes from ``"1MiB"``, ``"512KiB"``, ``"10MB"``, ``"100kB"``, ``"1GiB"`` or ``"42"``."""
    number = _plain_number(text, "size", _SIZE_HELP)
    shown = _show(text)
    if number is None:
        assert isinstance(text, str)
        match = _SIZE_RE.match(text)
        unit = match.group(2).lower() if match else ""
        if match is None or (unit and unit not in _SIZE_UNITS):
            raise ValueError(f"invalid size {shown}; {_SIZE_HELP}")
        number = Decimal(match.group(1)) * _SIZE_UNITS.get(unit, 1)
    if number != number.to_integral_value():
        raise ValueError(f"invalid size {shown}: not a whole number of bytes; {_SIZE_HELP}")
    return int(number)


def _number(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def format_duration(seconds: float) -> str:
    """Short human form: ``0.25`` -> ``"250ms"``, ``90`` -> ``"1m30s"``, ``2592000`` ->
    ``"30d"``. Precise to the millisecond above one second, to 0.1% below."""
    if not math.isfinite(seconds):
        raise ValueError(f"cannot format {seconds} as a duration")
    if seconds < 0:
        return "-" + format_duration(-seconds)
    rounded = round(seconds, 3)
    if rounded >= 1:
        whole = int(rounded)
        fraction = rounded - whole
        out = []
        for name, size in (("d", 86400), ("h", 3600), ("m", 60)):
            count, whole = divmod(whole, size)
            if count:
                out.append(f"{count}{name}")
        if whole or fraction:
            out.append(_number(whole + fraction) + "s")
        return "".join(out)
    if seconds == 0:
        return "0s"
    millis = seconds * 1e3
    if round(millis, 3) >= 1:
        return _number(millis) + "ms"
    return _number(seconds * 1e6) + "us"


def _positive(parse: Callable[[Any], float], what: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        parsed = parse(value)
        if parsed <= 0:
            raise ValueError(f"{what} must be greater than 0, got {_show(value)}")
        return parsed

    return check


def _objective(value: Any) -> float:
    ratio = parse_percent(value)
    if ratio >= 1:
        raise ValueError(
            f"objective {_show(value)} leaves no error budget; expected a value strictly "
            "between 0% and 100% such as 99.9%"
        )
    if ratio <= 0:
        raise ValueError(
            f"objective {_show(value)} is zero; expected a value strictly between 0% and 100% "
            "such as 99.9%"
        )
    return ratio


def _either(pattern: str, description: str, examples: list[Any]) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": pattern}, {"type": "number", "minimum": 0}],
            "description": description,
            "examples": examples,
        }
    )


_DURATION_SCHEMA = _either(
    DURATION_PATTERN,
    "A duration: 250ms, 1.5s, 10m, 2h, 30d (a bare number is seconds).",
    ["250ms", "10m", "30d"],
)
_RATE_SCHEMA = _either(
    RATE_PATTERN, "A rate: 50/s, 3/min, 15/hour (a bare number is per second).", ["50/s", "15/hour"]
)
_PERCENT_SCHEMA = _either(
    PERCENT_PATTERN, "A percentage such as 99.9%, or a ratio between 0 and 1.", ["99.9%", "95%"]
)
_SIZE_SCHEMA = _either(
    SIZE_PATTERN, "A size: 512KiB, 1MiB, 10MB (a bare number is bytes).", ["1MiB", "512KiB"]
)

Duration = Annotated[float, BeforeValidator(parse_duration), _DURATION_SCHEMA]
"""Seconds, >= 0."""
PositiveDuration = Annotated[
    float, BeforeValidator(_positive(parse_duration, "the duration")), _DURATION_SCHEMA
]
"""Seconds, > 0."""
Rate = Annotated[float, BeforeValidator(parse_rate), _RATE_SCHEMA]
"""Per second, >= 0."""
PositiveRate = Annotated[float, BeforeValidator(_positive(parse_rate, "the rate")), _RATE_SCHEMA]
"""Per second, > 0."""
Percent = Annotated[float, BeforeValidator(parse_percent), _PERCENT_SCHEMA]
"""A ratio in [0, 1]."""
Objective = Annotated[float, BeforeValidator(_objective), _PERCENT_SCHEMA]
"""A ratio strictly between 0 and 1."""
Size = Annotated[int, BeforeValidator(_positive(parse_size, "the size")), _SIZE_SCHEMA]
"""Bytes, > 0."""
