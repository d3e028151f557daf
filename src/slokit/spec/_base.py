"""The base of every spec model: unknown keys and cross-field rules reported with the rest.

pydantic stops at a model's first failing ``before`` validator and never runs ``after``
validators once a field failed, so a spec with a typo *and* a bad value would need two
rounds of fixing. Every model here validates through one ``wrap`` validator that checks
unknown keys (with a "did you mean" hint) and the model's own structural rules on the raw
mapping, lets pydantic validate the fields, and raises all errors together.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ModelWrapValidatorHandler,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = [
    "INTEGER",
    "Headers",
    "Issue",
    "SpecModel",
    "Text",
    "Url",
    "describe",
    "integer",
    "issue",
    "url_problem",
    "suggest",
]

Loc = tuple[str | int, ...]

INTEGER = re.compile(r"^\s*[+-]?\d{1,18}\s*$", re.ASCII)
"""A whole number as text (bounded, so int() never meets Python's digit limit)."""


class Issue:
    """A problem a model found itself, before pydantic validated the fields."""

    __slots__ = ("hint", "input", "kind", "loc", "message")

    def __init__(
        self, loc: Loc, kind: str, message: str, input: Any = None, hint: str | None = None
    ) -> None:
        self.loc, self.kind, self.message, self.input = loc, kind, message, input
        self.hint = hint
        """For an unknown key: the field it probably meant."""

    def details(self) -> InitErrorDetails:
        return {
            "type": PydanticCustomError(self.kind, self.message),
            "loc": self.loc,
            "input": self.input,
        }


def issue(loc: Loc, message: str, input: Any = None, kind: str = "spec_rule") -> Issue:
    return Issue(loc, kind, message, input)


def suggest(word: object, candidates: list[str]) -> str | None:
    """The candidate closest to ``word``, if one is close enough to be a likely typo."""
    if not isinstance(word, str):
        return None
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return close[0] if close else None


def _rebuild(error: Any) -> InitErrorDetails:
    """An error from ``exc.errors()`` as input for ``ValidationError.from_exception_data``."""
    details: InitErrorDetails = {
        "type": error["type"],
        "loc": error["loc"],
        "input": error["input"],
    }
    if "ctx" in error:
        details["ctx"] = error["ctx"]
    try:
        ValidationError.from_exception_data("check", [details])
    except (KeyError, TypeError, ValueError):
        # Our own error kinds are not pydantic's known types: keep their rendered message.
        return {
            "type": PydanticCustomError(error["type"], error["msg"]),
            "loc": error["loc"],
            "input": error["input"],
        }
    return details


class SpecModel(BaseModel):
    """Frozen, closed model whose validation reports every problem at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    _hidden_keys: ClassVar[frozenset[str]] = frozenset()
    """Fields that are accepted but not written in YAML (never suggested)."""

    @classmethod
    def _accepted_keys(cls) -> set[str]:
        keys: set[str] = set()
        by_name = bool(cls.model_config.get("validate_by_name"))
        for name, field in cls.model_fields.items():
            keys.add(field.alias or name)
            if by_name:
                keys.add(name)
        return keys

    @classmethod
    def yaml_keys(cls) -> list[str]:
        """The keys a YAML mapping for this model may have, in declaration order."""
        return [
            field.alias or name
            for name, field in cls.model_fields.items()
            if name not in cls._hidden_keys
        ]

    @classmethod
    def _from_scalar(cls, data: Any) -> Any:
        """Hook: turn a non-mapping input (e.g. a gate string) into a mapping."""
        return data

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        """Hook: check structural rules on the raw mapping and rewrite it for the fields."""
        return data, []

    @model_validator(mode="wrap")
    @classmethod
    def _validate_all(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        data = cls._from_scalar(data)
        if not isinstance(data, dict):
            return handler(data)
        accepted = cls._accepted_keys()
        known: dict[Any, Any] = {}
        issues: list[Issue] = []
        for key, value in data.items():
            if isinstance(key, str) and key in accepted:
                known[key] = value
            else:
                issues.append(cls._unknown(key, value))
        known, more = cls._prepare(known)
        issues.extend(more)
        if not issues:
            return handler(known)
        errors: list[InitErrorDetails] = []
        # "unknown field 'duraton'; did you mean 'duration'?" already says 'duration' is missing.
        meant = {(i.hint,) for i in issues if i.hint is not None}
        try:
            handler(known)
        except ValidationError as exc:
            errors = [
                _rebuild(e)
                for e in exc.errors(include_url=False)
                if not (e["type"] == "missing" and e["loc"] in meant)
            ]
        errors.extend(i.details() for i in issues)
        raise ValidationError.from_exception_data(cls.__name__, errors)

    @classmethod
    def _unknown(cls, key: Any, value: Any) -> Issue:
        candidates = cls.yaml_keys()
        shown = repr(key) if isinstance(key, str) else str(key)
        hint = suggest(key, candidates) if isinstance(key, str) else None
        if hint is not None:
            message = f"unknown field {shown}; did you mean '{hint}'?"
        else:
            message = f"unknown field {shown}; expected one of: {', '.join(candidates)}"
        return Issue((key,), "unknown_field", message, value, hint)


def describe(value: Any) -> str:
    """A value as shown in messages: strings quoted, containers by kind."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return str(value)


def integer(
    minimum: int, what: str, maximum: int | None = None, why: str = ""
) -> Callable[[Any], int]:
    """A before-validator for whole numbers >= ``minimum`` (and <= ``maximum``, with ``why``
    that is the limit) with a message naming ``what``. A float is refused even when whole:
    YAML reads ``1e30`` as a float, and nobody counts users in floating point."""

    def check(value: Any) -> int:
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and INTEGER.match(value):
            number = int(value.strip())
        if number is None:
            raise ValueError(f"expected an integer ({what}), got {describe(value)}")
        if number < minimum:
            raise ValueError(f"{what} must be at least {minimum}, got {number}")
        if maximum is not None and number > maximum:
            shown = f"{number:,}" if number < 10**30 else f"a {len(str(number))}-digit number"
            raise ValueError(f"{what} must be at most {maximum:,}{why}, got {shown}")
        return number

    return check


_URL_HELP = "expected an http:// or https:// URL such as http://127.0.0.1:8000"


def url_problem(text: str) -> str | None:
    """What makes ``text`` unusable as an http(s) URL to send requests to, or None.

    The same rules the engine's URL parser applies, checked where the spec is read so
    that ``slokit validate`` refuses what ``slokit run`` would."""
    if any(c in text for c in "\r\n\t\0"):
        return f"invalid URL {describe(text)}: it contains a line break, tab or NUL"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"invalid URL {describe(text)}; {_URL_HELP}"
    if "@" in parts.netloc:
        return (
            f"invalid URL {describe(text)}: credentials in the URL are not supported; send an "
            "Authorization header instead (headers: {Authorization: ...})"
        )
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 0 < port < 65536:
        return f"invalid URL {describe(text)}: the port must be between 1 and 65535"
    return None


def _url(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"invalid URL {describe(value)}; {_URL_HELP}")
    problem = url_problem(value.strip())
    if problem is not None:
        raise ValueError(problem)
    return value.strip()


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


def _headers(value: Any) -> Any:
    # YAML reads `X-Retry: 5` as an int; a header value is always text on the wire.
    if not isinstance(value, dict):
        return value
    out = {}
    for k, v in value.items():
        if isinstance(v, int | float) and not isinstance(v, bool):
            v = str(v)
        if isinstance(k, str) and not _HEADER_NAME.match(k):
            raise ValueError(
                f"invalid header name {k!r}: a header name is letters, digits and !#$%&'*+-.^_`|~ "
                "(no spaces, colons or line breaks)"
            )
        if isinstance(v, str) and any(c in v for c in "\r\n\0"):
            raise ValueError(
                f"header {k!r} has a line break or NUL in its value; it would split the request "
                "(header injection): put the value on one line"
            )
        out[k] = v
    return out


def _text(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("expected a non-empty string, got ''")
    if isinstance(value, str) and "\0" in value:
        raise ValueError(f"{describe(value)} contains a NUL character (\\0); remove it")
    return value


Url = Annotated[
    str,
    BeforeValidator(_url),
    WithJsonSchema({"type": "string", "format": "uri", "pattern": "^https?://"}),
]
"""An http:// or https:// URL."""
Headers = Annotated[dict[str, str], BeforeValidator(_headers)]
"""HTTP headers; numbers are accepted as values and sent as text."""
Text = Annotated[str, BeforeValidator(_text)]
"""A non-empty string."""
