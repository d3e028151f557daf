"""Loading: lines for every problem, ``${VAR}`` substitution, files, and no tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slokit.errors import SpecError, SpecProblem
from slokit.spec import ConstantVUs, Spec, load_spec, parse_spec

SCENARIO = """\
service: orders
scenarios:
  smoke:
    executor: constant-vus
    vus: 1
    duration: 1s
    flow:
      - get: /
"""


def problems_of(text: str) -> list[SpecProblem]:
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    return info.value.problems


def only(text: str) -> SpecProblem:
    found = problems_of(text)
    assert len(found) == 1, found
    return found[0]


def test_parse_spec_returns_a_spec() -> None:
    spec = parse_spec(SCENARIO)
    assert isinstance(spec.scenario("smoke"), ConstantVUs)
    assert spec.base_dir == "."


def test_spec_error_carries_source_and_every_problem() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec("service: x\ntarget: nope\nwarmup: soon\n", source="mine.yaml")
    err = info.value
    assert err.source == "mine.yaml"
    assert [(p.path, p.line) for p in err.problems] == [("target", 2), ("warmup", 3)]
    assert str(err).startswith("mine.yaml: 2 problems in spec:")
    assert "warmup (line 3): invalid duration 'soon'" in str(err)


def test_value_errors_point_at_the_value_line() -> None:
    problem = only("service: x\nwarmup:\n  soon\n")
    assert (problem.path, problem.line) == ("warmup", 3)


def test_unknown_keys_point_at_the_key_line() -> None:
    text = SCENARIO.replace("    vus: 1\n", "    vus: 1\n    duraton: 5s\n")
    problem = only(text)
    assert (problem.path, problem.line) == ("scenarios.smoke.duraton", 6)
    assert problem.message == "unknown field 'duraton'; did you mean 'duration'?"


def test_unknown_key_without_a_close_match_lists_the_fields() -> None:
    problem = only("service: x\nguards:\n  zzz: 1\n")
    assert problem.message == (
        "unknown field 'zzz'; expected one of: max_body, rate_limits, concurrency, "
        "latency_target, body_timeout"
    )


def test_missing_fields_point_at_their_mapping() -> None:
    problem = only(SCENARIO.replace("    vus: 1\n", ""))
    assert (problem.path, problem.line) == ("scenarios.smoke.vus", 3)
    assert problem.message == "missing required field 'vus'"


def test_missing_service_has_no_line() -> None:
    assert only("target: http://127.0.0.1:8000\n") == SpecProblem(
        "service", "missing required field 'service'", None
    )


def test_executor_tag_is_not_part_of_the_path() -> None:
    problem = only(SCENARIO.replace("vus: 1", "vus: ten"))
    assert (problem.path, problem.line) == ("scenarios.smoke.vus", 5)
    assert problem.message == "expected an integer (the number of virtual users), got 'ten'"


def test_verb_key_carries_the_path_errors() -> None:
    problem = only(SCENARIO.replace("- get: /", "- get: relative"))
    assert (problem.path, problem.line) == ("scenarios.smoke.flow[0].get", 8)


def test_json_alias_maps_to_its_line() -> None:
    text = SCENARIO + "        json: {a: 1}\n        body: x\n"
    problem = only(text)
    assert (problem.path, problem.line) == ("scenarios.smoke.flow[0].body", 10)
    text = SCENARIO + "        checks:\n          - json: a.b\n"
    problem = only(text)
    assert (problem.path, problem.line) == ("scenarios.smoke.flow[0].checks[0].json", 10)


def test_flow_style_items_have_their_own_lines() -> None:
    text = "service: x\ngates:\n  - p95 < 1s\n  - p95 < 1\n  - rps > 1\n"
    problem = only(text)
    assert (problem.path, problem.line) == ("gates[1]", 4)


def test_names_with_dots_are_quoted_in_paths() -> None:
    problem = only("service: x\nslos:\n  orders.latency: {objective: 100%}\n")
    assert problem.path == "slos.'orders.latency'.objective"


def test_problems_are_sorted_by_line() -> None:
    text = "service: x\nwarmup: z\nslos:\n  a: {objective: 1%, window: q}\ntarget: t\n"
    assert [p.line for p in problems_of(text)] == [2, 4, 5]


# --- YAML details ----------------------------------------------------------------------


def test_duplicate_keys_are_problems() -> None:
    found = problems_of(
        "service: a\nservice: b\nslos:\n  x: {objective: 1%}\n  x: {objective: 2%}\n"
    )
    assert [(p.path, p.line) for p in found] == [("service", 2), ("slos.x", 5)]
    assert "duplicate key 'service' (first at line 1)" in found[0].message


def test_merge_keys_may_override() -> None:
    text = """\
service: x
x-base: &base {executor: constant-vus, vus: 1, duration: 1s, flow: [{get: /}]}
"""
    # The anchor holder is not a spec field; with the merge it still must not be a duplicate.
    problem = only(text)
    assert problem.path == "x-base"
    spec = parse_spec(
        """\
service: x
scenarios:
  a: &base {executor: constant-vus, vus: 1, duration: 1s, flow: [{get: /}]}
  b:
    <<: *base
    vus: 5
"""
    )
    assert spec.scenario("b").vus == 5  # type: ignore[union-attr]
    assert spec.scenario("a").vus == 1  # type: ignore[union-attr]


def test_alias_loops_are_reported_not_crashed() -> None:
    found = problems_of("service: x\ngates: &g [*g]\n")
    assert found
    assert all(p.path.startswith("gates") for p in found)


def test_deep_nesting_is_a_clean_error() -> None:
    problem = only("service: x\nx: " + "[" * 3000 + "]" * 3000 + "\n")
    assert "nests too deeply" in problem.message


def test_control_characters_are_a_clean_error() -> None:
    problem = only("service: \x00\n")
    assert problem.message.startswith("not valid YAML")


def test_non_string_keys_are_reported() -> None:
    found = problems_of("service: x\n1: 2\nnull: 3\n")
    assert [p.path for p in found] == ["1", "None"]
    assert all("unknown field" in p.message for p in found)


# --- environment variables ---------------------------------------------------------------


def test_env_substitution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOKIT_T_TARGET", "http://127.0.0.1:9999")
    monkeypatch.setenv("SLOKIT_T_VUS", "7")
    monkeypatch.setenv("SLOKIT_T_EMPTY", "")
    monkeypatch.delenv("SLOKIT_T_UNSET", raising=False)
    spec = parse_spec(
        """\
service: ${SLOKIT_T_UNSET:-orders}-${SLOKIT_T_EMPTY:-api}
target: ${SLOKIT_T_TARGET}
scenarios:
  smoke:
    executor: constant-vus
    vus: ${SLOKIT_T_VUS}
    duration: ${SLOKIT_T_UNSET:-2s}
    headers: {X-Literal: "$${SLOKIT_T_VUS}", X-Empty: "a${SLOKIT_T_EMPTY}b", X-Cost: "$5"}
    flow: [{get: "/items/${SLOKIT_T_VUS}"}]
"""
    )
    assert spec.service == "orders-api"
    assert spec.target == "http://127.0.0.1:9999"
    sc = spec.scenario("smoke")
    assert isinstance(sc, ConstantVUs)
    assert (sc.vus, sc.duration) == (7, 2.0)
    assert sc.headers == {"X-Literal": "${SLOKIT_T_VUS}", "X-Empty": "ab", "X-Cost": "$5"}
    assert sc.flow is not None
    assert sc.flow[0].path == "/items/7"


def test_env_values_cannot_inject_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOKIT_T_EVIL", "x\nscenarios: {}\ntarget: http://evil")
    spec = parse_spec("service: ${SLOKIT_T_EVIL}\n")
    assert spec.service == "x\nscenarios: {}\ntarget: http://evil"
    assert spec.target is None


def test_missing_env_var_is_one_problem_at_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLOKIT_T_UNSET", raising=False)
    problem = only(SCENARIO.replace("vus: 1", "vus: ${SLOKIT_T_UNSET}"))
    assert (problem.path, problem.line) == ("scenarios.smoke.vus", 5)
    assert problem.message == (
        "environment variable 'SLOKIT_T_UNSET' is not set; set it, or give a default: "
        "${SLOKIT_T_UNSET:-default}"
    )


@pytest.mark.parametrize("ref", ["${}", "${1X}", "${A-b}", "${UNCLOSED"])
def test_bad_references(ref: str) -> None:
    problem = only(f"service: x\ndependencies:\n  d: {{kind: tcp, url: 'a{ref}'}}\n")
    assert problem.path == "dependencies.d.url"
    assert problem.line == 3
    assert "invalid variable reference" in problem.message


def test_env_vars_in_keys_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOKIT_T_NAME", "nope")
    spec = parse_spec("service: x\nslos:\n  ${SLOKIT_T_NAME}: {objective: 99%}\n")
    assert list(spec.slos) == ["${SLOKIT_T_NAME}"]


# --- files -----------------------------------------------------------------------------


def test_load_spec_sets_base_dir(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "slokit.yaml"
    path.parent.mkdir()
    path.write_text(SCENARIO, encoding="utf-8")
    spec = load_spec(path)
    assert spec.base_dir == str(path.parent)
    assert load_spec(str(path)).base_dir == str(path.parent)
    assert "base_dir" not in spec.model_dump()


def test_load_spec_relative_path_gives_an_absolute_base_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "slokit.yaml").write_text(SCENARIO, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert Path(load_spec("slokit.yaml").base_dir) == tmp_path


def test_load_spec_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + SCENARIO.encode())
    assert load_spec(path).service == "orders"


def test_load_spec_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("service: x\nwarmup: soon\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert info.value.source == str(path)


def test_load_spec_of_a_directory(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="is a directory"):
        load_spec(tmp_path)


def test_load_spec_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="file not found"):
        load_spec(tmp_path / "nope.yaml")


# --- nothing a user writes may produce a traceback ---------------------------------------


def outcome(text: str) -> Spec | SpecError:
    """The spec, or the SpecError: anything else propagates and fails the test."""
    try:
        return parse_spec(text)
    except SpecError as exc:
        return exc


KEYS = [
    "service",
    "target",
    "warmup",
    "slos",
    "gates",
    "guards",
    "scenarios",
    "dependencies",
    "executor",
    "vus",
    "duration",
    "flow",
    "script",
    "get",
    "post",
    "json",
    "body",
    "checks",
    "status",
    "objective",
    "latency",
    "route",
    "stages",
    "to",
    "over",
    "rate",
    "limit",
    "kind",
    "url",
    "max_body",
    "rate_limits",
    "concurrency",
    "equals",
    "exists",
    "data",
    "file",
    "x",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "constant-vus",
            "ramping-arrival-rate",
            "10s",
            "99.9%",
            "50/s",
            "1MiB",
            "GET /x",
            "p95 < 1s",
            "/",
            "${X}",
            "$${",
            "{{a}}",
            "a.py:f",
            "",
            " ",
            "http://127.0.0.1:1",
        ]
    ),
    st.text(max_size=12),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), children, max_size=5
        ),
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6))
def test_any_data_gives_a_spec_or_a_spec_error(data: dict[str, object]) -> None:
    result = outcome(yaml.safe_dump(data, allow_unicode=True))
    if isinstance(result, SpecError):
        assert result.problems
        assert all(isinstance(p.message, str) and p.message for p in result.problems)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_a_spec_or_a_spec_error(text: str) -> None:
    result = outcome(text)
    assert isinstance(result, Spec) or result.problems


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mangled_valid_specs_give_a_spec_or_a_spec_error(data: st.DataObject) -> None:
    from slokit.spec import STARTER_SPEC

    lines = STARTER_SPEC.splitlines()
    index = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
    edit = data.draw(st.sampled_from(["drop", "dup", "indent", "dedent", "junk"]))
    line = lines[index]
    if edit == "drop":
        del lines[index]
    elif edit == "dup":
        lines.insert(index, line)
    elif edit == "indent":
        lines[index] = "  " + line
    elif edit == "dedent":
        lines[index] = line[2:]
    else:
        lines[index] = line + data.draw(st.text(max_size=5))
    result = outcome("\n".join(lines))
    assert isinstance(result, Spec) or result.problems
