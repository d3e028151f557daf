"""Flow steps (``{get: /path}``), their checks, and CSV data sources."""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

from slokit.spec._base import (
    INTEGER,
    Headers,
    Issue,
    SpecModel,
    Text,
    describe,
    integer,
    issue,
    url_problem,
)
from slokit.spec._jsonpath import compile_path
from slokit.spec._units import Duration

__all__ = ["STREAM_VERBS", "VERBS", "Check", "DataSource", "StatusList", "Step"]

HTTP_VERBS = ("get", "post", "put", "patch", "delete", "head", "options")
STREAM_VERBS = ("sse", "ws")
"""``sse: /path`` holds a Server-Sent Events stream, ``ws: /path`` a WebSocket."""
VERBS = (*HTTP_VERBS, *STREAM_VERBS)
_ONE_VERB = "a step needs exactly one of " + ", ".join(VERBS)
# Keys that say how to hold a stream: on a request/response step they would do nothing.
_STREAM_KEYS = ("hold", "events", "until", "reconnect", "retry", "send", "idle_timeout")
MAX_STREAM_EVENTS = 1_000_000_000
StreamEvents = Annotated[
    int,
    BeforeValidator(integer(1, "the number of events", MAX_STREAM_EVENTS, " per stream step")),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_STREAM_EVENTS}),
]
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
    ``{json: "$.a.b[0]", equals: 1}`` / ``{json: "$.a", exists: true}``. On a stream step a
    check is about each event or message: ``{event: order}`` (its SSE event type), and
    ``body_contains`` / ``json`` look at its data."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    status: StatusList | None = None
    body_contains: str | None = None
    json_path: str | None = Field(default=None, alias="json")
    equals: Any = None
    exists: bool | None = None
    event: str | None = None

    def describe(self) -> str:
        """The check in a few words, as results name a failed one."""
        if self.status is not None:
            codes = sorted(self.status)
            return f"status {codes[0]}" if len(codes) == 1 else f"status in {codes}"
        if self.body_contains is not None:
            return f"body contains {json.dumps(self.body_contains, ensure_ascii=False)}"
        if self.event is not None:
            return f"event {self.event}"
        if "equals" in self.model_fields_set:
            return f"{self.json_path} == {json.dumps(self.equals, ensure_ascii=False)}"
        return f"{self.json_path} {'absent' if self.exists is False else 'exists'}"

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        # None counts as absent, so a dumped model (every field present) validates again.
        kinds = [
            k for k in ("status", "body_contains", "json", "json_path", "event") if _given(data, k)
        ]
        issues: list[Issue] = []
        if len(kinds) != 1:
            got = " and ".join(kinds) if kinds else "none"
            loc = (kinds[1],) if len(kinds) > 1 else ()
            issues.append(
                issue(
                    loc,
                    "a check needs exactly one of status, body_contains, json (or event, on a "
                    f"stream step); got {got}",
                )
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
        for verb in HTTP_VERBS
    }
    verbs["sse"] = {"type": "string", "description": "Hold a Server-Sent Events stream."}
    verbs["ws"] = {"type": "string", "description": "Hold a WebSocket (ws:// or a path)."}
    schema["properties"] = {**verbs, **props}
    required = [r for r in schema.pop("required", []) if r not in ("method", "path")]
    if required:
        schema["required"] = required
    schema["oneOf"] = [{"required": [verb]} for verb in VERBS]


class Step(SpecModel):
    """One HTTP request of a flow. YAML: ``{post: /api/orders, json: {sku: A1}}``.

    ``path`` may hold ``{{column}}`` placeholders filled from the scenario's data rows, and
    may be a full URL. ``status`` None means any status below 400 is a success.

    ``{sse: /events, hold: 30s}`` and ``{ws: /ws, send: [hi], events: 1}`` are stream
    steps: ``method`` is then ``SSE`` or ``WS`` (``open_method``, YAML ``method``, is the
    HTTP method an SSE stream is opened with), and the step ends when the first of
    ``hold`` (a duration), ``events`` (events or messages received) or ``until`` (a check
    an event passes) is met. ``checks`` are run on every event or message.
    """

    model_config = ConfigDict(
        validate_by_name=True, validate_by_alias=True, json_schema_extra=_step_schema
    )
    _hidden_keys: ClassVar[frozenset[str]] = frozenset({"method", "path", "open_method"})

    method: str
    path: str
    name: str | None = None
    headers: Headers = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    body: str | None = None
    status: StatusList | None = None
    checks: list[Check] = Field(default_factory=list)
    think: Duration | None = None
    open_method: Literal["GET", "POST"] = "GET"
    hold: Duration | None = None
    events: StreamEvents | None = None
    until: Check | None = None
    reconnect: bool = True
    retry: Duration | None = None
    """Wait this long before reconnecting (1 s); an SSE server's ``retry:`` wins."""
    idle_timeout: Duration | None = None
    """A live stream silent this long (no event, no heartbeat) counts as dropped."""
    send: list[Any] = Field(default_factory=list)
    """WebSocket: messages sent once connected (a string as text, anything else as JSON)."""

    @property
    def stream(self) -> Literal["sse", "ws"] | None:
        """The kind of stream this step holds, or None for a request/response step."""
        if self.method == "SSE":
            return "sse"
        return "ws" if self.method == "WS" else None

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
        stream = len(verbs) == 1 and verbs[0] in STREAM_VERBS
        if stream:
            issues.extend(_stream_issues(verbs[0], data))
        elif data.get("method") not in ("SSE", "WS"):  # not the stored form of a stream step
            issues.extend(
                issue((key,), f"'{key}' only applies to a stream step (sse: or ws:)", data[key])
                for key in _STREAM_KEYS
                if _set(key, data.get(key))
            )
            issues.extend(_http_check_issues(data))
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
        if value.startswith(("ws://", "wss://")):
            return value  # only a ws: step may have it: _prepare says so for the others
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


def _stream_issues(verb: str, data: dict[Any, Any]) -> list[Issue]:
    """What a stream step's mapping gets wrong; rewrites ``method`` into ``open_method``."""
    issues: list[Issue] = []
    if "method" in data:
        method = data.pop("method")
        if verb == "ws":
            issues.append(issue(("method",), "a WebSocket is always opened with GET", method))
        elif not isinstance(method, str) or method.upper() not in ("GET", "POST"):
            issues.append(issue(("method",), "an SSE stream is opened with GET or POST", method))
        else:
            data["open_method"] = method.upper()
    target = data.get(verb)
    if isinstance(target, str):
        if verb == "sse" and target.startswith(("ws://", "wss://")):
            issues.append(issue((verb,), "a ws:// URL is a WebSocket: write it as ws: URL", target))
        if verb == "ws" and target.startswith(("http://", "https://")):
            scheme = "wss" if target.startswith("https") else "ws"
            issues.append(
                issue(
                    (verb,),
                    f"a WebSocket URL starts with ws:// or wss://; write {scheme}://"
                    f"{target.split('://', 1)[1]}",
                    target,
                )
            )
    if verb == "ws":
        for key in ("json", "body"):
            if _given(data, key):
                issues.append(
                    issue((key,), f"'{key}' does not apply to a ws: step; messages go in 'send'")
                )
    elif data.get("send"):
        issues.append(issue(("send",), "'send' applies to a ws: step; an SSE client only reads"))
    ends = [k for k in ("hold", "events", "until") if _given(data, k)]
    if not ends and not (verb == "ws" and data.get("send")):
        issues.append(
            issue(
                (),
                f"{'an' if verb == 'sse' else 'a'} {verb}: step needs 'hold' (e.g. 30s), "
                "'events' (how many to receive) or 'until' (a check an event must pass) to know "
                "when it is done",
            )
        )
    for i, check in enumerate(data.get("checks") or []):
        if isinstance(check, dict) and _given(check, "status"):
            issues.append(
                issue(
                    ("checks", i, "status"),
                    "a stream step's checks look at each event; put the expected status of "
                    "the handshake in the step's 'status'",
                )
            )
    return issues


def _set(key: str, value: Any) -> bool:
    """A stream key given a value that would change something (the stored form of a
    request step has every key, at its default)."""
    if key == "reconnect":
        return value is not None and value is not True
    if key == "send":
        return bool(value)
    return value is not None


def _http_check_issues(data: dict[Any, Any]) -> list[Issue]:
    return [
        issue(("checks", i, "event"), "an 'event' check applies to an sse: or ws: step")
        for i, check in enumerate(data.get("checks") or [])
        if isinstance(check, dict) and _given(check, "event")
    ]


class DataSource(SpecModel):
    """Rows of a CSV file (header row first) that fill ``{{column}}`` placeholders."""

    file: Text
    """Relative to the spec file's directory."""
    mode: Literal["sequential", "random", "unique"] = "sequential"
