"""Reading a request body before the request takes a concurrency slot.

A slot is the scarce thing a concurrency limit shares out. A client that sends the headers
of a ``POST`` and then the body slowly (or never) would hold one for as long as it likes:
a hundred such clients and every other request is shed. So, with a limit on, a body of
bounded size is read first, within ``body_timeout``, and only then is a slot asked for; the
application gets the same messages replayed, in order, and then the server's ``receive``.

Bounded means at most ``max_body`` bytes, or :data:`PREREAD_LIMIT` without one: a declared
body above that (an upload) is not buffered but streamed to the application once it holds a
slot; a body of unknown length (chunked, HTTP/2) is read up to the bound and the rest streams.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from slokit.asgi._guards import Refusal
from slokit.asgi._respond import Receive

__all__ = ["GONE", "PREREAD_LIMIT", "Replay", "preread", "too_large"]

PREREAD_LIMIT = 1 << 20
"""Bytes buffered before admission when no ``max_body`` bounds the body (1 MiB)."""

GONE = Refusal(499, "client_gone", [], "the client went away before its body arrived")
"""Not an answer: the client disconnected, so nobody is left to send one to."""


class Replay:
    """A ``receive`` that gives back the messages read ahead, then reads on."""

    __slots__ = ("_messages", "_receive")

    def __init__(self, messages: deque[Any], receive: Receive) -> None:
        self._messages = messages
        self._receive = receive

    async def __call__(self) -> Any:
        if self._messages:
            return self._messages.popleft()
        return await self._receive()


def _timed_out(timeout: float) -> Refusal:
    return Refusal(
        408,
        "body_timeout",
        [],
        f"the request body did not arrive within {timeout:g} s; send it in one go and retry",
    )


def too_large(limit: int) -> Refusal:
    return Refusal(413, "body_too_large", [], f"the request body is over the {limit}-byte limit")


async def preread(
    receive: Receive, *, bound: int, max_body: int | None, timeout: float
) -> deque[Any] | Refusal:
    """The body's messages (all of them, or the first ``bound`` bytes' worth), or a refusal:
    408 after ``timeout`` seconds, 413 past ``max_body``, :data:`GONE` on a disconnect."""
    messages: deque[Any] = deque()
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return GONE
                messages.append(message)
                if message["type"] != "http.request":
                    continue  # not ours to judge; the application gets it in order
                size += len(message.get("body", b""))
                if max_body is not None and size > max_body:
                    return too_large(max_body)
                if not message.get("more_body", False) or size >= bound:
                    return messages
    except TimeoutError:
        return _timed_out(timeout)
