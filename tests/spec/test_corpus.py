"""The bad-spec corpus: every file yields a SpecError naming each problem's path and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slokit.errors import SpecError
from slokit.spec import load_spec

BAD = Path(__file__).parent / "bad"
EXPECTED: dict[str, dict[str, object]] = {
    name: case
    for name, case in json.loads((BAD / "expected.json").read_text(encoding="utf-8")).items()
    if not name.startswith("_")
}
UNSET = [
    "SLOKIT_TEST_SURELY_UNSET",
    "SLOKIT_TEST_SURELY_UNSET_DB",
    "SLOKIT_TEST_SURELY_UNSET_CACHE",
]


def test_corpus_lists_every_file() -> None:
    files = {p.name for p in BAD.glob("*.yaml")}
    assert files <= set(EXPECTED)
    absent = set(EXPECTED) - files
    assert absent == {"does_not_exist.yaml"}  # the missing-file case
    assert len(EXPECTED) >= 20


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_spec(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in UNSET:
        monkeypatch.delenv(var, raising=False)
    case = EXPECTED[name]
    with pytest.raises(SpecError) as info:
        load_spec(BAD / name)
    err = info.value
    listing = "\n".join(str(p) for p in err.problems)
    assert err.source == str(BAD / name)
    assert len(err.problems) == case["count"], listing
    expected = case["problems"]
    assert isinstance(expected, list)
    for path, line, fragment in expected:
        assert any(
            p.path == path and p.line == line and fragment in p.message for p in err.problems
        ), f"no problem at {path!r} line {line} saying {fragment!r} in:\n{listing}"
    for problem in err.problems:
        assert problem.message in str(err)
