"""Retrain PRs edit a human's YAML: only the edited values may change, byte for byte."""

from __future__ import annotations

import difflib
from typing import Any

import pytest

from bot.core.yaml_edit import get_key, set_keys

PARAMS = """\
# Parameters of the churn pipeline. Keep comments: humans read this file.
data:
  snapshot: "2024-01-01"   # the production extract the model trains on
  path: data/raw           # relative to the repo root
  columns: [age, tenure,   plan]

train:
    C: 1.0        # inverse regularisation
    solver: 'lbfgs'
    max_iter: 200
    class_weight: ~
    nested:
      seed: 42
  # a comment at an odd indent

evaluate:
  threshold: 0.5
# trailing comment
"""


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    """(removed, added) line pairs: every other line of the file must be identical."""
    diff = [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"]
    removed = [line[2:] for line in diff if line.startswith("- ")]
    added = [line[2:] for line in diff if line.startswith("+ ")]
    return (
        list(zip(removed, added, strict=False))
        if len(removed) == len(added)
        else [("\n".join(removed), "\n".join(added))]
    )


@pytest.mark.parametrize(
    ("updates", "removed", "added"),
    [
        (
            {"data.snapshot": "2024-06-01"},
            '  snapshot: "2024-01-01"   # the production extract the model trains on',
            '  snapshot: "2024-06-01"   # the production extract the model trains on',
        ),
        (
            {"train.C": 0.25},
            "    C: 1.0        # inverse regularisation",
            "    C: 0.25        # inverse regularisation",
        ),
        ({"train.solver": "saga"}, "    solver: 'lbfgs'", "    solver: 'saga'"),
        ({"train.max_iter": 500}, "    max_iter: 200", "    max_iter: 500"),
        ({"train.class_weight": "balanced"}, "    class_weight: ~", "    class_weight: balanced"),
        ({"train.nested.seed": 7}, "      seed: 42", "      seed: 7"),
        ({"evaluate.threshold": True}, "  threshold: 0.5", "  threshold: true"),
        (
            {"data.path": "a: b # not a comment"},
            "  path: data/raw           # relative to the repo root",
            '  path: "a: b # not a comment"           # relative to the repo root',
        ),
        ({"data.columns": ["age", "plan"]}, "  columns: [age, tenure,   plan]", '  columns: ["age", "plan"]'),
        (
            {"data.path": "2024"},
            "  path: data/raw           # relative to the repo root",
            '  path: "2024"           # relative to the repo root',
        ),  # a string that looks like a number stays one
    ],
)
def test_only_the_edited_value_changes(updates: dict[str, Any], removed: str, added: str) -> None:
    after = set_keys(PARAMS, updates)
    assert changed_lines(PARAMS, after) == [(removed, added)]
    for key, value in updates.items():
        assert get_key(after, key) == value


def test_every_byte_outside_the_edit_is_equal() -> None:
    after = set_keys(PARAMS, {"data.snapshot": "2025-02-03"})
    start = PARAMS.index('"2024-01-01"')
    assert after[:start] == PARAMS[:start]
    assert after[start + len('"2025-02-03"') :] == PARAMS[start + len('"2024-01-01"') :]


def test_several_keys_at_once() -> None:
    after = set_keys(PARAMS, {"data.snapshot": "2025-01-01", "train.C": 2.0, "train.max_iter": 10})
    assert len(changed_lines(PARAMS, after)) == 3


@pytest.mark.parametrize(
    ("updates", "added_lines"),
    [
        ({"data.version": 3}, ["  version: 3"]),
        ({"train.nested.new_key": "x"}, ["      new_key: x"]),
        ({"train.early_stopping.patience": 5}, ["    early_stopping:", "      patience: 5"]),
        ({"retrain.reason": "drift in age"}, ["retrain:", "  reason: drift in age"]),
    ],
)
def test_missing_keys_and_parents_are_created_in_place(
    updates: dict[str, Any], added_lines: list[str]
) -> None:
    after = set_keys(PARAMS, updates)
    diff = [line for line in difflib.ndiff(PARAMS.splitlines(), after.splitlines()) if line[:1] in "+-"]
    assert [line[2:] for line in diff] == added_lines  # additions only, nothing removed or moved
    for key, value in updates.items():
        assert get_key(after, key) == value


def test_new_key_goes_at_the_end_of_its_own_section() -> None:
    after = set_keys(PARAMS, {"data.version": 3})
    lines = after.splitlines()
    assert lines[lines.index("  columns: [age, tenure,   plan]") + 1] == "  version: 3"


@pytest.mark.parametrize(
    ("text", "updates", "expected"),
    [
        ("", {"a.b": 1}, "a:\n  b: 1\n"),
        ("# only a comment\n", {"a": "x"}, "# only a comment\na: x\n"),
        ("a: 1", {"b": 2}, "a: 1\nb: 2\n"),
        ("a: {b: 1}\n", {"a.c": 2}, "a: {b: 1, c: 2}\n"),
        ("a: {}\n", {"a.c": 2}, "a: {c: 2}\n"),
        ("a: |\n  line 1\n  line 2\nb: 2\n", {"a": "short"}, "a: short\nb: 2\n"),
        ("a:\n  x: 1\n  y: 2\nb: 3\n", {"a": {"z": 1}}, 'a: {"z": 1}\nb: 3\n'),
        ("a: 1\n", {"a": None}, "a: null\n"),
        ("a: x\n", {"a": "it's"}, "a: it's\n"),
    ],
)
def test_small_files(text: str, updates: dict[str, Any], expected: str) -> None:
    assert set_keys(text, updates) == expected


@pytest.mark.parametrize(
    ("updates", "message"),
    [
        ({"data.snapshot.day": 1}, "data.snapshot is the value"),
        ({"data.columns.first": 1}, "data.columns is a list, not a mapping"),
        ({"": 1}, "is not a key path"),
        ({"data..x": 1}, "is not a key path"),
    ],
)
def test_a_path_through_a_non_mapping_names_the_key(updates: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        set_keys(PARAMS, updates)


def test_top_level_not_a_mapping_and_broken_yaml() -> None:
    with pytest.raises(ValueError, match="top level is not a mapping"):
        set_keys("- a\n- b\n", {"x": 1})
    with pytest.raises(ValueError, match="not valid YAML: line"):
        set_keys("a: [1,\n", {"a": 1})
