"""A flow: steps, and ``pick`` steps that choose one of several by weight (Locust's
``@task(weight)``).

```yaml
flow:
  - post: /api/login
  - pick:                                       # one choice per iteration, by weight
      - {weight: 3, get: /api/quotes/SKU-1}     # a single step
      - weight: 1                               # or a sub-flow of its own
        flow:
          - post: /api/orders
          - get: /api/orders/mine
```
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Annotated, Any

from pydantic import Discriminator, Strict, Tag, field_validator

from slokit.spec._base import Issue, SpecModel, issue
from slokit.spec._steps import Step

__all__ = ["FLOW_TAGS", "MAX_PICK_DEPTH", "MAX_WEIGHT", "Choice", "FlowItem", "Pick", "flow_steps"]

MAX_WEIGHT = 1_000_000
"""Weights are relative; a million to one already means "never" in any test window."""
MAX_PICK_DEPTH = 8
"""Picks inside the choices of picks: deeper is a YAML mistake, not a traffic mix."""


FLOW_TAGS = frozenset({"a step", "a pick"})
"""The labels pydantic puts in an error's location for a flow item's kind: never keys of
the data, so the loader leaves them out of the YAML path it shows."""


def _kind(data: Any) -> str:
    return "a pick" if isinstance(data, dict) and "pick" in data else "a step"


FlowItem = Annotated[
    Annotated[Step, Tag("a step")] | Annotated["Pick", Tag("a pick")],
    Discriminator(_kind),
]
"""One element of a flow: a request or stream step, or a weighted ``pick`` of sub-flows."""


class Choice(SpecModel):
    """One choice of a ``pick``: a step with a ``weight``, or ``{weight: N, flow: [...]}``."""

    _hidden_keys = frozenset({"inline"})

    weight: Annotated[float, Strict()] = 1.0
    flow: list[FlowItem]
    inline: bool = False
    """Written as one step beside its weight (errors point at the choice, not a flow)."""

    @classmethod
    def _accepted_keys(cls) -> set[str]:
        return super()._accepted_keys() | Step._accepted_keys()

    @classmethod
    def yaml_keys(cls) -> list[str]:
        return [*super().yaml_keys(), *Step.yaml_keys()]

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        step = {k: v for k, v in data.items() if k not in ("weight", "flow")}
        if "flow" in data:
            if step:
                first = next(iter(step))
                return {k: data[k] for k in ("weight", "flow") if k in data}, [
                    issue(
                        (first,),
                        "a choice is one step ({weight: 2, get: /path}) or a sub-flow "
                        f"({{weight: 2, flow: [...]}}), not both; move '{first}' into its flow",
                        step[first],
                    )
                ]
            return data, []
        if not step:
            # A placeholder step: the issue below is the one message for this choice.
            return {**data, "flow": [{"get": "/"}]}, [
                issue((), "a choice needs a step (get: /path) or a flow: [...] beside its weight")
            ]
        prepared: dict[Any, Any] = {"flow": [step], "inline": True}
        if "weight" in data:
            prepared["weight"] = data["weight"]
        return prepared, []

    @field_validator("weight")
    @classmethod
    def _weight(cls, value: float) -> float:
        if not 0 < value <= MAX_WEIGHT:
            raise ValueError(
                f"a choice's weight is its share of the iterations: a number above 0 and at "
                f"most {MAX_WEIGHT:,}, got {value:g}"
            )
        return value

    @field_validator("flow")
    @classmethod
    def _flow(cls, value: list[Any]) -> list[Any]:
        if not value:
            raise ValueError("the choice's flow is empty; expected at least one step")
        return value


class Pick(SpecModel):
    """Each iteration runs one of ``pick``'s choices, chosen at random by weight."""

    pick: list[Choice]

    @classmethod
    def _unknown(cls, key: Any, value: Any) -> Issue:
        if key in Step.yaml_keys():
            shown = repr(key) if isinstance(key, str) else str(key)
            return Issue(
                (key,),
                "unknown_field",
                f"a pick step holds only its choices under 'pick:'; {shown} belongs in one of "
                "them or in a step of its own",
                value,
            )
        return super()._unknown(key, value)

    @field_validator("pick")
    @classmethod
    def _pick(cls, value: list[Choice]) -> list[Choice]:
        if not value:
            raise ValueError("the pick is empty; expected choices such as {weight: 3, get: /}")
        if _depth(value) > MAX_PICK_DEPTH:
            raise ValueError(f"picks are nested more than {MAX_PICK_DEPTH} deep")
        return value

    @property
    def weights(self) -> list[float]:
        return [c.weight for c in self.pick]


def _depth(choices: Sequence[Choice]) -> int:
    return 1 + max(
        (_depth(item.pick) for c in choices for item in c.flow if isinstance(item, Pick)),
        default=0,
    )


def flow_steps(flow: Sequence[Step | Pick], where: str = "flow") -> Iterator[tuple[str, Step]]:
    """Every step a flow may send, choices included, with its place in the spec
    (``flow[1].pick[0].flow[2]``): a pick's steps are all checked, though each iteration
    sends only one choice's."""
    for index, item in enumerate(flow):
        here = f"{where}[{index}]"
        if isinstance(item, Step):
            yield here, item
            continue
        for number, choice in enumerate(item.pick):
            at = f"{here}.pick[{number}]"
            step = choice.flow[0]
            if choice.inline and isinstance(step, Step):
                yield at, step
            else:
                yield from flow_steps(choice.flow, f"{at}.flow")


Choice.model_rebuild()
Pick.model_rebuild()
