"""The spec's JSON Schema, for editors (``slokit schema``)."""

from __future__ import annotations

from typing import Any

from slokit.spec._models import Spec

__all__ = ["json_schema"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema() -> dict[str, Any]:
    """JSON Schema of ``slokit.yaml`` as written (aliases, unit strings); ``json.dumps``-able."""
    schema = Spec.model_json_schema(by_alias=True)
    body = {key: value for key, value in schema.items() if key != "title"}
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "slokit spec",
        "description": (
            "slokit.yaml: a service's SLOs, dependencies, guards and load scenarios. "
            "Durations (250ms, 10m, 30d), percentages (99.9%), rates (50/s) and sizes (1MiB) "
            "are written as strings."
        ),
        **{key: value for key, value in body.items() if key != "description"},
    }
