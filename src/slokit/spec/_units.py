"""Durations, rates, percentages and sizes: parsed here and nowhere else.

The public ``parse_*`` functions raise :class:`ValueError` whose message says what was
wrong and what is accepted; pydantic shows that message as the field's error. The
``Annotated`` types at the end are what the models use, so a YAML string such as
``"250ms"`` is accepted wherever a number of seconds is stored.

One rule for bare numbers: a number without a unit that could mean two things is refused,
and the message gives both readings (``300ms or 300s?``, ``1% or 100%?``). Durations and
percentages therefore always carry their unit (``0`` alone is fine: it reads the same in
every unit). Rates (a bare number is per second) and sizes (bytes) have one reading only.
From Python (``Spec.model_validate`` on a dict, keyword arguments) a number is what the
model stores: seconds or a ratio; a spec file is validated with ``strict_units`` set in the
validation context, so the same number in YAML is refused there.
Only ASCII digits count: Python's float() also reads ``٥`` and ``５``, which nobody means.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, ValidationInfo, WithJsonSchema

from slokit.spec._base import describe

__all__ = [
    "Duration",
    "Objective",
    "Percent",
    "PositiveDuration",
    "PositiveRate",
    "Rate",
    "STRICT_UNITS",
    "Size",
    "format_duration",
    "parse_duration",
    "parse_percent",
    "parse_quota",
    "parse_rate",
    "parse_size",
]

# Unsigned decimal number; the sign is rejected separately so the message can say why.
_NUM = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_ZERO = r"(?:0+(?:\.0*)?|\.0+)"

STRICT_UNITS = "strict_units"
"""Validation-context key: numbers without a unit are refused (set for spec files)."""

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
DURATION_PATTERN = rf"^\s*(?:{_ZERO}|(?:{_NUM}\s*{_DURATION_UNIT}\s*)+)\s*$"
_DURATION_RE = re.compile(DURATION_PATTERN, re.ASCII)
_DURATION_PART = re.compile(rf"({_NUM})\s*({_DURATION_UNIT})", re.ASCII)
_BARE_RE = re.compile(rf"^\s*({_NUM})\s*$", re.ASCII)
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
_RATE_RE = re.compile(rf"^\s*({_NUM})\s*(?:/\s*({_RATE_UNIT})\s*)?$", re.ASCII)
_RATE_HELP = (
    "expected a number per time unit: 50/s, 3/min, 15/hour, 100/d (a bare number is per second)"
)

PERCENT_PATTERN = rf"^\s*(?:{_NUM}\s*%|{_ZERO})\s*$"
_PERCENT_RE = re.compile(rf"^\s*({_NUM})\s*(%?)\s*$", re.ASCII)
_PERCENT_HELP = "expected a percentage such as 99.9%"

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
_SIZE_RE = re.compile(rf"^\s*({_NUM})\s*([a-zA-Z]*)\s*$", re.ASCII)
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


def _plain(number: Decimal) -> str:
    """A Decimal as people write it: no exponent, no trailing zeros."""
    text = f"{number.normalize():f}"
    return text or "0"


def _digits_hint(text: str) -> str:
    """Why a string that looks numeric did not parse: digits other than ASCII 0-9."""
    if any(c.isdigit() and not c.isascii() for c in text):
        return " (only the ASCII digits 0-9 are read)"
    return ""


def ambiguous_duration(shown: str, number: str) -> ValueError:
    return ValueError(
        f"ambiguous duration {shown}: {number}ms or {number}s? write the unit, e.g. "
        f"'{number}ms' or '{number}s' (only 0 may go without one)"
    )


def ambiguous_percent(shown: str, number: Decimal) -> ValueError:
    percent = _plain(number * 100)
    if number > 100:
        return ValueError(f"invalid percentage {shown}; {_PERCENT_HELP}")
    if number <= 1:
        return ValueError(
            f"ambiguous percentage {shown}: {_plain(number)}% or {percent}%? write the % sign, "
            f"e.g. '{percent}%' or '{_plain(number)}%' (only 0 may go without one)"
        )
    return ValueError(
        f"ambiguous percentage {shown}: a bare number is not read as a percentage (1 could be "
        f"1% or 100%); write '{_plain(number)}%'"
    )


def parse_duration(text: str | int | float) -> float:
    """Seconds from ``"250ms"``, ``"1.5s"``, ``"10m"``, ``"2h"``, ``"30d"``, ``"1w"``,
    ``"500us"`` or ``"1h30m"``. Text needs a unit (``"300"`` could be 300ms or 300s; ``"0"``
    is fine); a Python number is seconds."""
    number = _plain_number(text, "duration", _DURATION_HELP)
    if number is not None:
        return _finite(number, "duration", text)
    assert isinstance(text, str)
    bare = _BARE_RE.match(text)
    if bare is not None:
        value = Decimal(bare.group(1))
        if value != 0:
            raise ambiguous_duration(repr(text), _plain(value))
        return 0.0
    match = _DURATION_RE.match(text)
    if match is None:
        raise ValueError(f"invalid duration {text!r}; {_DURATION_HELP}{_digits_hint(text)}")
    parts = _DURATION_PART.findall(text)
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
        raise ValueError(f"invalid rate {text!r}; {_RATE_HELP}{_digits_hint(text)}")
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
        raise ValueError(f"invalid rate {text!r}; {_RATE_HELP}{_digits_hint(text)}")
    count, unit = match.groups()
    per = _RATE_UNITS[unit] if unit else Decimal(1)
    return _finite(Decimal(count), "rate", text), float(per)


def parse_percent(text: str | int | float) -> float:
    """A ratio in [0, 1] from ``"99.9%"`` (0.999). Text needs the ``%`` sign (``"1"`` could
    be 1% or 100%; ``"0"`` is fine); a Python number is a ratio between 0 and 1."""
    number = _plain_number(text, "percentage", _PERCENT_HELP)
    shown = _show(text)
    if number is None:
        assert isinstance(text, str)
        match = _PERCENT_RE.match(text)
        if match is None:
            raise ValueError(f"invalid percentage {shown}; {_PERCENT_HELP}{_digits_hint(text)}")
        digits, sign = match.groups()
        value = Decimal(digits)
        if not sign:
            if value != 0:
                raise ambiguous_percent(shown, value)
            return 0.0
        if value > 100:
            raise ValueError(f"invalid percentage {shown}: it is above 100%; {_PERCENT_HELP}")
        return float(value / 100)
    if number > 1:
        raise ambiguous_percent(shown, number)
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
            raise ValueError(f"invalid size {shown}; {_SIZE_HELP}{_digits_hint(str(text))}")
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


def _strict(value: Any, info: ValidationInfo | None, kind: str) -> None:
    """In a spec file, a YAML number without a unit is as ambiguous as the same text."""
    if info is None or not (info.context or {}).get(STRICT_UNITS):
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value == 0:
        return
    if not math.isfinite(value) or value < 0:
        return  # the parser says what is wrong with it
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if kind == "duration":
        raise ambiguous_duration(_show(value), _plain(number))
    raise ambiguous_percent(_show(value), number)


def _duration(value: Any, info: ValidationInfo) -> float:
    _strict(value, info, "duration")
    return parse_duration(value)


def _percent(value: Any, info: ValidationInfo) -> float:
    _strict(value, info, "percent")
    return parse_percent(value)


def _positive(
    parse: Callable[[Any, ValidationInfo], float], what: str
) -> Callable[[Any, ValidationInfo], Any]:
    def check(value: Any, info: ValidationInfo) -> Any:
        parsed = parse(value, info)
        if parsed <= 0:
            raise ValueError(f"{what} must be greater than 0, got {_show(value)}")
        return parsed

    return check


def _rate(value: Any, info: ValidationInfo) -> float:
    return parse_rate(value)


def _size(value: Any, info: ValidationInfo) -> int:
    return parse_size(value)


def _objective(value: Any, info: ValidationInfo) -> float:
    ratio = _percent(value, info)
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


def _either(
    pattern: str, description: str, examples: list[Any], *, bare: bool = True
) -> WithJsonSchema:
    # Where a bare number is ambiguous, the only number a spec file may hold is 0.
    number = {"type": "number", "minimum": 0} if bare else {"const": 0}
    return WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": pattern}, number],
            "description": description,
            "examples": examples,
        }
    )


_DURATION_SCHEMA = _either(
    DURATION_PATTERN,
    "A duration with its unit: 250ms, 1.5s, 10m, 2h, 30d (a bare number is refused: 300 "
    "could be 300ms or 300s; only 0 may go without a unit).",
    ["250ms", "10m", "30d"],
    bare=False,
)
_RATE_SCHEMA = _either(
    RATE_PATTERN, "A rate: 50/s, 3/min, 15/hour (a bare number is per second).", ["50/s", "15/hour"]
)
_PERCENT_SCHEMA = _either(
    PERCENT_PATTERN,
    "A percentage with its % sign, such as 99.9% (a bare number is refused: 1 could be 1% or "
    "100%; only 0 may go without the sign).",
    ["99.9%", "95%"],
    bare=False,
)
_SIZE_SCHEMA = _either(
    SIZE_PATTERN, "A size: 512KiB, 1MiB, 10MB (a bare number is bytes).", ["1MiB", "512KiB"]
)


def _seconds_text(seconds: float) -> str | float:
    """Seconds as a spec file writes them (``"0.3s"``), exact: a dumped spec read back as
    YAML must not meet the bare-number rule, nor lose a digit."""
    if not math.isfinite(seconds):
        return seconds
    return "0" if seconds == 0 else _plain(Decimal(repr(float(seconds)))) + "s"


def _percent_text(ratio: float) -> str | float:
    """A ratio as a spec file writes it (``"99.9%"``), exact (see _seconds_text)."""
    if not math.isfinite(ratio):
        return ratio
    return "0" if ratio == 0 else _plain(Decimal(repr(float(ratio))) * 100) + "%"


_AS_SECONDS = PlainSerializer(_seconds_text, when_used="json")
_AS_PERCENT = PlainSerializer(_percent_text, when_used="json")

Duration = Annotated[float, BeforeValidator(_duration), _DURATION_SCHEMA, _AS_SECONDS]
"""Seconds, >= 0."""
PositiveDuration = Annotated[
    float, BeforeValidator(_positive(_duration, "the duration")), _DURATION_SCHEMA, _AS_SECONDS
]
"""Seconds, > 0."""
Rate = Annotated[float, BeforeValidator(_rate), _RATE_SCHEMA]
"""Per second, >= 0."""
PositiveRate = Annotated[float, BeforeValidator(_positive(_rate, "the rate")), _RATE_SCHEMA]
"""Per second, > 0."""
Percent = Annotated[float, BeforeValidator(_percent), _PERCENT_SCHEMA, _AS_PERCENT]
"""A ratio in [0, 1]."""
Objective = Annotated[float, BeforeValidator(_objective), _PERCENT_SCHEMA, _AS_PERCENT]
"""A ratio strictly between 0 and 1."""
Size = Annotated[int, BeforeValidator(_positive(_size, "the size")), _SIZE_SCHEMA]
"""Bytes, > 0."""
