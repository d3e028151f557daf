"""OpenSLO v1 documents as a slokit spec, as far as a spec can say the same thing, with notes
on everything that could not be mapped and what was done instead (see ``_openslo`` for the
export and the conventions both directions share)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from slokit.errors import SpecError, UsageError
from slokit.rules._openslo import (
    API_VERSION,
    DEFAULT_ALERTING,
    DEFAULT_WINDOW,
    GENERATED_DESCRIPTION,
    KINDS,
    MAX_NAME,
    PROMQL_TOKEN,
    SHORTHAND,
    SHORTHAND_UNITS,
    number_text,
    slug,
)
from slokit.rules._rules import PlainDumper, burn_conditions
from slokit.spec import format_duration, parse_duration, parse_spec

__all__ = ["import_openslo"]

# --------------------------------------------------------------------------------------------
# Import


def _mapping(value: Any) -> dict[Any, Any] | None:
    return value if isinstance(value, dict) else None


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _duration(value: Any) -> tuple[float | None, bool]:
    """Seconds of an OpenSLO duration-shorthand (or a slokit duration such as ``1h30m``),
    and whether it was a month, quarter or year (whose length is a convention)."""
    if not isinstance(value, str):
        return None, False
    match = SHORTHAND.match(value)
    if match is not None:
        count, unit = match.groups()
        try:
            seconds = int(count) * SHORTHAND_UNITS[unit]
        except (ValueError, OverflowError):  # more digits than a number can hold
            return None, False
        return (seconds if math.isfinite(seconds) else None), unit in "MQY"
    try:
        return parse_duration(value), False
    except ValueError:
        return None, False


class _Import:
    """The documents being imported, and the notes on what could not be mapped."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.objects: dict[str, dict[str, dict[Any, Any]]] = {k: {} for k in KINDS}
        self.used: dict[str, set[str]] = {k: set() for k in KINDS}
        self.targets: dict[str, None] = {}
        """Notification targets named by the alert policies used (ordered, unique)."""

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def find(self, kind: str, name: Any) -> dict[Any, Any] | None:
        if not isinstance(name, str):
            return None
        found = self.objects[kind].get(name.strip())
        if found is not None:
            self.used[kind].add(name.strip())
        return found


def _documents(text: str) -> list[Any]:
    if not isinstance(text, str):
        raise UsageError(f"expected OpenSLO YAML text, got {type(text).__name__}")
    if not text.strip():
        raise UsageError("the input is empty; expected OpenSLO v1 YAML documents")
    try:
        loaded = list(yaml.safe_load_all(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1})" if mark is not None else ""
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        raise UsageError(f"not valid YAML{where}: {what}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"not valid YAML: {exc}") from None
    except RecursionError:
        raise UsageError("not valid OpenSLO: the YAML nests too deeply") from None
    except (ValueError, OverflowError) as exc:  # e.g. a date such as 2022-13-45
        raise UsageError(f"not valid YAML: {exc}") from None
    out: list[Any] = []
    for item in loaded:
        if isinstance(item, list):  # a YAML list of documents, as in the OpenSLO examples
            out.extend(item)
        elif item is not None:
            out.append(item)
    return out


def _collect(docs: list[Any], work: _Import) -> None:
    others: list[str] = []
    unknown: list[str] = []
    for index, doc in enumerate(docs, 1):
        where = f"document {index}"
        if not isinstance(doc, dict):
            others.append(f"{where} is {type(doc).__name__}, not a mapping")
            continue
        version, kind = doc.get("apiVersion"), doc.get("kind")
        if version != API_VERSION:
            others.append(f"{where} has apiVersion {_show(version)}")
            continue
        if kind not in KINDS:
            unknown.append(f"{where} has kind {_show(kind)}")
            continue
        name = _text((_mapping(doc.get("metadata")) or {}).get("name"))
        if name is None:
            work.note(f"{where} ({kind}) has no metadata.name; skipped")
            continue
        if name in work.objects[kind]:
            work.note(f"{kind} {name!r} is defined twice; the first definition is used")
            continue
        work.objects[kind][name] = doc
    if not any(work.objects.values()):
        found = [*others, *unknown]
        detail = "; ".join(found[:3]) + ("; ..." if len(found) > 3 else "")
        raise UsageError(
            f"not OpenSLO v1: expected documents with apiVersion: {API_VERSION} and a kind "
            f"such as SLO ({detail or 'no documents'})"
        )
    for message in others:
        work.note(f"{message}; only apiVersion {API_VERSION} documents are read, so it was skipped")
    for message in unknown:
        work.note(f"{message}, which is none of {', '.join(KINDS)}; it was skipped")


def _service(work: _Import) -> str:
    declared = list(work.objects["Service"])
    if declared:
        if len(declared) > 1:
            work.note(
                f"several Service documents ({', '.join(declared)}): a slokit spec describes "
                f"one service, so {declared[0]!r} was taken and SLOs of the others are skipped"
            )
        work.used["Service"].add(declared[0])
        return declared[0]
    # No Service document: the service an SLO names.
    for doc in work.objects["SLO"].values():
        name = _text((_mapping(doc.get("spec")) or {}).get("service"))
        if name is not None:
            return name
    work.note("no Service document and no SLO names its service: the service is 'imported'")
    return "imported"


def _service_name(ref: str, work: _Import) -> str:
    """The service's own name: the displayName :func:`export_openslo` wrote the Service's
    name from (it slugs to that name), else the name SLOs refer to it by."""
    doc = work.objects["Service"].get(ref, {})
    display = (_mapping(doc.get("metadata")) or {}).get("displayName")
    if isinstance(display, str) and display.strip() and slug(display, "") == ref:
        return display.strip()
    return ref


def _windowed(where: str, query: str, counter: bool, work: _Import) -> str:
    """``query`` with its range selectors turned into ``$window``."""
    ranges: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group("range") is None:
            return match.group(0)
        ranges.append(match.group("range").strip())
        return f"[$window{match.group('step') or ''}]"

    out = PROMQL_TOKEN.sub(replace, query)
    if len(set(ranges)) > 1:
        work.note(
            f"{where} uses several ranges ({', '.join(dict.fromkeys(ranges))}); each became "
            "$window (the SLO window, or the alert windows of `slokit rules`)"
        )
    if ranges or "$window" in query:
        return out
    if counter:
        wrapped = f"sum(increase(({query})[$window:]))"
        how = "it reads a counter (counter: true), so slokit takes its increase over the window"
    else:
        wrapped = f"sum(sum_over_time(({query})[$window:]))"
        how = (
            "it reads values that go up and down (counter: false), so slokit adds up its "
            "samples over the window"
        )
    work.note(
        f"{where} has no range selector such as [5m] for slokit's $window; {how}: "
        f"{wrapped} (a subquery; check that it counts events)"
    )
    return wrapped


def _prometheus_query(where: str, holder: Any, work: _Import) -> str | None:
    source = _mapping((_mapping(holder) or {}).get("metricSource"))
    if source is None:
        work.note(f"{where} has no metricSource; the SLO was skipped")
        return None
    kind = _text(source.get("type"))
    if kind is None:
        data_source = work.find("DataSource", source.get("metricSourceRef"))
        kind = _text((_mapping((data_source or {}).get("spec")) or {}).get("type"))
    if kind is None:
        work.note(
            f"{where} does not say its metric source type (metricSource.type, or a DataSource "
            "named by metricSourceRef); slokit reads only Prometheus, so the SLO was skipped"
        )
        return None
    if kind.lower() != "prometheus":
        work.note(
            f"{where} comes from {kind}, not Prometheus; slokit SLIs are PromQL, so the SLO "
            "was skipped"
        )
        return None
    spec = _mapping(source.get("spec")) or {}
    query = _text(spec.get("query")) or _text(spec.get("promql"))
    if query is None:
        work.note(f"{where} has no metricSource.spec.query; the SLO was skipped")
    return query


def _sli(where: str, sli_spec: dict[Any, Any], work: _Import) -> dict[str, str] | None:
    ratio = _mapping(sli_spec.get("ratioMetric"))
    if ratio is None:
        if sli_spec.get("thresholdMetric") is not None:
            work.note(
                f"{where} is a thresholdMetric (one value compared with a threshold); a slokit "
                "SLO is a ratio of good (or bad) to total events, so the SLO was skipped"
            )
        else:
            work.note(f"{where} has neither a ratioMetric nor a thresholdMetric; SLO skipped")
        return None
    if ratio.get("raw") is not None:
        work.note(
            f"{where} is a raw (precomputed) ratio; slokit needs good (or bad) and total "
            "event counts to weigh events over the window, so the SLO was skipped"
        )
        return None
    given = [k for k in ("good", "bad") if ratio.get(k) is not None]
    if len(given) != 1 or ratio.get("total") is None:
        work.note(f"{where} needs total and exactly one of good and bad; the SLO was skipped")
        return None
    counter = ratio.get("counter") is True
    out: dict[str, str] = {}
    for key in (given[0], "total"):
        query = _prometheus_query(f"{where}: the {key} query", ratio.get(key), work)
        if query is None:
            return None
        out[key] = _windowed(f"{where}: the {key} query", query, counter, work)
    return out


def _indicator(where: str, spec: dict[Any, Any], work: _Import) -> dict[str, str] | None:
    inline = _mapping(spec.get("indicator"))
    if inline is not None:
        sli_spec = _mapping(inline.get("spec")) or inline
        return _sli(f"{where} (inline indicator)", sli_spec, work)
    ref = spec.get("indicatorRef")
    if ref is not None:
        found = work.find("SLI", ref)
        if found is None:
            work.note(f"{where} refers to SLI {_show(ref)}, which is not in the documents; skipped")
            return None
        return _sli(f"{where} (SLI {str(ref).strip()!r})", _mapping(found.get("spec")) or {}, work)
    objectives = [_mapping(o) or {} for o in _list(spec.get("objectives"))]
    if any(o.get("indicator") is not None or o.get("indicatorRef") is not None for o in objectives):
        work.note(
            f"{where} is a composite SLO (an indicator per objective); slokit has no composite "
            "SLOs, so it was skipped: write one slokit SLO per objective instead"
        )
    else:
        work.note(f"{where} has neither indicator nor indicatorRef; skipped")
    return None


def _window(where: str, spec: dict[Any, Any], work: _Import) -> float | None:
    windows = _list(spec.get("timeWindow"))
    if not windows:
        shown = format_duration(DEFAULT_WINDOW)
        work.note(f"{where} has no timeWindow; slokit's default rolling {shown} window is used")
        return DEFAULT_WINDOW
    if len(windows) > 1:
        work.note(f"{where} has {len(windows)} timeWindow entries; the first was taken")
    window = _mapping(windows[0]) or {}
    raw = window.get("duration")
    seconds, conventional = _duration(raw)
    if seconds is None or seconds <= 0:
        work.note(
            f"{where}: timeWindow duration {_show(raw)} is not a duration such as 28d or 4w; "
            "the SLO was skipped"
        )
        return None
    shown = format_duration(seconds)
    calendar = window.get("calendar")
    if calendar is not None or window.get("isRolling") is False:
        cal = _mapping(calendar) or {}
        start = cal.get("startTime")
        zone = cal.get("timeZone")
        since = f" starting {start}" if start is not None else ""
        since += f" ({zone})" if zone is not None else ""
        work.note(
            f"{where}: the calendar-aligned window of {raw}{since} became a rolling {shown} "
            "window: slokit windows always roll, so the budget never resets at a boundary"
        )
    elif conventional:
        work.note(f"{where}: the window {raw} was taken as {shown}")
    return seconds


def _objective(where: str, spec: dict[Any, Any], work: _Import) -> float | str | None:
    objectives = _list(spec.get("objectives"))
    if not objectives:
        work.note(f"{where} has no objectives; skipped")
        return None
    if len(objectives) > 1:
        work.note(
            f"{where} has {len(objectives)} objectives; a slokit SLO has one objective, so the "
            "first was taken: write one slokit SLO per objective for the others"
        )
    first = _mapping(objectives[0]) or {}
    if first.get("op") is not None or first.get("value") is not None:
        work.note(f"{where}: objectives[0].op and value apply to threshold metrics; ignored")
    target, percent = _number(first.get("target")), _number(first.get("targetPercent"))
    if target is not None and percent is not None:
        work.note(f"{where}: objectives[0] has both target and targetPercent; target was taken")
    if target is not None:
        if 0 < target < 1:  # written as a percentage: a bare ratio is ambiguous in a spec
            return f"{(Decimal(repr(target)) * 100).normalize():f}%"
    elif percent is not None and 0 < percent < 100:
        try:
            return f"{Decimal(repr(percent)).normalize():f}%"
        except InvalidOperation:  # pragma: no cover - repr of a finite float is a decimal
            return None
    shown = _show(first.get("target", first.get("targetPercent")))
    work.note(
        f"{where}: objectives[0] has no usable target ({shown}; expected target between 0 and "
        "1 or targetPercent between 0 and 100, both exclusive); skipped"
    )
    return None


def _conditions(
    where: str, spec: dict[Any, Any], work: _Import
) -> Iterator[tuple[str, dict[Any, Any]]]:
    """(name, spec) of every AlertCondition of the SLO's alert policies."""
    for entry in _list(spec.get("alertPolicies")):
        item = _mapping(entry)
        policy: dict[Any, Any] | None
        if item is not None and item.get("spec") is not None:
            policy = item  # inline
            label = str((_mapping(item.get("metadata")) or {}).get("name", "(inline)"))
        else:
            ref = item.get("alertPolicyRef") if item is not None else entry
            policy, label = work.find("AlertPolicy", ref), str(ref)
        if policy is None:
            work.note(
                f"{where} refers to AlertPolicy {_show(label)}, which is not in the "
                "documents; ignored"
            )
            continue
        policy_spec = _mapping(policy.get("spec")) or {}
        for target in _list(policy_spec.get("notificationTargets")):
            found_target = _mapping(target) or {}
            target_name = found_target.get("targetRef") or (
                (_mapping(found_target.get("metadata")) or {}).get("name")
            )
            work.targets.setdefault(str(target_name or f"(inline, in AlertPolicy {label})"), None)
        for condition in _list(policy_spec.get("conditions")):
            found = _mapping(condition) or {}
            if found.get("spec") is None:
                ref = found.get("conditionRef") if found else condition
                resolved = work.find("AlertCondition", ref)
                if resolved is None:
                    work.note(
                        f"AlertPolicy {label!r} refers to AlertCondition {_show(ref)}, "
                        "which is not in the documents; ignored"
                    )
                    continue
                found = resolved
            name = str((_mapping(found.get("metadata")) or {}).get("name", "(inline)"))
            yield name, _mapping(found.get("spec")) or {}


def _alerting(
    where: str, spec: dict[Any, Any], window: float, work: _Import
) -> dict[str, Any] | None:
    """The slokit ``alerting`` of an SLO from its burn-rate alert policies, or None for the
    default."""
    if not _list(spec.get("alertPolicies")):
        work.note(
            f"{where} has no alertPolicies; `slokit rules` still writes its default burn-rate "
            "alerts for it (set alerting: {page: false, ticket: false} for none)"
        )
        return None
    known = burn_conditions(window)
    holds: dict[str, list[float]] = {"page": [], "ticket": []}
    shown_known = ", ".join(
        f"{c.severity} {number_text(c.factor):g} over {format_duration(c.long)}" for c in known
    )
    for name, condition_spec in _conditions(where, spec, work):
        condition = _mapping(condition_spec.get("condition")) or {}
        kind, op = condition.get("kind", "burnrate"), condition.get("op", "gt")
        threshold = _number(condition.get("threshold"))
        lookback, _ = _duration(condition.get("lookbackWindow"))
        after, _ = _duration(condition.get("alertAfter", "0m"))
        match = None
        if kind == "burnrate" and op in ("gt", "gte") and threshold is not None and lookback:
            match = next(
                (
                    c
                    for c in known
                    if abs(c.long - lookback) < 1 and abs(threshold - c.factor) <= 0.1 * c.factor
                ),
                None,
            )
        if match is None:
            work.note(
                f"AlertCondition {name!r} of {where} ({kind} {op} "
                f"{_show(condition.get('threshold'))} over "
                f"{_show(condition.get('lookbackWindow'))}) resembles none of slokit's burn-rate "
                f"alerts for a {format_duration(window)} window ({shown_known or 'none'}); "
                "not mapped"
            )
            continue
        if after is None:
            page = match.severity == "page"
            after = DEFAULT_ALERTING.page_for if page else DEFAULT_ALERTING.ticket_for
            work.note(
                f"AlertCondition {name!r}: alertAfter {_show(condition.get('alertAfter'))} is "
                f"not a duration; slokit's default {format_duration(after)} was used"
            )
        holds[match.severity].append(after)
    if not holds["page"] and not holds["ticket"]:
        work.note(f"{where}: no alert condition could be mapped; slokit's default alerts apply")
        return None
    out: dict[str, Any] = {"page": bool(holds["page"]), "ticket": bool(holds["ticket"])}
    for severity in ("page", "ticket"):
        values = holds[severity]
        if not values:
            continue
        if len(set(values)) > 1:
            shown = ", ".join(format_duration(v) for v in dict.fromkeys(values))
            work.note(
                f"{where}: its {severity} conditions wait {shown} before alerting; slokit has "
                f"one {severity}_for, so the shortest was taken"
            )
        out[f"{severity}_for"] = format_duration(min(values))
    default = {
        "page": True,
        "ticket": True,
        "page_for": format_duration(DEFAULT_ALERTING.page_for),
        "ticket_for": format_duration(DEFAULT_ALERTING.ticket_for),
    }
    return None if out == default else out


def _import_slo(
    doc_name: str, doc: dict[Any, Any], service: str, work: _Import
) -> dict[str, Any] | None:
    where = f"SLO {doc_name!r}"
    spec = _mapping(doc.get("spec"))
    if spec is None:
        work.note(f"{where} has no spec; skipped")
        return None
    owner = _text(spec.get("service"))
    if owner is not None and owner != service:
        work.note(
            f"{where} belongs to service {owner!r}, not {service!r}; a slokit spec describes one "
            "service, so it was skipped: import that service's documents on their own"
        )
        return None
    metadata = _mapping(doc.get("metadata")) or {}
    for key in ("labels", "annotations"):
        value = metadata.get(key)
        if value:
            keys = ", ".join(map(str, value)) if isinstance(value, dict) else _show(value)
            work.note(f"{where}: metadata.{key} ({keys}) not mapped: a slokit SLO has no {key}")
    queries = _indicator(where, spec, work)
    window = _window(where, spec, work) if queries is not None else None
    objective = _objective(where, spec, work) if window is not None else None
    if queries is None or window is None or objective is None:
        return None
    method = spec.get("budgetingMethod")
    if method is None:
        work.note(f"{where} has no budgetingMethod; slokit counts occurrences")
    elif method != "Occurrences":
        work.note(
            f"{where}: budgetingMethod {_show(method)} not mapped: slokit counts occurrences "
            "(good events / all events over the window), so it was imported as Occurrences "
            "and any timeSliceTarget and timeSliceWindow were dropped"
        )
    slo: dict[str, Any] = {"objective": objective, "window": format_duration(window)}
    # What export_openslo writes first (describe_slo) is said by the SLO itself: dropped.
    description = GENERATED_DESCRIPTION.sub(
        "", _text(spec.get("description")) or "", count=1
    ).strip()
    if _given_name(doc_name, doc, service) == doc_name:  # displayName is not the name
        description = description or _text(metadata.get("displayName")) or ""
    if description:
        slo["description"] = description
    slo["sli"] = queries
    alerting = _alerting(where, spec, window, work)
    if alerting is not None:
        slo["alerting"] = alerting
    return slo


def _escape(value: Any) -> Any:
    """Strings with ``${`` written so the spec loader keeps them literal."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {_escape(k): _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value


def _dump(data: dict[str, Any]) -> str:
    return yaml.dump(
        _escape(data), Dumper=PlainDumper, sort_keys=False, width=1000, allow_unicode=True
    )


def _problems(exc: SpecError) -> str:
    return "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in exc.problems)


def _given_name(doc_name: str, doc: dict[Any, Any], service: str) -> str:
    """The slokit name of an SLO: the displayName :func:`export_openslo` wrote it from
    (``<service>-<name>`` slugged is the metadata.name), else the metadata.name."""
    display = (_mapping(doc.get("metadata")) or {}).get("displayName")
    if not isinstance(display, str) or not display.strip():
        return doc_name
    base = slug(f"{service}-{display}", "")
    numbered = re.fullmatch(r"(.+)(-\d+)", doc_name)  # made unique by _Names.claim
    if doc_name == base or (
        numbered is not None
        and base[: MAX_NAME - len(numbered.group(2))].rstrip("-") == numbered.group(1)
    ):
        return display
    return doc_name


def _unique(name: str, taken: set[str]) -> str:
    base, count = name, 1
    while name in taken:
        count += 1
        name = f"{base}-{count}"
    taken.add(name)
    return name


def import_openslo(text: str) -> tuple[str, list[str]]:
    """A slokit spec (YAML text) from OpenSLO v1 ``text``, and notes on what could not be
    mapped and what was done instead. :class:`UsageError` when the text is not OpenSLO v1 or
    holds no SLO that slokit can express."""
    work = _Import()
    _collect(_documents(text), work)
    if not work.objects["SLO"]:
        raise UsageError(
            f"no SLO document (kind: SLO, apiVersion: {API_VERSION}) in the input; nothing to "
            "import"
        )
    service = _service(work)
    own_name = _service_name(service, work)
    slos: dict[str, Any] = {}
    taken: set[str] = set()
    for doc_name, doc in work.objects["SLO"].items():
        slo = _import_slo(doc_name, doc, service, work)
        if slo is None:
            continue
        name = _unique(_given_name(doc_name, doc, service), taken)
        try:
            parse_spec(_dump({"version": 1, "service": own_name, "slos": {name: slo}}))
        except SpecError as exc:
            work.note(f"SLO {doc_name!r} was skipped: {_problems(exc)}")
            taken.discard(name)
            continue
        slos[name] = slo
    for kind in ("SLI", "AlertPolicy", "AlertCondition", "Service"):
        for name in work.objects[kind]:
            if name not in work.used[kind]:
                work.note(f"{kind} {name!r} is not used by any imported SLO; not mapped")
    for name, doc in work.objects["DataSource"].items():
        kind = _text((_mapping(doc.get("spec")) or {}).get("type")) or "unknown type"
        work.note(
            f"DataSource {name!r} ({kind}) not mapped: a slokit spec holds no connection "
            "details; its rules run inside your Prometheus"
        )
    targets = [
        *work.targets,
        *(t for t in work.objects["AlertNotificationTarget"] if t not in work.targets),
    ]
    if targets:
        work.note(
            f"notification targets ({', '.join(targets)}) not mapped: a slokit spec does not "
            "route alerts; route them in Alertmanager on their severity, slo and service labels"
        )
    if not slos:
        raise UsageError("no OpenSLO SLO could be mapped to a slokit SLO: " + "; ".join(work.notes))
    head = "# Imported from OpenSLO v1 by slokit.\n"
    if work.notes:
        head += "# Not mapped as such:\n"
        head += "".join("#  - " + " ".join(n.split()) + "\n" for n in work.notes)
    out = head + _dump({"version": 1, "service": own_name, "slos": slos})
    try:
        parse_spec(out)
    except SpecError as exc:  # pragma: no cover - every SLO was validated on its own
        raise UsageError(f"the imported spec is not valid: {_problems(exc)}") from None
    return out, list(work.notes)
