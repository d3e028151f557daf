"""Doing and undoing an experiment's faults: proxy toxics, proxies down, HTTP faults, commands.

Every ``apply`` returns what ``undo`` needs, so a fault is removed exactly, and an undo that
finds the fault already gone (a proxy reset, an HTTP fault that expired) counts as done.
HTTP faults are posted with their own expiry a little after their planned end, so a runner
that dies mid-experiment still leaves a clean service behind.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from slokit.chaos._client import ToxiproxyClient
from slokit.chaos._experiment import Experiment, FaultAction, ProxyDefinition, Rollback
from slokit.errors import ProxyError, UsageError

__all__ = ["COMMAND_TIMEOUT", "Actuator"]

COMMAND_TIMEOUT = 60.0
"""Seconds a fault or rollback command may run before it is killed."""

_HTTP_EXPIRY_MARGIN = 10.0


class Actuator:
    """Talks to the fault proxy's API and the service's fault endpoint for one experiment."""

    def __init__(
        self,
        experiment: Experiment,
        target: str,
        proxy_api: str | None = None,
        fault_token: str | None = None,
    ) -> None:
        import httpx

        self.experiment = experiment
        self.target = target.rstrip("/")
        section = experiment.proxy
        api = proxy_api or (section.api if section is not None else None)
        self.proxy = ToxiproxyClient(api) if api is not None else None
        self.http = httpx.AsyncClient(timeout=10.0)
        faults = experiment.faults
        self.faults_url = self._url(faults.url if faults is not None else "/ops/faults")
        token = faults.token if faults is not None else None
        self.token = fault_token or token or os.environ.get("SLOKIT_FAULT_TOKEN")
        self.created: list[str] = []

    def _url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.target}{path}"

    async def aclose(self) -> None:
        await self.http.aclose()
        if self.proxy is not None:
            await self.proxy.aclose()

    # --- set-up -------------------------------------------------------------------------

    async def prepare(self) -> list[str]:
        """Create the experiment's proxies and check every endpoint a fault needs; returns
        what was done, one line each. Raises UsageError naming what is missing."""
        done = []
        kinds = {a.kind for a in self.experiment.method}
        if self.proxy is not None and kinds & {"toxic", "down"}:
            section = self.experiment.proxy
            for definition in section.proxies if section is not None else []:
                done.append(await self._create(definition))
            have = await self.proxy.proxies()
            for action in self.experiment.method:
                if action.proxy is not None and action.proxy not in have:
                    known = ", ".join(sorted(have)) or "none"
                    raise UsageError(
                        f"fault {action.label!r} uses proxy {action.proxy!r}, which "
                        f"{self.proxy.url} does not have (it has: {known}); define it under "
                        "proxy.proxies"
                    )
        if "http" in kinds:
            await self._check_faults_endpoint()
            done.append(f"fault endpoint {self.faults_url} answers")
        return done

    async def _create(self, definition: ProxyDefinition) -> str:
        assert self.proxy is not None
        try:
            await self.proxy.delete_proxy(definition.name)
        except ProxyError as exc:
            if exc.status != 404:
                raise
        answer = await self.proxy.create_proxy(
            definition.name, definition.listen, definition.upstream
        )
        self.created.append(definition.name)
        return f"proxy {definition.name}: {answer.get('listen')} -> {definition.upstream}"

    async def _check_faults_endpoint(self) -> None:
        if not self.token:
            raise UsageError(
                "the experiment has http faults but no token: set faults.token in the "
                "experiment or the SLOKIT_FAULT_TOKEN environment variable (the service "
                "must be instrumented with faults=True and the same token)"
            )
        import httpx

        try:
            response = await self.http.get(self.faults_url, headers=self._auth())
        except httpx.HTTPError as exc:
            raise UsageError(f"cannot reach the fault endpoint {self.faults_url}: {exc}") from None
        if response.status_code == 401:
            raise UsageError(f"{self.faults_url} refused the token (401); is it the service's?")
        if response.status_code != 200:
            raise UsageError(
                f"{self.faults_url} answered {response.status_code}; is the service "
                "instrumented with slokit.asgi faults=True and a fault token?"
            )

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    # --- faults -------------------------------------------------------------------------

    async def apply(self, index: int, action: FaultAction, remaining: float) -> str:
        """Start a fault; returns the handle :meth:`undo` needs (a toxic name, a fault id)."""
        if action.toxic is not None:
            assert self.proxy is not None
            assert action.proxy is not None
            toxic = action.toxic
            name = toxic.name or f"slokit_{index}_{toxic.type}_{toxic.stream}"
            await self.proxy.add_toxic(
                action.proxy,
                toxic.type,
                toxic.attributes,
                stream=toxic.stream,
                toxicity=toxic.toxicity,
                name=name,
            )
            return name
        if action.down:
            assert self.proxy is not None
            assert action.proxy is not None
            await self.proxy.set_enabled(action.proxy, False)
            return action.proxy
        if action.http is not None:
            lasts = action.for_ if action.for_ is not None else remaining
            body = {**action.http.payload(), "duration": lasts + _HTTP_EXPIRY_MARGIN}
            response = await self.http.post(self.faults_url, json=body, headers=self._auth())
            if response.status_code != 201:
                raise UsageError(f"the service refused the fault: {_detail(response)}")
            return str(response.json()["id"])
        assert action.command is not None
        await run_command(action.command)
        return ""

    async def undo(self, action: FaultAction, handle: str) -> None:
        """End a fault started by :meth:`apply`; already gone counts as done."""
        try:
            if action.toxic is not None:
                assert self.proxy is not None
                assert action.proxy is not None
                await self.proxy.remove_toxic(action.proxy, handle)
            elif action.down:
                assert self.proxy is not None
                await self.proxy.set_enabled(handle, True)
            elif action.http is not None:
                response = await self.http.delete(
                    f"{self.faults_url}/{handle}", headers=self._auth()
                )
                if response.status_code not in (200, 204, 404):
                    raise UsageError(f"the service did not remove the fault: {_detail(response)}")
            elif action.undo is not None:
                await run_command(action.undo)
        except ProxyError as exc:
            if exc.status != 404:
                raise

    async def rollback(self, rollback: Rollback) -> None:
        if rollback.reset_proxies:
            if self.proxy is None:
                raise UsageError("reset_proxies needs a proxy: section")
            await self.proxy.reset()
        elif rollback.clear_http_faults:
            response = await self.http.delete(self.faults_url, headers=self._auth())
            if response.status_code not in (200, 204):
                raise UsageError(f"the service did not clear its faults: {_detail(response)}")
        elif rollback.command is not None:
            await run_command(rollback.command)

    async def teardown(self) -> list[str]:
        """Delete the proxies :meth:`prepare` created."""
        done = []
        for name in self.created:
            assert self.proxy is not None
            try:
                await self.proxy.delete_proxy(name)
            except ProxyError as exc:
                if exc.status != 404:
                    raise
            done.append(f"proxy {name} deleted")
        self.created.clear()
        return done


def _detail(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code} {response.text[:200]}"
    return f"{response.status_code} {body.get('detail') or body.get('error') or body}"


async def run_command(command: str, timeout: float = COMMAND_TIMEOUT) -> None:
    """Run a shell command; a non-zero exit or a timeout is an error with its output."""
    proc = await asyncio.create_subprocess_shell(
        command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise UsageError(f"command {command!r} did not finish within {timeout:g} s") from None
    if proc.returncode != 0:
        tail = output.decode(errors="replace").strip().splitlines()[-3:]
        raise UsageError(f"command {command!r} exited with {proc.returncode}: {' | '.join(tail)}")
