"""``instrument(app)``: the one-line way to add the middleware."""

from __future__ import annotations

import os
from typing import Any, TypeVar

from slokit.asgi._middleware import SlokitMiddleware
from slokit.asgi._options import build_options
from slokit.spec import Spec

__all__ = ["instrument"]

App = TypeVar("App")


def instrument(app: App, spec: Spec | str | os.PathLike[str] | None = None, **options: Any) -> App:
    """Wrap ``app`` with the whole slokit stack and return it.

    For Starlette and FastAPI the middleware is added with ``app.add_middleware``, so ``app``
    stays the object you route on; any other ASGI callable is wrapped and the wrapper is
    returned. Options (all keyword-only) override what the spec says; see README.md.
    """
    add = getattr(app, "add_middleware", None)
    if callable(add):
        # Validate now: add_middleware defers construction until the server starts, and a
        # bad option must fail where it is written.
        build_options(spec, options)
        add(SlokitMiddleware, spec=spec, **options)
        return app
    return SlokitMiddleware(app, spec, **options)  # type: ignore[return-value]
