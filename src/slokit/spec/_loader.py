"""Reading a spec: YAML with line numbers, ``${VAR}`` substitution, every problem at once.

A :class:`SpecError` lists each problem with its dotted path and YAML line; nothing a user
can write produces a traceback. Lines come from :class:`_LineLoader`, which records where
every mapping key, value and list item starts, keyed by the id of the built container.
"""

from __future__ import annotations

import os
import re
from collections.abc import Hashable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from slokit.errors import SpecError, SpecProblem
from slokit.spec._base import describe, suggest
from slokit.spec._flow import FLOW_TAGS
from slokit.spec._models import Spec
from slokit.spec._scenarios import EXECUTORS
from slokit.spec._steps import VERBS
from slokit.spec._units import STRICT_UNITS

__all__ = ["load_spec", "parse_document", "parse_spec", "read_document"]

_VAR = re.compile(r"\$\$\{|\$\{(?P<body>[^}]*)(?P<close>\})?")
_VAR_BODY = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>.*))?\Z", re.DOTALL)
_YAML_HINT = "expected 'key: value' lines indented with spaces; check indentation, quotes, brackets"

Loc = tuple[Any, ...]

MAX_VALUES = 1_000_000
"""Values (scalars, lists, mappings) a spec may hold once its aliases are expanded."""
MAX_TEXT = 16 * 1024 * 1024
"""Characters of text a spec may hold once its aliases are expanded (16 MiB): a request
body built from ``*alias`` repeated inside itself (a "billion laughs") is refused before
anything expands it, instead of eating gigabytes when the run encodes it."""
MAX_DIGITS = 1000
"""Digits in a YAML integer: Python refuses to read more than 4300, with a traceback."""


class _Refused(yaml.constructor.ConstructorError):
    """A value slokit refuses while reading the YAML, with the line it starts on."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(None, None, message, mark)
        self.message = message


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader that remembers lines (1-based) and flags duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.key_lines: dict[int, dict[Any, tuple[int, int]]] = {}
        self.item_lines: dict[int, list[int]] = {}
        self.duplicates: list[tuple[int, Any, int, int]] = []
        """(id of mapping, key, line, first line) for each repeated key."""

    def construct_lined_map(self, node: MappingNode) -> Iterator[dict[Any, Any]]:
        data: dict[Any, Any] = {}
        yield data
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            # Merge keys (`<<: *base`) may legitimately repeat and be overridden.
            if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = self.construct_object(key_node)
                line = key_node.start_mark.line + 1
                if isinstance(key, Hashable) and key in seen:
                    self.duplicates.append((id(data), key, line, seen[key]))
                elif isinstance(key, Hashable):
                    seen[key] = line
        data.update(self.construct_mapping(node))
        lines: dict[Any, tuple[int, int]] = {}
        for key_node, value_node in node.value:  # flattened: merged keys included
            key = self.construct_object(key_node)
            lines[key] = (key_node.start_mark.line + 1, value_node.start_mark.line + 1)
        self.key_lines[id(data)] = lines

    def construct_lined_seq(self, node: SequenceNode) -> Iterator[list[Any]]:
        data: list[Any] = []
        yield data
        data.extend(self.construct_sequence(node))
        self.item_lines[id(data)] = [item.start_mark.line + 1 for item in node.value]

    def construct_yaml_int(self, node: ScalarNode) -> int:
        text = str(node.value)
        if sum(c.isdigit() for c in text) > MAX_DIGITS:
            raise _Refused(
                f"an integer with {sum(c.isdigit() for c in text):,} digits; no field takes more "
                f"than {MAX_DIGITS} (counts here are at most a few million)",
                node.start_mark,
            )
        value: int = super().construct_yaml_int(node)
        return value


_LineLoader.add_constructor("tag:yaml.org,2002:int", _LineLoader.construct_yaml_int)
_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_lined_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _LineLoader.construct_lined_seq)


def _segment(container: Any, key: Any) -> str:
    """One step of a dotted path: ``[2]`` for a list index, ``.name`` for a mapping key."""
    if isinstance(container, list):
        return f"[{key}]"
    if isinstance(key, str) and (not key or "." in key or key != key.strip()):
        return f".{key!r}"  # keep the path readable when a name has dots or spaces
    return f".{key}"


def _join(segments: list[str]) -> str:
    return "".join(segments).lstrip(".")


class _Document:
    """The parsed YAML plus where each piece of it came from."""

    def __init__(self, data: dict[Any, Any], loader: _LineLoader) -> None:
        self.data = data
        self.key_lines = loader.key_lines
        self.item_lines = loader.item_lines
        self.paths: dict[int, list[str]] = {}
        self.nodes: dict[int, Any] = {}
        self._index()

    def _index(self) -> None:
        """Path of every container, each visited once (YAML aliases may share or loop)."""
        stack: list[tuple[Any, list[str]]] = [(self.data, [])]
        while stack:
            node, path = stack.pop()
            if id(node) in self.paths:
                continue
            self.paths[id(node)], self.nodes[id(node)] = path, node
            for key, child, _, _ in self.children(node):
                if isinstance(child, dict | list):
                    stack.append((child, [*path, _segment(node, key)]))

    def children(self, node: Any) -> Iterator[tuple[Any, Any, int | None, int | None]]:
        """(key or index, value, key line, value line) for a container's entries."""
        if isinstance(node, dict):
            lines = self.key_lines.get(id(node), {})
            for key, value in node.items():
                key_line, value_line = lines.get(key, (None, None))
                yield key, value, key_line, value_line
        elif isinstance(node, list):
            item_lines = self.item_lines.get(id(node), [])
            for index, value in enumerate(node):
                line = item_lines[index] if index < len(item_lines) else None
                yield index, value, line, line

    def locate(self, loc: Loc, *, at_key: bool) -> tuple[str, int | None]:
        """Dotted YAML path and line for a pydantic ``loc``.

        Elements that are not in the data are pydantic's own labels (the executor tag of a
        discriminated union, ``[key]``) and are skipped, except a last one: a missing field.
        """
        node: Any = self.data
        parts: list[str] = []
        line: int | None = None
        for i, elem in enumerate(loc):
            last = i == len(loc) - 1
            if elem in FLOW_TAGS:
                continue
            entry = self._entry(node, elem)
            if entry is not None:
                key, child, key_line, value_line = entry
                parts.append(_segment(node, key))
                node = child
                line = key_line if (not last or at_key) else (value_line or key_line)
            elif elem == "[key]" or not isinstance(node, dict | list):
                continue
            elif last and not (isinstance(node, dict) and elem == node.get("executor")):
                parts.append(_segment(node, elem))
        return _join(parts), line

    def _entry(self, node: Any, elem: Any) -> tuple[Any, Any, int | None, int | None] | None:
        if isinstance(node, dict):
            if isinstance(elem, Hashable) and elem in node:
                key_line, value_line = self.key_lines.get(id(node), {}).get(elem, (None, None))
                return elem, node[elem], key_line, value_line
            if isinstance(elem, str):  # pydantic shows a null or date key as text
                for key in node:
                    if not isinstance(key, str | int) and str(key) == elem:
                        return self._entry(node, key)
            if elem in ("method", "path"):  # a step's verb key holds both
                verb = next((k for k in node if k in VERBS), None)
                if verb is not None:
                    return self._entry(node, verb)
        elif isinstance(node, list) and isinstance(elem, int) and 0 <= elem < len(node):
            line = self.item_lines.get(id(node), [])
            found = line[elem] if elem < len(line) else None
            return elem, node[elem], found, found
        return None


def _substitute(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """``text`` with ``${VAR}``/``${VAR:-default}`` replaced, and one message per bad ref."""
    problems: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        body, closed = match.group("body"), match.group("close")
        parsed = _VAR_BODY.match(body) if closed else None
        if parsed is None:
            problems.append(
                f"invalid variable reference {match.group(0)!r}; expected ${{NAME}} or "
                "${NAME:-default} (write $${ for a literal ${)"
            )
            return match.group(0)
        name, default = parsed.group("name"), parsed.group("default")
        value = env.get(name)
        if value:
            return value
        if default is not None:
            return default
        if value is None:
            problems.append(
                f"environment variable '{name}' is not set; set it, or give a default: "
                f"${{{name}:-default}}"
            )
            return ""
        return value

    return _VAR.sub(replace, text), problems


def _substitute_all(doc: _Document) -> list[SpecProblem]:
    """Replace variables in every string value in place (keys are left alone)."""
    problems: list[SpecProblem] = []
    for container_id, path in doc.paths.items():
        node = doc.nodes[container_id]
        for key, value, key_line, value_line in list(doc.children(node)):
            if isinstance(value, str) and "$" in value:
                new, messages = _substitute(value, os.environ)
                node[key] = new
                where = _join([*path, _segment(node, key)])
                problems.extend(SpecProblem(where, m, value_line or key_line) for m in messages)
    return problems


def _duplicates(doc: _Document, loader: _LineLoader) -> list[SpecProblem]:
    problems = []
    for container_id, key, line, first in loader.duplicates:
        path = doc.paths.get(container_id, [])
        message = (
            f"duplicate key {describe(key)} (first at line {first}); YAML would silently keep "
            "only the last value: remove or rename one of them"
        )
        problems.append(SpecProblem(_join([*path, _segment({}, key)]), message, line))
    return problems


def _yaml_problem(exc: yaml.YAMLError) -> SpecProblem:
    if isinstance(exc, _Refused):
        mark = exc.problem_mark
        return SpecProblem("", exc.message, mark.line + 1 if mark else None)
    if not isinstance(exc, yaml.MarkedYAMLError):  # e.g. a control character in the text
        return SpecProblem("", f"not valid YAML: {exc}")
    mark = exc.problem_mark or exc.context_mark
    what = " ".join(p for p in (exc.context, exc.problem) if p)
    line = mark.line + 1 if mark else None
    if "'\\t'" in what or "\t" in what:
        message = "a tab character in the indentation; indent with spaces, not tabs"
    elif "single document" in what:
        message = "the file holds more than one YAML document ('---'); expected one spec"
    elif "quoted scalar" in what and exc.context_mark is not None:
        line = exc.context_mark.line + 1  # where the quote opens, not where the file ends
        message = "a quoted string is never closed; close the quote that starts on this line"
    else:
        message = f"{what}; {_YAML_HINT}"
    return SpecProblem("", f"not valid YAML: {message}", line)


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a document whose aliases expand past MAX_VALUES values or MAX_TEXT characters.

    PyYAML builds an aliased value once and shares it, so the blow-up comes later, when the
    engine encodes a body. Sizes are summed per node (memoised, so this is linear in the
    nodes written); the first node found too big is the one named."""
    sizes: dict[int, tuple[int, int]] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        kids: list[yaml.Node] = []
        if isinstance(node, SequenceNode):
            kids = list(node.value)
        elif isinstance(node, MappingNode):
            kids = [n for pair in node.value for n in pair]
        if not children_done:
            on_path.add(key)
            stack.append((node, True))
            stack.extend((k, False) for k in kids if id(k) not in sizes and id(k) not in on_path)
            continue
        on_path.discard(key)
        count, chars = 1, len(node.value) if isinstance(node, ScalarNode) else 0
        for kid in kids:
            kid_count, kid_chars = sizes.get(id(kid), (1, 0))  # (1, 0): a loop back
            count, chars = count + kid_count, chars + kid_chars
        sizes[key] = (count, chars)
        if count > MAX_VALUES or chars > MAX_TEXT:
            what = (
                f"more than {MAX_VALUES:,} values"
                if count > MAX_VALUES
                else f"more than {MAX_TEXT // (1024 * 1024)} MiB of text"
            )
            raise _Refused(
                f"the value starting here expands to {what} (YAML aliases such as *name "
                "repeated inside each other); write the data out, or make it smaller",
                node.start_mark,
            )


def _read_yaml(text: str) -> tuple[Any, _LineLoader]:
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, loader
        _check_expansion(node)
        return loader.construct_document(node), loader
    finally:
        loader.dispose()


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


def _bad_text(doc: _Document) -> list[SpecProblem]:
    """Strings that cannot be written out (to a report, a file, the database): lone
    surrogates, which YAML's "\\ud800" escape makes, in any key or value."""
    problems: list[SpecProblem] = []
    for container_id, path in doc.paths.items():
        node = doc.nodes[container_id]
        for key, value, key_line, value_line in doc.children(node):
            # The path itself must print: a surrogate (or NUL) in it is shown escaped.
            where = _join([*path, _segment(node, key)])
            where = where.encode("utf-8", "backslashreplace").decode().replace("\0", "\\0")
            if isinstance(key, str) and isinstance(node, dict) and _has_surrogate(key):
                message = (
                    f"the name {key.encode('utf-8', 'backslashreplace').decode()!r} holds a "
                    "lone surrogate (a \\ud800-\\udfff escape), which is not text; remove it"
                )
                problems.append(SpecProblem(where, message, key_line))
                continue
            if isinstance(value, str) and _has_surrogate(value):
                shown = value.encode("utf-8", "backslashreplace").decode()
                message = (
                    f"'{shown[:57]}' holds a lone surrogate (a \\ud800-\\udfff escape), "
                    "which is not text and cannot be written to a report; remove it"
                )
                problems.append(SpecProblem(where, message, value_line or key_line))
    return problems


M = TypeVar("M", bound=BaseModel)


def parse_document(
    text: str, model: type[M], source: str = "<string>", *, what: str = "spec", example: str
) -> M:
    """Validate YAML ``text`` as ``model`` the way specs are validated: every problem at once,
    each with its path and line, ``${VAR}`` substituted; raise :class:`SpecError`.
    ``example`` is a first line to suggest for an empty file (``service: orders-api``)."""
    try:
        data, loader = _read_yaml(text)
    except yaml.YAMLError as exc:
        raise SpecError([_yaml_problem(exc)], source, what) from None
    except RecursionError:
        message = f"the YAML nests too deeply; expected a {what} a few levels deep"
        raise SpecError([SpecProblem("", message)], source, what) from None
    if data is None:
        first = "service: <name>" if model is Spec else example
        message = f"the {what} is empty; expected a mapping with at least '{first}'"
        if model is Spec:
            message += " (`slokit init` writes a starter spec)"
        raise SpecError([SpecProblem("", message, 1)], source, what)
    if not isinstance(data, dict):
        message = (
            f"the top level is {describe(data)}; expected a mapping of 'key: value' lines "
            f"such as '{example}'"
        )
        raise SpecError([SpecProblem("", message, 1)], source, what)
    doc = _Document(data, loader)
    substituted = _substitute_all(doc)
    bad_text = _bad_text(doc)
    problems = _duplicates(doc, loader) + substituted + bad_text
    if bad_text:
        # pydantic would echo the surrogate back in its own messages: stop at these.
        raise SpecError(_sorted(problems), source, what)
    try:
        # In a file a number without a unit is ambiguous (300: ms or s?); see _units.
        result = model.model_validate(data, context={STRICT_UNITS: True})
    except ValidationError as exc:
        # A value whose variable is missing fails validation too; one message is enough.
        skip = {p.path for p in substituted}
        found = (_problem(doc, e) for e in exc.errors(include_url=False))
        problems.extend(p for p in found if p.path not in skip)
    if problems:
        raise SpecError(_sorted(problems), source, what)
    return result


def read_document(source: str, what: str = "spec") -> str:
    """The text of the file at ``source``; a :class:`SpecError` saying why it cannot be read."""
    hint = " (`slokit init` writes a starter spec)" if what == "spec" else ""
    try:
        return Path(source).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        message = f"file not found: {source}{hint}"
    except IsADirectoryError:
        message = f"{source} is a directory; expected a {what} file"
        if what == "spec":
            message += " such as slokit.yaml"
    except UnicodeDecodeError as exc:
        message = f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})"
    except OSError as exc:
        message = f"cannot read {source}: {exc.strerror or exc}"
    raise SpecError([SpecProblem("", message)], source, what)


def parse_spec(text: str, source: str = "<string>") -> Spec:
    """Validate spec ``text``; raise :class:`SpecError` listing every problem."""
    return parse_document(text, Spec, source, example="service: orders-api")


def load_spec(path: str | os.PathLike[str]) -> Spec:
    """Read and validate the spec file at ``path``; ``base_dir`` is set to its directory."""
    source = os.fspath(path)
    spec = parse_spec(read_document(source), source)
    return spec.model_copy(update={"base_dir": str(Path(source).absolute().parent)})


def _sorted(problems: list[SpecProblem]) -> list[SpecProblem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.line or 0, p.path))


def _problem(doc: _Document, error: Any) -> SpecProblem:
    loc: Loc = tuple(error["loc"])
    if error["type"].startswith("union_tag_") and isinstance(error["input"], dict):
        loc = (*loc, "executor")  # the only tagged union: point at (or name) the tag
    at_key = error["type"] == "unknown_field" or (bool(loc) and loc[-1] == "[key]")
    path, line = doc.locate(loc, at_key=at_key)
    return SpecProblem(path, _message(error, loc), line)


_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping of 'key: value' entries",
    "model_type": "a mapping of 'key: value' entries",
    "model_attributes_type": "a mapping of 'key: value' entries",
}


def _message(error: Any, loc: Loc) -> str:
    kind, value, ctx = error["type"], error["input"], error.get("ctx") or {}
    field = next((str(p) for p in reversed(loc) if isinstance(p, str) and p != "[key]"), "")
    if kind == "missing":
        return f"missing required field '{field}'"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if loc and loc[-1] == "[key]":
        return f"a name must be a string, got {describe(value)}; quote it: '{value}'"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {describe(value)}"
    if kind == "literal_error":
        hint = suggest(value, re.findall(r"'([^']*)'", ctx.get("expected", "")))
        extra = f"; did you mean '{hint}'?" if hint else ""
        return f"expected {ctx.get('expected')}, got {describe(value)}{extra}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _executor_message(value, ctx)
    if kind == "too_short":
        return f"expected at least {ctx.get('min_length', 1)} entry, got none"
    if kind == "recursion_loop":
        return "the value contains itself (a YAML alias loop); expected plain data"
    message = str(error["msg"])
    if kind in ("unknown_field", "spec_rule") or kind.startswith("spec_"):
        return message
    return f"{message}, got {describe(value)}"


def _executor_message(value: Any, ctx: dict[str, Any]) -> str:
    choices = ", ".join(EXECUTORS)
    tag = ctx.get("tag")
    if tag is None:
        return f"missing required field 'executor'; expected one of: {choices}"
    hint = suggest(str(tag), list(EXECUTORS))
    extra = f"did you mean '{hint}'? " if hint else ""
    return f"unknown executor {tag!r}; {extra}expected one of: {choices}"
