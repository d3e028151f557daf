"""An async client of the Toxiproxy v2 HTTP API, for ``slokit proxy`` and Toxiproxy alike.

It speaks only what both servers understand (proxy and toxic updates are sent as POST, which
every Toxiproxy 2.x accepts) and maps every failure to :class:`~slokit.errors.ProxyError`:
``status`` is the HTTP status (``None`` when the API could not be reached) and the message
says what to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from slokit.chaos._model import ProxyConfig
from slokit.errors import ProxyError, UsageError

if TYPE_CHECKING:
    import httpx

__all__ = ["ToxiproxyClient"]

_HINTS = {
    400: "fix the request: see the toxic types and attributes in the Toxiproxy README",
    403: "the API refuses browser user agents (Mozilla/...): send another User-Agent",
    404: "list what exists with proxies() or toxics(proxy)",
    409: "pick another name, or remove the existing one first",
    500: "the proxy could not listen there: pick a free port (port 0 picks one)",
}


def _path(*parts: str) -> str:
    return "/" + "/".join(quote(part, safe="") for part in parts)


class ToxiproxyClient:
    """Drive a fault proxy over HTTP: ``slokit proxy`` or a real Toxiproxy.

    ::

        async with ToxiproxyClient("http://127.0.0.1:8474") as toxiproxy:
            await toxiproxy.create_proxy("redis", "127.0.0.1:26379", "127.0.0.1:6379")
            await toxiproxy.add_toxic("redis", "latency", {"latency": 200})
            await toxiproxy.set_enabled("redis", False)
            await toxiproxy.reset()

    ``client`` may be an ``httpx.AsyncClient`` of your own (it is then not closed here).
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1:8474",
        *,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        try:
            import httpx
        except ImportError:
            raise UsageError("ToxiproxyClient needs httpx: pip install 'slokit[chaos]'") from None

        if not url.startswith(("http://", "https://")):
            url = "http://" + url  # as Toxiproxy's own clients, "localhost:8474" is fine
        self.url = url.rstrip("/")
        self._owned = client is None
        self._http = client or httpx.AsyncClient(
            timeout=timeout, headers={"User-Agent": "slokit-toxiproxy-client"}
        )

    async def __aenter__(self) -> ToxiproxyClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owned:
            await self._http.aclose()

    # --- proxies --------------------------------------------------------------------------

    async def version(self) -> str:
        """The server's version (Toxiproxy answers JSON since 2.6, plain text before)."""
        answer = await self._call("GET", "/version")
        return str(answer.get("version", "")) if isinstance(answer, dict) else str(answer)

    async def proxies(self) -> dict[str, dict[str, Any]]:
        """Every proxy by name: ``{"name", "listen", "upstream", "enabled", "toxics"}``."""
        answer: dict[str, dict[str, Any]] = await self._call("GET", "/proxies")
        return answer

    async def proxy(self, name: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self._call("GET", _path("proxies", name))
        return answer

    async def create_proxy(
        self, name: str, listen: str, upstream: str, enabled: bool = True
    ) -> dict[str, Any]:
        """Create a proxy; the answer's ``listen`` has the real port when ``listen`` ends in
        ``:0``."""
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        answer: dict[str, Any] = await self._call("POST", "/proxies", body)
        return answer

    async def update_proxy(self, name: str, **fields: Any) -> dict[str, Any]:
        """Change ``listen``, ``upstream`` and/or ``enabled`` of a proxy."""
        answer: dict[str, Any] = await self._call("POST", _path("proxies", name), fields)
        return answer

    async def set_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        """Take a proxy down (``False``: connections closed, port refuses) or back up."""
        return await self.update_proxy(name, enabled=enabled)

    async def delete_proxy(self, name: str) -> None:
        await self._call("DELETE", _path("proxies", name))

    async def populate(
        self, proxies: Iterable[ProxyConfig | Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Create or replace proxies in one call; returns them as the server has them."""
        body = [
            {k: v for k, v in p.to_json().items() if k != "toxics"}
            if isinstance(p, ProxyConfig)
            else dict(p)
            for p in proxies
        ]
        answer = await self._call("POST", "/populate", body)
        created: list[dict[str, Any]] = answer["proxies"] if isinstance(answer, dict) else []
        return created

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        await self._call("POST", "/reset")

    # --- toxics ---------------------------------------------------------------------------

    async def toxics(self, proxy: str) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = await self._call("GET", _path("proxies", proxy, "toxics"))
        return answer

    async def toxic(self, proxy: str, name: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self._call("GET", _path("proxies", proxy, "toxics", name))
        return answer

    async def add_toxic(
        self,
        proxy: str,
        type: str,
        attributes: Mapping[str, Any] | None = None,
        *,
        stream: str = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
    ) -> dict[str, Any]:
        """Add a toxic; its name defaults to ``{type}_{stream}``."""
        body: dict[str, Any] = {
            "type": type,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": dict(attributes or {}),
        }
        if name:
            body["name"] = name
        answer: dict[str, Any] = await self._call("POST", _path("proxies", proxy, "toxics"), body)
        return answer

    async def update_toxic(
        self,
        proxy: str,
        name: str,
        attributes: Mapping[str, Any] | None = None,
        *,
        toxicity: float | None = None,
    ) -> dict[str, Any]:
        """Change some attributes (the others are kept) and/or the toxicity of a toxic."""
        body: dict[str, Any] = {"attributes": dict(attributes or {})}
        if toxicity is not None:
            body["toxicity"] = toxicity
        answer: dict[str, Any] = await self._call(
            "POST", _path("proxies", proxy, "toxics", name), body
        )
        return answer

    async def remove_toxic(self, proxy: str, name: str) -> None:
        await self._call("DELETE", _path("proxies", proxy, "toxics", name))

    # --- transport ------------------------------------------------------------------------

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        import httpx

        try:
            response = await self._http.request(method, self.url + path, json=body)
        except httpx.HTTPError as exc:
            raise ProxyError(
                f"cannot reach the fault proxy API at {self.url} ({type(exc).__name__}: "
                f"{exc or 'no detail'}); start it with `slokit proxy` (or toxiproxy-server) "
                "or fix the URL"
            ) from exc
        if response.status_code >= 400:
            raise _refused(method, path, response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text.strip()


def _refused(method: str, path: str, response: httpx.Response) -> ProxyError:
    status = response.status_code
    try:
        error = str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        error = response.text.strip() or response.reason_phrase
    hint = _HINTS.get(status, "see the server's log")
    return ProxyError(
        f"{method} {path} was refused with HTTP {status}: {error}; {hint}",
        status=status,
        error=error,
    )
