"""Each package's ``__init__`` is its public surface: ``__all__`` lists exactly its public names."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest

PACKAGES = [
    "slokit",
    "slokit.errors",
    "slokit.spec",
    "slokit.results",
    "slokit.report",
    "slokit.load",
    "slokit.demo",
    "slokit.asgi",
    "slokit.resilience",
    "slokit.chaos",
    "slokit.store",
    "slokit.rules",
    "slokit.dashboard",
    "slokit.sampling",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_exactly_the_public_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    for attr in exported:
        getattr(module, attr)  # resolves names a package imports lazily (optional extras)
    assert exported == sorted(exported), f"{name}.__all__ is not sorted"
    public = {
        attr
        for attr, value in vars(module).items()
        if (not attr.startswith("_") or attr == "__version__")
        and not isinstance(value, types.ModuleType)
        and attr not in {"annotations"}
        # names imported from other libraries (``dataclass``) are not our surface
        and not (
            isinstance(value, type | types.FunctionType)
            and not value.__module__.startswith("slokit")
        )
    }
    assert set(exported) == public, f"{name}: __all__ and public names differ"
    for attr in exported:
        assert hasattr(module, attr)


def test_spec_is_importable_without_the_load_engine() -> None:
    """A service imports slokit.spec at start-up: that must not load the engine or the CLI."""
    code = (
        "import sys, slokit.spec, slokit.errors\n"
        "heavy = [m for m in ('uvloop', 'httptools', 'typer', 'rich', 'slokit.load', 'fastapi')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_asgi_is_light_for_services() -> None:
    """A service imports slokit.asgi: no load engine, CLI, dashboard or optional drivers."""
    code = (
        "import sys, slokit.asgi\n"
        "heavy = [m for m in ('uvloop', 'httptools', 'typer', 'rich', 'slokit.load', "
        "'slokit.cli', 'slokit.report', 'redis', 'asyncpg', 'opentelemetry', 'httpx') "
        "if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_resilience_is_light_and_stands_alone() -> None:
    """resilience imports nothing of slokit but errors, and no optional dependency."""
    code = (
        "import sys, slokit.resilience\n"
        "heavy = [m for m in sys.modules if m.startswith(('slokit.', 'redis', 'httpx', "
        "'prometheus_client', 'pydantic', 'yaml')) and not m.startswith(("
        "'slokit.resilience', 'slokit.errors'))]\n"
        "print(','.join(sorted(heavy)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_resilience_reexports_its_errors_as_the_same_classes() -> None:
    """``from slokit.resilience import CircuitOpenError`` works, and catches what breakers raise."""
    import slokit.errors as errors
    import slokit.resilience as resilience

    for name in ("BulkheadFullError", "CircuitOpenError", "DeadlineExceeded", "ResilienceError"):
        assert name in resilience.__all__
        assert getattr(resilience, name) is getattr(errors, name)
    breaker = resilience.CircuitBreaker("reexport-test", open_for=30, registry=None)
    breaker.force_open(30)
    with pytest.raises(resilience.CircuitOpenError) as caught:
        breaker.acquire()
    assert caught.value.breaker == "reexport-test"
    assert 0 < caught.value.retry_after <= 30
