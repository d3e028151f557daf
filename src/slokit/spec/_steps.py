"""Flow steps (``{get: /path}``), their checks, and CSV data sources."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

from slokit.spec._base import (
    INTEGER,
    Headers,
    Issue,
    SpecModel,
    Text,
    describe,
    issue,
    url_problem,
)
from slokit.spec._jsonpath import compile_path
from slokit.spec._units import Duration

__all__ = ["VERBS", "Check", "DataSource", "StatusList", "Step"]

VERBS = ("get", "post", "put", "patch", "delete", "head", "options")
_ONE_VERB = "a step needs exactly one of " + ", ".join(VERBS)
_STATUS_HELP = "expected an HTTP status code or a list of them, e.g. 200 or [200, 201]"


def _status(value: Any) -> int:
    if isinstance(value, str) and INTEGER.match(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"invalid status {describe(value)}; {_STATUS_HELP}")
    if not 100 <= value <= 599:
        raise ValueError(f"status {value} is not an HTTP status code (100-599)")
    return value


def _statuses(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        if not value:
            # An empty list would accept no status at all: every response would fail.
            raise ValueError(
                "the status list is empty, so every response would fail; list the expected "
                "codes, e.g. [200, 201], or leave 'status' out (any status below 400 passes)"
            )
        return [_status(v) for v in value]
    return [_status(value)]


StatusList = Annotated[
    list[int],
    BeforeValidator(_statuses),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 100, "maximum": 599},
                {"type": "array", "items": {"type": "integer", "minimum": 100, "maximum": 599}},
            ],
            "description": "An HTTP status code or a list of them.",
        }
    ),
]
"""HTTP status codes; YAML may give one code or a list."""


def _given(data: dict[Any, Any], key: str) -> bool:
    return data.get(key) is not None


class Check(SpecModel):
    """A response check: ``{status: 200}``, ``{body_contains: "ok"}``, or
    ``{json: "$.a.b[0]", equals: 1}`` / ``{json: "$.a", exists: true}``."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    status: StatusList | None = None
    body_contains: str | None = None
    json_path: str | None = Field(default=None, alias="json")
    equals: Any = None
    exists: bool | None = None

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        # None counts as absent, so a dumped model (every field present) validates again.
        kinds = [k for k in ("status", "body_contains", "json", "json_path") if _given(data, k)]
        issues: list[Issue] = []
        if len(kinds) != 1:
            got = " and ".join(kinds) if kinds else "none"
            loc = (kinds[1],) if len(kinds) > 1 else ()
            issues.append(
                issue(loc, f"a check needs exactly one of status, body_contains, json; got {got}")
            )
        has_json = _given(data, "json") or _given(data, "json_path")
        for key in ("equals", "exists"):
            if _given(data, key) and not has_json:
                issues.append(
                    issue((key,), f"'{key}' only applies to a 'json' check; add json: \"$.path\"")
                )
        if has_json and _given(data, "equals") and _given(data, "exists"):
            issues.append(
                issue(
                    ("exists",),
                    "give either 'equals' (the value must be this) or 'exists' (the value must "
                    "be there, or not), not both",
                    data["exists"],
                )
            )
        return data, issues

    @field_validator("json_path")
    @classmethod
    def _json_path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("$"):
            raise ValueError(f"invalid JSON path {value!r}; it starts with '$', e.g. $.items[0].id")
        if value is not None:
            compile_path(value)  # the run compiles it the same way: fail here, not there
        return value


def _step_schema(schema: dict[str, Any]) -> None:
    # The model stores method + path, but YAML writes one verb key: `{get: /path}`.
    props = schema.get("properties", {})
    props.pop("method", None)
    props.pop("path", None)
    verbs = {
        verb: {"type": "string", "description": f"Send {verb.upper()} to this path or URL."}
        for verb in VERBS
    }
    schema["properties"] = {**verbs, **props}
    required = [r for r in schema.pop("required", []) if r not in ("method", "path")]
    if required:
        schema["required"] = required
    schema["oneOf"] = [{"required": [verb]} for verb in VERBS]


class Step(SpecModel):
    """One HTTP request of a flow. YAML: ``{post: /api/orders, json: {sku: A1}}``.

    ``path`` may hold ``{{column}}`` placeholders filled from the scenario's data rows, and
    may be a full URL. ``status`` None means any status below 400 is a success.
    """

    model_config = ConfigDict(
        validate_by_name=True, validate_by_alias=True, json_schema_extra=_step_schema
    )
    _hidden_keys: ClassVar[frozenset[str]] = frozenset({"method", "path"})

    method: str
    path: str
    name: str | None = None
    headers: Headers = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    body: str | None = None
    status: StatusList | None = None
    checks: list[Check] = Field(default_factory=list)
    think: Duration | None = None

    @classmethod
    def _accepted_keys(cls) -> set[str]:
        return super()._accepted_keys() | set(VERBS)

    @classmethod
    def yaml_keys(cls) -> list[str]:
        return [*VERBS, *super().yaml_keys()]

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        verbs = [k for k in data if k in VERBS]
        issues: list[Issue] = []
        data = dict(data)
        if verbs:
            issues.extend(
                issue((key,), f"unknown field '{key}'; write the verb key alone, e.g. get: /path")
                for key in ("method", "path")
                if key in data
            )
        if len(verbs) == 1:
            data["method"], data["path"] = verbs[0].upper(), data.pop(verbs[0])
        elif not verbs and "method" in data and "path" in data:
            pass  # the stored form, e.g. a dumped model validated again
        elif not verbs:
            issues.append(issue((), f"{_ONE_VERB}; got none", data))
            data.setdefault("method", "GET")  # placeholders: no extra "missing" noise
            data.setdefault("path", "/")
        else:
            got = " and ".join(verbs)
            issues.append(issue((verbs[1],), f"{_ONE_VERB}; got {got}", data[verbs[1]]))
            data["method"], data["path"] = verbs[0].upper(), data[verbs[0]]
            for verb in verbs:
                data.pop(verb)
        if (_given(data, "json") or _given(data, "json_body")) and _given(data, "body"):
            issues.append(issue(("body",), "give either 'json' or 'body', not both", data["body"]))
        return data, issues

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        if value.lower() not in VERBS:
            raise ValueError(f"unknown method {value!r}; {_ONE_VERB}")
        return value.upper()

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith(("/", "http://", "https://", "{{")):
            raise ValueError(
                f"invalid path {value!r}; a step path starts with '/' or is a full http:// "
                "or https:// URL"
            )
        if any(c in value for c in "\r\n\0"):
            raise ValueError(f"invalid path {value!r}: it contains a line break or NUL")
        if value.startswith(("http://", "https://")) and "{{" not in value.split("/", 3)[2]:
            problem = url_problem(value)
            if problem is not None:
                raise ValueError(problem)
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and "\0" in value:
            raise ValueError(f"the name {value!r} contains a NUL character (\\0); remove it")
        return value


class DataSource(SpecModel):
    """Rows of a CSV file (header row first) that fill ``{{column}}`` placeholders."""

    file: Text
    """Relative to the spec file's directory."""
    mode: Literal["sequential", "random", "unique"] = "sequential"
