"""JSON logs: one access-log line per request, and a formatter for the application's own logs.

The access log is written straight to a stream (stdout by default) rather than through
``logging``: a LogRecord, its handler locks and a formatter cost more than the rest of the
middleware together. Lines are formatted and written in batches (see ``_sink``), at most
100 ms after their request ended, and at shutdown.
``access_log="logging"`` sends the same JSON lines through the ``slokit.access`` logger for
services that route everything through ``logging``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring as _q
from typing import Any, TextIO
from urllib.parse import parse_qsl, quote

__all__ = ["DEFAULT_MASK", "AccessLog", "JsonLogFormatter"]

DEFAULT_MASK = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "password",
        "passwd",
        "secret",
        "token",
        "access_token",
        "api_key",
        "apikey",
    }
)
"""Header names, query parameters and log fields whose values never reach a log line."""

_MASKED = "***"
_logger = logging.getLogger("slokit.access")


# By status class: 5xx are errors of ours, 4xx are worth a look, the rest is routine.
_LEVELS = ("info", "info", "info", "info", "warning", "error", "error", "error", "error", "error")


# "000" to "999": milliseconds without a format specification (which costs more than the rest).
_MS = [f"{i:03d}" for i in range(1000)]


class _Clock:
    """ISO 8601 UTC timestamps with milliseconds; the date part is formatted once a second.
    (AccessLog.lines asks once a millisecond: a busy server logs several lines in one.)"""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def format(self, t: float) -> str:
        ms = int(t * 1000.0)
        second = ms // 1000
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
        return f"{self._prefix}{_MS[ms - second * 1000]}Z"


class AccessLog:
    """Formats and writes access-log lines; ``stream=None`` sends them through ``logging``."""

    def __init__(
        self,
        stream: TextIO | None,
        *,
        service: str,
        user_header: str | None = None,
        headers: Sequence[str] = (),
        mask: Iterable[str] = DEFAULT_MASK,
    ) -> None:
        self._stream = stream
        self._clock = _Clock()
        self._service = _q(service)
        self.user_header = user_header.lower().encode("latin-1") if user_header else None
        self.headers = tuple(h.lower().encode("latin-1") for h in headers)
        self._mask = frozenset(m.lower() for m in mask)
        self._routes: dict[str, str] = {}
        self._clients: dict[str, str] = {}
        self._mask_client = "client" in self._mask
        self._mask_user = "user" in self._mask
        self._mask_path = "path" in self._mask

    def lines(self, flat: list[Any], step: int) -> list[str]:
        """One line per record of a batch: ``flat`` holds ``step`` fields per record, in the
        order of :data:`slokit.asgi._sink.Record` (wall time first).

        Hand-assembled in one loop: the fixed keys need no escaping, and json.dumps of a dict
        per line costs three times as much. request_id (validated or ours), the ids and the
        method (a known token) are safe as they are; every other client value goes through
        ``_q``. The constant parts are joined once, outside the loop.
        """
        stamp = self._clock.format
        routes, clients = self._routes.get, self._clients.get
        quoted_route, quoted_client = self._quoted, self._quoted_client
        levels = _LEVELS
        q = _q
        mask_path = self._mask_path
        after_time = '","level":"'
        after_level = f'","logger":"slokit.access","service":{self._service},"request_id":"'
        last_ms = -1
        time_text = ""
        out: list[str] = []
        append = out.append
        # zip over one iterator cuts the flat list into records in C (reusing one tuple),
        # half the cost of slicing it.
        for (
            wall, request_id, trace_id, span_id, method, route, path, query, status,
            seconds, bytes_in, bytes_out, client, user, logged_headers,
        ) in zip(*[iter(flat)] * step, strict=True):  # fmt: skip
            ms = int(wall * 1000.0)
            if ms != last_ms:  # several lines a millisecond on a busy server
                last_ms, time_text = ms, stamp(wall)
            where = (
                "" if client is None else ',"client":' + (clients(client) or quoted_client(client))
            )
            rare = (
                self._rare(query, user, logged_headers)
                if query or user is not None or logged_headers
                else ""
            )
            append(
                f'{{"time":"{time_text}{after_time}{levels[status // 100]}{after_level}'
                f'{request_id}","trace_id":"{trace_id}","span_id":"{span_id}","method":"{method}'
                f'","route":{routes(route) or quoted_route(route)}'
                f',"path":{q(_MASKED if mask_path else path)}'
                f',"status":{status},"latency_ms":{"%.3f" % (seconds * 1000.0)}'
                f',"bytes_in":{bytes_in},"bytes_out":{bytes_out}{where}{rare}}}\n'
            )
        return out

    def _quoted(self, route: str) -> str:
        # Route labels are a small set (templates): quote each once.
        quoted = self._routes.get(route)
        if quoted is None:
            quoted = self._routes[route] = _q(route)
        return quoted

    def _quoted_client(self, client: str) -> str:
        quoted = self._clients.get(client)
        if quoted is None:
            if len(self._clients) >= 4096:  # many distinct clients: keep the cache bounded
                self._clients.clear()
            quoted = _q(_MASKED if self._mask_client else client)
            self._clients[client] = quoted
        return quoted

    def _rare(self, query: bytes, user: str | None, logged_headers: dict[str, str] | None) -> str:
        tail = ""
        if query:
            tail += f',"query":{_q(self._query(query))}'
        if user is not None:
            tail += f',"user":{_q(_MASKED if self._mask_user else user)}'
        if logged_headers:
            tail += f',"headers":{json.dumps(logged_headers, ensure_ascii=False)}'
        return tail

    def _query(self, raw: bytes) -> str:
        text = raw.decode("latin-1")
        pairs = parse_qsl(text, keep_blank_values=True)
        if not any(k.lower() in self._mask for k, _ in pairs):
            return text
        return "&".join(
            f"{quote(k)}={_MASKED if k.lower() in self._mask else quote(v)}" for k, v in pairs
        )

    def header_values(self, raw: Sequence[tuple[bytes, bytes]]) -> dict[str, str] | None:
        """The configured request headers, masked where they carry secrets."""
        if not self.headers:
            return None
        found: dict[str, str] = {}
        for name, value in raw:
            lower = name.lower()
            if lower in self.headers:
                key = lower.decode("latin-1")
                found[key] = _MASKED if key in self._mask else value.decode("latin-1")
        return found

    def write(self, lines: list[str]) -> None:
        """Write a batch of lines and flush: one write and one flush per batch."""
        stream = self._stream
        if stream is None:
            for line in lines:
                _logger.info(line.rstrip("\n"))
            return
        # A closed or broken stdout must not take the service down.
        with contextlib.suppress(OSError, ValueError):
            stream.write("".join(lines))
            stream.flush()


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record, with the current request's ids (see ``install_log_context``).

    ``handler = logging.StreamHandler(); handler.setFormatter(JsonLogFormatter())``
    """

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "trace_id", "span_id"):
            value = getattr(record, key, None)
            if value is not None:
                document[key] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False, default=str)
