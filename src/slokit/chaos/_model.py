"""Toxics and proxies as values, and their Toxiproxy JSON shapes (in and out).

Parsing follows Toxiproxy's API: the same defaults (stream ``downstream``, toxicity 1.0, name
``{type}_{stream}``, every attribute 0 unless given) and the same error texts on the wire
(``bad request body: ...``, ``missing required field: name``), with ``str(ProxyError)``
saying what to send instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from slokit.chaos._address import split_address
from slokit.errors import ProxyError

__all__ = [
    "STREAMS",
    "TOXIC_TYPES",
    "ProxyConfig",
    "Toxic",
    "bad_body",
    "proxy_from_json",
    "toxic_from_json",
    "toxic_update_from_json",
]

STREAMS = ("upstream", "downstream")

# Every attribute a toxic type has, with Toxiproxy's units, all defaulting to 0.
_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "latency": ("latency", "jitter"),  # ms
    "bandwidth": ("rate",),  # KB/s (1 KB = 1000 bytes, as Toxiproxy)
    "slow_close": ("delay",),  # ms
    "timeout": ("timeout",),  # ms; 0 = never close
    "reset_peer": ("timeout",),  # ms
    "slicer": ("average_size", "size_variation", "delay"),  # bytes, bytes, µs
    "limit_data": ("bytes",),
}
TOXIC_TYPES = tuple(_ATTRIBUTES)


def bad_body(detail: str, hint: str = "") -> ProxyError:
    """Toxiproxy's 400 ``bad request body: ...``, plus what to send instead."""
    error = f"bad request body: {detail}"
    return ProxyError(f"{error}; {hint}" if hint else error, status=400, error=error)


def _missing(what: str) -> ProxyError:
    error = f"missing required field: {what}"
    hint = "every proxy needs a name and an upstream host:port"
    return ProxyError(f"{error}; {hint}", status=400, error=error)


def _attribute_value(kind: str, key: str, value: Any) -> int:
    # Toxiproxy decodes attributes into Go integers: 1000 and 1000.0 pass, 1.5 and "1000" do not.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_body(f"{kind} attribute {key!r} must be a number, got {value!r}")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise bad_body(f"{kind} attribute {key!r} must be a whole number, got {value!r}")
    if value < 0:
        raise bad_body(f"{kind} attribute {key!r} must be 0 or more, got {value!r}")
    return int(value)


def _attributes(kind: str, given: Mapping[str, Any], base: Mapping[str, int]) -> dict[str, int]:
    known = _ATTRIBUTES[kind]
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise bad_body(
            f"unknown {kind} attribute {unknown[0]!r}",
            f"a {kind} toxic takes {', '.join(known)}",
        )
    values = {key: base.get(key, 0) for key in known}
    values.update({key: _attribute_value(kind, key, value) for key, value in given.items()})
    if kind == "slicer":
        if values["average_size"] < 1:
            raise bad_body("slicer attribute 'average_size' must be at least 1")
        if values["size_variation"] >= values["average_size"]:
            raise bad_body("slicer attribute 'size_variation' must be smaller than 'average_size'")
    return values


def _toxicity(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise bad_body(
            f"toxicity must be a number from 0 to 1, got {value!r}",
            "it is the probability that the toxic applies to a connection",
        )
    return float(value)


@dataclass(frozen=True)
class Toxic:
    """One toxic: what it does (``type`` and ``attributes``), to which direction, how often.

    ``stream`` is ``"downstream"`` (server to client, the default) or ``"upstream"`` (client
    to server); ``toxicity`` is the probability it applies to a connection, drawn once per
    connection. Attributes not given are 0, as in Toxiproxy; ``name`` defaults to
    ``{type}_{stream}``.
    """

    type: str
    attributes: Mapping[str, int] = field(default_factory=dict, hash=False)
    stream: str = "downstream"
    toxicity: float = 1.0
    name: str = ""

    def __post_init__(self) -> None:
        if self.type not in _ATTRIBUTES:
            raise ProxyError(
                f"invalid toxic type {self.type!r}: use one of {', '.join(TOXIC_TYPES)}",
                status=400,
                error="invalid toxic type",
            )
        if self.stream not in STREAMS:
            raise ProxyError(
                f"stream {self.stream!r} is invalid: use 'upstream' (client to server) or "
                "'downstream' (server to client)",
                status=400,
                error="stream was invalid, can be either upstream or downstream",
            )
        object.__setattr__(self, "toxicity", _toxicity(self.toxicity))
        object.__setattr__(self, "attributes", _attributes(self.type, self.attributes, {}))
        if not self.name:
            object.__setattr__(self, "name", f"{self.type}_{self.stream}")

    def updated(
        self, attributes: Mapping[str, Any] | None = None, toxicity: float | None = None
    ) -> Toxic:
        """This toxic with some attributes (the others kept) and/or the toxicity changed."""
        merged = _attributes(self.type, attributes or {}, self.attributes)
        return replace(
            self, attributes=merged, toxicity=self.toxicity if toxicity is None else toxicity
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }


@dataclass(frozen=True)
class ProxyConfig:
    """A proxy: ``listen`` (host:port; port 0 picks a free one) forwards to ``upstream``.

    Returned by :class:`~slokit.chaos.FaultProxy` as a snapshot, where ``listen`` is the real
    address once the proxy listens and ``toxics`` its active toxics; given to it (or to
    :func:`~slokit.chaos.open_fault_proxy`), ``toxics`` are added after the proxy starts.
    """

    name: str
    upstream: str
    listen: str = "127.0.0.1:0"
    enabled: bool = True
    toxics: tuple[Toxic, ...] = ()

    @property
    def host(self) -> str:
        return split_address(self.listen)[0]

    @property
    def port(self) -> int:
        return split_address(self.listen)[1]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [toxic.to_json() for toxic in self.toxics],
        }


def _field(data: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise bad_body(f"field {key!r} must be a {kind.__name__}, got {value!r}")
    return value


def _object(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise bad_body(f"expected a JSON object for {what}, got {type(data).__name__}")
    return data


def proxy_from_json(
    data: Any, *, where: str = "", defaults: ProxyConfig | None = None
) -> ProxyConfig:
    """A proxy from Toxiproxy JSON; with ``defaults`` (an update) missing fields keep theirs.

    ``where`` (``" at proxy 2"``) is appended to missing-field errors, as Toxiproxy's populate.
    """
    body = _object(data, "a proxy")
    base = defaults or ProxyConfig(name="", upstream="")
    name = _field(body, "name", str, base.name)
    if not name:
        raise _missing("name" + where)
    upstream = _field(body, "upstream", str, base.upstream)
    if not upstream:
        raise _missing("upstream" + where)
    listen = _field(body, "listen", str, base.listen) or "127.0.0.1:0"
    enabled = _field(body, "enabled", bool, base.enabled)
    for label, address in (("listen", listen), ("upstream", upstream)):
        try:
            split_address(address)
        except ValueError as exc:
            raise bad_body(f"{label} {address!r}: {exc}", "give host:port") from None
    return ProxyConfig(name=name, upstream=upstream, listen=listen, enabled=enabled)


def toxic_from_json(data: Any) -> Toxic:
    """A new toxic from Toxiproxy JSON (``POST /proxies/{proxy}/toxics``)."""
    body = _object(data, "a toxic")
    kind = _field(body, "type", str, "")
    attributes = _object(body.get("attributes") or {}, "attributes")
    toxicity = body.get("toxicity")
    return Toxic(
        type=kind,
        attributes=attributes,
        stream=_field(body, "stream", str, "") or "downstream",
        toxicity=1.0 if toxicity is None else toxicity,
        name=_field(body, "name", str, ""),
    )


def toxic_update_from_json(toxic: Toxic, data: Any) -> Toxic:
    """``toxic`` with the attributes and toxicity of an update body (others kept)."""
    body = _object(data, "a toxic update")
    attributes = _object(body.get("attributes") or {}, "attributes")
    toxicity = body.get("toxicity")
    return toxic.updated(attributes, None if toxicity is None else _toxicity(toxicity))
