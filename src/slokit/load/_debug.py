"""``--http-debug``: the first requests and responses of each worker, printed as sent.

A subclass of the client rather than a flag in it: a run without ``--http-debug`` keeps the
plain client and pays nothing on its hot path.
"""

from __future__ import annotations

import ssl
import sys
from typing import Any, TextIO

from slokit.errors import TransportError
from slokit.load._http import HttpClient, PreparedRequest
from slokit.load._protocol import Response

__all__ = ["BODY_SHOWN", "DebugClient", "insecure_context"]

BODY_SHOWN = 1024
"""Bytes of each body printed; the rest is counted."""


def insecure_context() -> ssl.SSLContext:
    """``--insecure-skip-tls-verify``: TLS without checking the certificate or host name,
    for self-signed staging certificates (k6's option of the same name)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    return context


def _body(body: bytes | None, prefix: str) -> list[str]:
    if not body:
        return []
    text = body[:BODY_SHOWN].decode("utf-8", errors="replace")
    lines = [f"{prefix} {line}" for line in text.splitlines() or [""]]
    if len(body) > BODY_SHOWN:
        lines.append(f"{prefix} ... ({len(body) - BODY_SHOWN:,} more bytes)")
    return lines


class DebugClient(HttpClient):
    """An :class:`HttpClient` that prints its first ``limit`` exchanges to ``out``."""

    def __init__(
        self, *, limit: int, worker: int = 0, out: TextIO | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._limit = limit
        self._worker = worker
        self._out = out
        self._shown = 0

    async def send(self, prepared: PreparedRequest, *, timeout: float | None = None) -> Response:
        if self._shown >= self._limit:
            return await super().send(prepared, timeout=timeout)
        self._shown += 1
        number = self._shown
        try:
            response = await super().send(prepared, timeout=timeout)
        except TransportError as exc:
            self._print(number, prepared, [f"< no response: {exc.kind}: {exc}"])
            raise
        ms = (response.finished - response.started) * 1000
        lines = [f"< HTTP/1.1 {response.status} ({ms:.1f} ms)"]
        lines += [
            f"< {name.decode('latin-1')}: {value.decode('latin-1')}"
            for name, value in response.headers
        ]
        lines += ["<", *_body(response.body, "<")]
        self._print(number, prepared, lines)
        return response

    def _print(self, number: int, prepared: PreparedRequest, answer: list[str]) -> None:
        head, _, body = prepared.raw.partition(b"\r\n\r\n")
        lines = [f"-- http-debug: worker {self._worker}, request {number} of {self._limit} --"]
        lines += [f"> {line}" for line in head.decode("latin-1").split("\r\n")]
        lines += [">", *_body(body, ">"), *answer, ""]
        out = self._out or sys.stderr
        out.write("\n".join(lines) + "\n")
        out.flush()
