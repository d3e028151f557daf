"""The embedded demo service: an orders API with a flaky provider, and its own ``slokit.yaml``.

``slokit demo`` starts it in a subprocess (:class:`DemoServer`), loads it with the packaged spec
(:func:`spec_path`) and prints the verdicts; ``slokit demo --break`` makes the provider fail so
the gates fail. :func:`create_app` returns the FastAPI app itself, e.g. for ``uvicorn`` or tests.

Importing this package does not import FastAPI or uvicorn; only building or serving the app does.
"""

from __future__ import annotations

import typing

from slokit.demo._chaos import DemoChaosStack, experiments
from slokit.demo._server import DemoServer, serve, spec_path

if typing.TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["DemoChaosStack", "DemoServer", "create_app", "experiments", "serve", "spec_path"]


def create_app(*, broken: bool = False, seed: int = 7, instrumented: bool = True) -> FastAPI:
    """Build a fresh demo app; ``broken=True`` makes the quote provider slow and failing.

    Each call builds its own state and seeded random generators, so apps never share state.
    ``instrumented=False`` leaves out slokit's middleware (metrics, probes, logs, guards).
    """
    from slokit.demo._app import create_app as build

    return build(broken=broken, seed=seed, instrumented=instrumented)
