"""Loading ``path/to/file.py:function`` journeys named by a scenario's ``script:``."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from slokit.errors import UsageError

__all__ = ["Journey", "load_journey"]

Journey = Callable[[Any], Awaitable[None]]


def load_journey(ref: str, base_dir: str | Path) -> Journey:
    """Import the journey; every mistake becomes a UsageError that says how to fix it."""
    file_part, sep, func_name = ref.rpartition(":")
    if not sep or not file_part or not func_name:
        raise UsageError(f"script {ref!r} must look like 'path/to/file.py:function'")
    path = Path(file_part)
    if not path.is_absolute():
        path = Path(base_dir) / path
    if not path.is_file():
        raise UsageError(f"script file {path} does not exist (paths are relative to the spec file)")
    module_name = f"slokit_journey_{abs(hash(str(path.resolve())))}"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise UsageError(f"script file {path} cannot be imported as Python")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[module_name]
            raise UsageError(
                f"script file {path} failed to import: {type(exc).__name__}: {exc}"
            ) from exc
    func = getattr(module, func_name, None)
    if func is None:
        names = [n for n, v in vars(module).items() if inspect.iscoroutinefunction(v)]
        hint = f"; async functions there: {', '.join(names)}" if names else ""
        raise UsageError(f"script file {path} has no function {func_name!r}{hint}")
    if not inspect.iscoroutinefunction(func):
        raise UsageError(
            f"{ref}: a journey must be an async function, e.g. `async def {func_name}(s): ...`"
        )
    journey: Journey = func
    return journey
