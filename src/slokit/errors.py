"""Every error slokit raises on purpose derives from :class:`SlokitError`.

::

    SlokitError
     ├── SpecError          the spec file is missing, not YAML, or invalid (exit 2)
     ├── UsageError         a command-line option or API argument is wrong (exit 2)
     ├── RunError           a load run could not start or was aborted (exit 3)
     ├── ProxyError         the fault proxy (or a Toxiproxy) refused a request or is unreachable
     ├── StoreError         the run store cannot be opened, read or written
     ├── ResilienceError    a resilience guard refused an outgoing call (never a wrapped error)
     │    ├── CircuitOpenError  the circuit breaker is open (or half-open and full)
     │    ├── BulkheadFullError no slot in the bulkhead within its max wait
     │    └── DeadlineExceeded  the call's deadline passed (also a TimeoutError)
     └── TransportError     one HTTP request failed below HTTP (counted, never raised to users)
          ├── ConnectError  the TCP/TLS connection could not be made
          ├── RequestTimeout the request did not complete within its timeout
          └── ProtocolError the peer reset the connection or sent something that is not HTTP/1.1

Errors carry text written for the person who has to fix the problem: what is
wrong and what to do instead.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BulkheadFullError",
    "CircuitOpenError",
    "ConnectError",
    "DeadlineExceeded",
    "ProtocolError",
    "ProxyError",
    "RequestTimeout",
    "ResilienceError",
    "RunError",
    "SlokitError",
    "SpecError",
    "SpecProblem",
    "StoreError",
    "TransportError",
    "UsageError",
]


class SlokitError(Exception):
    """Base of every error slokit raises on purpose."""


@dataclass(frozen=True)
class SpecProblem:
    """One problem in a spec: where it is and what is wrong."""

    path: str
    """Dotted path to the field, e.g. ``scenarios.baseline.vus``; empty for the whole file."""
    message: str
    """What is wrong and what is expected instead."""
    line: int | None = None
    """1-based line in the spec file, when known."""

    def __str__(self) -> str:
        where = self.path or "(file)"
        if self.line is not None:
            where = f"{where} (line {self.line})"
        return f"{where}: {self.message}"


class SpecError(SlokitError):
    """The spec could not be read or is invalid. ``problems`` lists every problem found."""

    def __init__(
        self, problems: list[SpecProblem], source: str | None = None, what: str = "spec"
    ) -> None:
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        lines = "\n".join(f"  {p}" for p in self.problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{head}{count} {noun} in {what}:\n{lines}")


class UsageError(SlokitError):
    """An option or argument is wrong; the message says which and what is accepted."""


class RunError(SlokitError):
    """A load run could not start, or had to stop early."""


class ProxyError(SlokitError):
    """The fault proxy refused a request, or its control API could not be reached.

    ``status`` is the HTTP status the Toxiproxy-compatible API answers with (404 unknown proxy
    or toxic, 409 duplicate, 400 bad input, 500 cannot listen), ``None`` when the API was not
    reached at all. ``error`` is the short Toxiproxy error text (``"proxy not found"``) sent
    on the wire; ``str(exc)`` says what to do about it.
    """

    def __init__(
        self, message: str, *, status: int | None = None, error: str | None = None
    ) -> None:
        self.status = status
        self.error = message if error is None else error
        super().__init__(message)


class StoreError(SlokitError):
    """The run store (run history) could not be opened, read or written.

    The message names the store (passwords hidden), the reason, and what to do about it.
    """


class ResilienceError(SlokitError):
    """A resilience guard refused the call before (or instead of) making it."""


class CircuitOpenError(ResilienceError):
    """The breaker named ``breaker`` is open; calls are refused for ``retry_after`` seconds."""

    def __init__(self, breaker: str, retry_after: float) -> None:
        self.breaker = breaker
        self.retry_after = retry_after
        super().__init__(
            f"circuit breaker {breaker!r} is open: calls are refused for another "
            f"{retry_after:.3g} s; serve a fallback meanwhile"
        )


class BulkheadFullError(ResilienceError):
    """Every slot of the bulkhead ``bulkhead`` stayed taken for its whole max wait."""

    def __init__(self, bulkhead: str, max_concurrent: int, max_wait: float) -> None:
        self.bulkhead = bulkhead
        super().__init__(
            f"bulkhead {bulkhead!r} is full: {max_concurrent} calls in flight and no slot "
            f"freed within {max_wait:g} s"
        )


class DeadlineExceeded(ResilienceError, TimeoutError):
    """The call ran out of time (its own timeout or the request's deadline)."""


class TransportError(SlokitError):
    """A request failed below HTTP. ``kind`` is the failure label used in results."""

    kind = "transport"


class ConnectError(TransportError):
    """The connection could not be opened (refused, unreachable, DNS, TLS handshake)."""

    kind = "connect"


class RequestTimeout(TransportError):
    """The request did not complete within its timeout."""

    kind = "timeout"


class ProtocolError(TransportError):
    """The connection was reset or the response was not valid HTTP/1.1."""

    kind = "protocol"
