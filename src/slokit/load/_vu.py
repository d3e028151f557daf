"""One virtual user: its HTTP client, data row, and the measured request exchange."""

from __future__ import annotations

import math

from slokit.errors import TransportError
from slokit.load._http import HttpClient, PreparedRequest, Response
from slokit.load._recorder import Recorder

__all__ = ["VU", "IterationAborted"]


class IterationAborted(Exception):
    """A request failed below HTTP; the rest of this iteration is skipped (already counted)."""


class VU:
    """State one virtual user carries between its requests.

    ``intended`` is the open model's scheduled start of the current iteration: the first
    request measures its latency from there, so time spent waiting for the generator or a
    stalled server is never hidden (no coordinated omission). It is consumed by that request.
    """

    __slots__ = ("client", "deadline", "id", "intended", "iteration", "recorder", "row", "timeout")

    def __init__(
        self,
        vu_id: int,
        client: HttpClient,
        recorder: Recorder,
        timeout: float,
        deadline: float = math.inf,
    ) -> None:
        self.deadline = deadline
        """perf_counter() value when the scenario ends: no stream is held past it."""
        self.id = vu_id
        self.client = client
        self.recorder = recorder
        self.timeout = timeout
        self.row: dict[str, str] = {}
        self.intended: float | None = None
        self.iteration = 0

    async def exchange(
        self,
        name: str,
        method: str,
        path: str,
        prepared: PreparedRequest,
        ok_status: frozenset[int] | None,
        timeout: float | None = None,
    ) -> tuple[Response, float]:
        """Send one request; return the response and its latency in seconds.

        A failure below HTTP is recorded here and ends the iteration; a response is
        recorded by :meth:`record` once the caller has run its checks.
        """
        intended = self.intended
        self.intended = None
        try:
            response = await self.client.send(prepared, timeout=timeout or self.timeout)
        except TransportError as exc:
            self.recorder.error(name, method, path, exc.kind)
            raise IterationAborted from exc
        if intended is None:
            return response, response.finished - response.started
        self.recorder.sent_late(intended, response.started)
        return response, response.finished - intended

    def record(
        self,
        name: str,
        method: str,
        path: str,
        response: Response,
        latency: float,
        ok_status: frozenset[int] | None,
        checks_failed: int = 0,
        checks_passed: int = 0,
    ) -> bool:
        return self.recorder.response(
            name,
            method,
            path,
            latency,
            response.status,
            ok_status,
            response.bytes_sent,
            response.bytes_received,
            checks_failed,
            checks_passed,
        )
