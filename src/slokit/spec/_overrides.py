"""Load shape from the command line: ``--vus``, ``--rate``, ``--iterations`` over a spec.

Each applies to the scenarios whose model it fits, as k6's flags do: ``--vus`` to the closed
model (``constant-vus``, ``per-vu-iterations``; a ``ramping-vus`` is scaled so its peak is
the number given), ``--rate`` to the open model (``constant-arrival-rate``; a
``ramping-arrival-rate`` is scaled to that peak), ``--iterations`` to ``per-vu-iterations``.
A flag that fits none of the scenarios run is an error that says which flag does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from slokit.errors import UsageError
from slokit.spec._models import Spec
from slokit.spec._scenarios import (
    ArrivalRate,
    ConstantArrivalRate,
    ConstantVUs,
    Iterations,
    PerVUIterations,
    RampingArrivalRate,
    RampingVUs,
    Scenario,
    VUs,
)

__all__ = ["LoadOverrides", "override_load"]

_CLOSED = "constant-vus, ramping-vus, per-vu-iterations"


@dataclass(frozen=True)
class LoadOverrides:
    vus: int | None = None
    rate: str | None = None
    """As in a spec: ``50`` (per second), ``50/s``, ``3000/m``."""
    iterations: int | None = None

    @property
    def empty(self) -> bool:
        return self.vus is None and self.rate is None and self.iterations is None


def _valid(adapter: TypeAdapter[Any], value: object, flag: str) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        why = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise UsageError(f"{flag}: {why}") from None


def _with_vus(sc: Scenario, vus: int) -> Scenario | None:
    if isinstance(sc, ConstantVUs | PerVUIterations):
        return sc.model_copy(update={"vus": vus})
    if isinstance(sc, RampingVUs):
        return _peak_scaled(sc, "start_vus", vus, whole=True)
    return None


def _with_rate(sc: Scenario, rate: float) -> Scenario | None:
    if isinstance(sc, ConstantArrivalRate):
        return sc.model_copy(update={"rate": rate})
    if isinstance(sc, RampingArrivalRate):
        return _peak_scaled(sc, "start_rate", rate, whole=False)
    return None


_R = TypeVar("_R", RampingVUs, RampingArrivalRate)


def _peak_scaled(sc: _R, start: str, peak: float, *, whole: bool) -> _R:
    """A ramp whose highest level is ``peak``, every level scaled alike (VUs rounded)."""
    first: float = getattr(sc, start)
    highest = max([first, *(stage.to for stage in sc.stages)])
    factor = peak / highest if highest else 0.0

    def level(value: float) -> float:
        return round(value * factor) if whole else value * factor

    stages = [s.model_copy(update={"to": level(s.to)}) for s in sc.stages]
    return sc.model_copy(update={start: level(first), "stages": stages})


def _with_iterations(sc: Scenario, iterations: int) -> Scenario | None:
    if isinstance(sc, PerVUIterations):
        return sc.model_copy(update={"iterations": iterations})
    return None


def override_load(
    spec: Spec, names: Sequence[str] | None, overrides: LoadOverrides
) -> tuple[Spec, list[str]]:
    """``spec`` with the overrides applied to the scenarios run (``names``, default all), and
    one line per flag saying where it applied. Raises UsageError for a bad value or a flag
    that fits none of them."""
    if overrides.empty:
        return spec, []
    chosen = [n for n in (names or list(spec.scenarios)) if n in spec.scenarios]
    scenarios = dict(spec.scenarios)
    notes: list[str] = []
    flags: list[tuple[str, object, Any, str]] = []
    if overrides.vus is not None:
        vus = _valid(TypeAdapter(VUs), overrides.vus, "--vus")
        flags.append(("--vus", vus, _with_vus, f"closed-model scenarios ({_CLOSED}); use --rate"))
    if overrides.rate is not None:
        rate = _valid(TypeAdapter(ArrivalRate), overrides.rate, "--rate")
        flags.append(
            (
                "--rate",
                rate,
                _with_rate,
                "open-model scenarios (constant-arrival-rate, ramping-arrival-rate); use --vus",
            )
        )
    if overrides.iterations is not None:
        iterations = _valid(TypeAdapter(Iterations), overrides.iterations, "--iterations")
        flags.append(("--iterations", iterations, _with_iterations, "per-vu-iterations scenarios"))
    for flag, value, apply, fits in flags:
        applied, skipped = [], []
        for name in chosen:
            changed = apply(scenarios[name], value)
            if changed is None:
                skipped.append(f"{name} ({scenarios[name].executor})")
            else:
                scenarios[name] = changed
                applied.append(name)
        if not applied:
            raise UsageError(
                f"{flag} applies to {fits}; none of the scenarios run is one: " + ", ".join(skipped)
            )
        shown = f"{value:g}/s" if flag == "--rate" else f"{value:,}"
        notes.append(
            f"{flag} {shown}: {', '.join(applied)}"
            + (f" (not {', '.join(skipped)})" if skipped else "")
        )
    return spec.model_copy(update={"scenarios": scenarios}), notes
