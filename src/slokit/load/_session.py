"""The object a Python journey receives: ``async def checkout(s: Session) -> None``."""

from __future__ import annotations

import asyncio
import json as _json
from collections.abc import Mapping
from typing import Any

from slokit.load._flow import join_url
from slokit.load._http import Response
from slokit.load._naming import NameFolder
from slokit.load._vu import VU

__all__ = ["Session"]

_UNSET: Any = object()


class Session:
    """Requests made through a session are measured and named like flow steps.

    A request that fails below HTTP (refused, reset, timeout) ends the iteration: it has
    already been counted, and the journey has nothing to work with. A response with an
    unexpected status is returned, counted as a failure, and the journey goes on.
    """

    def __init__(
        self,
        vu: VU,
        *,
        target: str | None,
        headers: Mapping[str, str],
        folder: NameFolder,
    ) -> None:
        self._vu = vu
        self._target = target
        self._headers = dict(headers)
        self._folder = folder
        self._last_name = "checks"

    @property
    def vu(self) -> int:
        """This virtual user's number, unique across workers."""
        return self._vu.id

    @property
    def iteration(self) -> int:
        """How many iterations this VU has started before this one."""
        return self._vu.iteration

    @property
    def data(self) -> Mapping[str, str]:
        """The data row for this iteration (empty without a ``data:`` file)."""
        return self._vu.row

    async def request(
        self,
        method: str,
        path: str,
        *,
        name: str | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = _UNSET,
        body: bytes | str | None = None,
        expect: int | set[int] | list[int] | None = None,
        timeout: float | None = None,
    ) -> Response:
        method = method.upper()
        merged = {**self._headers, **(headers or {})}
        payload: bytes | None
        if json is not _UNSET:
            payload = _json.dumps(json, separators=(",", ":")).encode()
            if not any(k.lower() == "content-type" for k in merged):
                merged["Content-Type"] = "application/json"
        else:
            payload = body.encode() if isinstance(body, str) else body
        bare = path.split("?", 1)[0]
        request_name = name or self._folder.name(method, bare)
        ok = frozenset([expect] if isinstance(expect, int) else expect) if expect else None
        prepared = self._vu.client.prepare(method, join_url(self._target, path), merged, payload)
        response, latency = await self._vu.exchange(
            request_name, method, bare, prepared, ok, timeout
        )
        self._vu.record(request_name, method, bare, response, latency, ok)
        self._last_name = request_name
        return response

    async def get(self, path: str, **kw: Any) -> Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Response:
        return await self.request("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> Response:
        return await self.request("PUT", path, **kw)

    async def patch(self, path: str, **kw: Any) -> Response:
        return await self.request("PATCH", path, **kw)

    async def delete(self, path: str, **kw: Any) -> Response:
        return await self.request("DELETE", path, **kw)

    async def head(self, path: str, **kw: Any) -> Response:
        return await self.request("HEAD", path, **kw)

    def check(self, condition: object, name: str | None = None) -> bool:
        """Count a check against the last request (or ``name``); returns ``bool(condition)``.

        Checks feed the ``checks`` gate metric; they do not change the request's status. A
        ``name`` no request has is a named check of its own in the results, not a request.
        """
        ok = bool(condition)
        stats = self._vu.recorder.stats(name or self._last_name, "-", "-")
        if ok:
            stats.checks_passed += 1
        else:
            stats.checks_failed += 1
        return ok

    async def sleep(self, seconds: float) -> None:
        """Think time inside a journey."""
        await asyncio.sleep(seconds)
