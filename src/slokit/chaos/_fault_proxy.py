"""The proxies by name, and what can be done to them: the Python face of the control API.

Every operation works on live traffic and returns at once: toxics are attached to, changed on
and taken off the open connections without waiting for any of them, so a connection held by
a toxic never holds up the caller.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from slokit.chaos._address import join_address, resolve
from slokit.chaos._model import ProxyConfig, Toxic, proxy_from_json
from slokit.chaos._proxy import Proxy
from slokit.errors import ProxyError, UsageError

__all__ = ["FaultProxy", "load_config"]

_SHUTDOWN_WAIT = 3.0


class FaultProxy:
    """Named TCP proxies with toxics, in the running event loop.

    Usually made by :func:`~slokit.chaos.open_fault_proxy`, which also serves the
    Toxiproxy-compatible HTTP API for it (``url``). Methods raise
    :class:`~slokit.errors.ProxyError` with the HTTP status the API would answer (404 unknown
    proxy or toxic, 409 duplicate name, 400 bad input, 500 cannot listen).
    """

    def __init__(self, *, allow_remote: bool = False) -> None:
        self.url: str | None = None
        """Base URL of the control API, when it is served."""
        self._allow_remote = allow_remote
        self._proxies: dict[str, Proxy] = {}
        self._handlers: set[asyncio.Task[Any]] = set()
        self._lock = asyncio.Lock()

    # --- proxies --------------------------------------------------------------------------

    def proxies(self) -> list[ProxyConfig]:
        """Every proxy, in the order created, with its real listen address and toxics."""
        return [proxy.config() for proxy in self._proxies.values()]

    def proxy(self, name: str) -> ProxyConfig:
        return self._get(name).config()

    async def add_proxy(
        self, name: str, upstream: str, *, listen: str = "127.0.0.1:0", enabled: bool = True
    ) -> ProxyConfig:
        """Create a proxy; it listens at once unless ``enabled`` is false (409 if ``name`` is
        taken)."""
        config = _checked(ProxyConfig(name=name, upstream=upstream, listen=listen, enabled=enabled))
        async with self._lock:
            if name in self._proxies:
                raise ProxyError(
                    f"a proxy named {name!r} already exists: delete it first or pick another "
                    "name (populate replaces proxies whose addresses changed)",
                    status=409,
                    error="proxy already exists",
                )
            proxy = self._new(config)
            if config.enabled:
                await proxy.start()
            self._proxies[name] = proxy
            return proxy.config()

    async def update_proxy(
        self,
        name: str,
        *,
        listen: str | None = None,
        upstream: str | None = None,
        enabled: bool | None = None,
    ) -> ProxyConfig:
        """Change fields of a proxy. A new ``listen`` or ``upstream`` restarts it, dropping its
        connections; ``enabled=False`` takes it down, ``True`` listens again on its address."""
        async with self._lock:
            proxy = self._get(name)
            base = proxy.config()
            new = _checked(
                ProxyConfig(
                    name=name,
                    upstream=base.upstream if upstream is None else upstream,
                    listen=base.listen if listen is None else listen,
                    enabled=base.enabled if enabled is None else enabled,
                )
            )
            if (new.listen, new.upstream) != (base.listen, base.upstream):
                proxy.stop()
                proxy.listen, proxy.upstream = new.listen, new.upstream
            if new.enabled:
                await proxy.start()
            else:
                proxy.stop()
            return proxy.config()

    async def set_enabled(self, name: str, enabled: bool) -> ProxyConfig:
        """Take a proxy down (close its connections, stop listening) or bring it back up."""
        return await self.update_proxy(name, enabled=enabled)

    async def remove_proxy(self, name: str) -> None:
        async with self._lock:
            self._get(name).stop()
            del self._proxies[name]

    async def populate(self, proxies: Iterable[ProxyConfig]) -> list[ProxyConfig]:
        """Create or replace proxies, as Toxiproxy's ``POST /populate``.

        A proxy whose name exists is kept as it is (toxics and all) when its listen and
        upstream addresses are the same, and replaced otherwise. Everything is checked before
        anything changes. ``toxics`` of the configs are added to the proxies created.
        """
        configs = [_checked(config) for config in proxies]
        names = [config.name for config in configs]
        for name in names:
            if names.count(name) > 1:
                raise ProxyError(
                    f"proxy name {name!r} appears twice in one populate: names must be unique",
                    status=400,
                    error=f"duplicate proxy name {name!r}",
                )
        async with self._lock:
            return [await self._replace(config) for config in configs]

    # --- toxics ---------------------------------------------------------------------------

    def toxics(self, proxy: str) -> list[Toxic]:
        return self._get(proxy).toxics()

    def toxic(self, proxy: str, name: str) -> Toxic:
        return self._get(proxy).toxic(name)

    async def add_toxic(
        self,
        proxy: str,
        type: str | Toxic,
        attributes: Mapping[str, Any] | None = None,
        *,
        stream: str = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
    ) -> Toxic:
        """Add a toxic (by type and attributes, or a ready :class:`Toxic`) to a proxy; it acts
        on the connections already open too."""
        if isinstance(type, Toxic):
            if attributes is not None or name is not None:
                raise UsageError("add_toxic: give a Toxic, or a type with its attributes, not both")
            toxic = type
        else:
            toxic = Toxic(type, attributes or {}, stream=stream, toxicity=toxicity, name=name or "")
        self._get(proxy).add_toxic(toxic)
        return toxic

    async def update_toxic(
        self,
        proxy: str,
        name: str,
        attributes: Mapping[str, Any] | None = None,
        *,
        toxicity: float | None = None,
    ) -> Toxic:
        """Change some attributes (the others are kept) and/or the toxicity of a toxic."""
        target = self._get(proxy)
        toxic = target.toxic(name).updated(attributes, toxicity)
        target.update_toxic(toxic)
        return toxic

    async def remove_toxic(self, proxy: str, name: str) -> None:
        """Take a toxic off; data it holds back (latency, bandwidth) flows on at once."""
        self._get(proxy).remove_toxic(name)

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic (Toxiproxy's ``POST /reset``)."""
        async with self._lock:
            for proxy in self._proxies.values():
                await proxy.start()
                for toxic in proxy.toxics():
                    proxy.remove_toxic(toxic.name)

    async def aclose(self) -> None:
        """Take every proxy down and wait (a few seconds at most) for their connections."""
        async with self._lock:
            for proxy in self._proxies.values():
                proxy.stop()
            self._proxies.clear()
        pending = set(self._handlers)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=_SHUTDOWN_WAIT)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    def _traffic(self) -> list[Proxy]:
        """The live proxies, for the metrics collector."""
        return list(self._proxies.values())

    # --- internals ------------------------------------------------------------------------

    def _get(self, name: str) -> Proxy:
        try:
            return self._proxies[name]
        except KeyError:
            known = ", ".join(self._proxies) or "none yet"
            raise ProxyError(
                f"proxy {name!r} not found (proxies: {known}); create it first",
                status=404,
                error="proxy not found",
            ) from None

    def _new(self, config: ProxyConfig) -> Proxy:
        return Proxy(config, allow_remote=self._allow_remote, handlers=self._handlers)

    async def _replace(self, config: ProxyConfig) -> ProxyConfig:
        existing = self._proxies.get(config.name)
        if existing is not None:
            if await _same_addresses(existing, config):
                return existing.config()
            existing.stop()
            del self._proxies[config.name]
        proxy = self._new(config)
        if config.enabled:
            await proxy.start()
        self._proxies[config.name] = proxy
        for toxic in config.toxics:
            proxy.add_toxic(toxic)
        return proxy.config()


async def _same_addresses(proxy: Proxy, config: ProxyConfig) -> bool:
    if config.upstream != proxy.upstream:
        return False
    if config.listen == proxy.listen:
        return True
    try:
        return join_address(*await resolve(config.listen)) == proxy.listen
    except (OSError, ValueError):
        return False


def _checked(config: ProxyConfig) -> ProxyConfig:
    """``config`` after the checks the API applies to a JSON body (name, host:port ...)."""
    fields = {k: v for k, v in config.to_json().items() if k != "toxics"}
    checked = proxy_from_json(fields)
    return ProxyConfig(
        name=checked.name,
        upstream=checked.upstream,
        listen=checked.listen,
        enabled=checked.enabled,
        toxics=config.toxics,
    )


def load_config(path: str | Path) -> list[ProxyConfig]:
    """Proxies from a Toxiproxy config file: a JSON list of {name, listen, upstream, enabled}."""
    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{source}: cannot read the proxy config: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"{source}: not JSON ({exc}); expected a list of proxies") from None
    if not isinstance(data, list):
        raise UsageError(
            f"{source}: expected a JSON list of proxies like "
            '[{"name": "redis", "listen": "127.0.0.1:26379", "upstream": "127.0.0.1:6379"}]'
        )
    configs = []
    for index, item in enumerate(data, start=1):
        try:
            configs.append(proxy_from_json(item, where=f" at proxy {index}"))
        except ProxyError as exc:
            raise UsageError(f"{source}: proxy {index}: {exc}") from None
    return configs
