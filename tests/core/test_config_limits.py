"""The config loader's bounds (issue 18 finding 8): YAML that expands without limit, and paths that leave
the repository, are refused at load time with the line that does it."""

from __future__ import annotations

import time

import pytest

from bot.core.config import MAX_DEPTH, ConfigError, load_config

MODEL = """\
models:
  - name: churn
    stage: train
    output: {output}
    training_data: [{training}]
    drift:
      current: {current}
      reference: {reference}
      retrain:
        file: {retrain}
card_template: {template}
"""
SAFE = {
    "output": "model.pkl",
    "training": "data/train.csv",
    "current": "production/*.parquet",
    "reference": "data/train.csv",
    "retrain": "params.yaml",
    "template": ".github/card.md.j2",
}


def config(**paths: str) -> str:
    return MODEL.format(**{**SAFE, **paths})


def billion_laughs(levels: int = 9) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels):
        lines.append(f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_once_with_its_line() -> None:
    started = time.perf_counter()
    with pytest.raises(ConfigError) as refused:
        load_config(billion_laughs())
    assert time.perf_counter() - started < 1.0
    message = str(refused.value)
    # l0..l3 stand for 10, 91, 820 and 7,381 values: the bound is crossed on l4, line 5
    assert "aliases expand to more than" in message and "line 5:" in message


def test_too_many_aliases_and_too_deep_nesting_are_refused() -> None:
    many = "base: &b 1\n" + "".join(f"k{n}: *b\n" for n in range(101))
    with pytest.raises(ConfigError, match=r"line 102: more than 100 aliases"):
        load_config(many)
    deep = "a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n"
    with pytest.raises(ConfigError, match=r"line 1: nested more than"):
        load_config(deep)


def test_a_config_that_shares_a_metric_list_by_anchor_still_loads() -> None:
    text = """\
models:
  - name: a
    stage: train_a
    output: a.pkl
    metrics: &gate
      - {name: accuracy, min: 0.9}
  - name: b
    stage: train_b
    output: b.pkl
    metrics: *gate
"""
    loaded = load_config(text)
    assert [m.metrics[0].min for m in loaded.models] == [0.9, 0.9]


def test_every_configured_path_inside_the_repository_loads() -> None:
    loaded = load_config(config())
    assert loaded.models[0].drift is not None and loaded.models[0].drift.current == "production/*.parquet"


@pytest.mark.parametrize(
    ("field", "value", "line", "problem"),
    [
        ("current", "/etc/passwd", 7, "is absolute"),
        ("current", "../../other-repo/secrets.csv", 7, "leaves the repository"),
        ("reference", "data/../../x.csv", 8, "leaves the repository"),
        ("output", "/tmp/model.pkl", 4, "is absolute"),
        ("training", "~/data.csv", 5, "is absolute"),
        ("retrain", "..\\\\params.yaml", 10, "leaves the repository"),
        ("template", "C:/card.j2", 11, "is absolute"),
    ],
)
def test_a_path_that_leaves_the_repository_is_refused_with_its_line(
    field: str, value: str, line: int, problem: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(config(**{field: f'"{value}"'}))
    message = str(refused.value)
    assert f"line {line}:" in message and problem in message, message


def test_a_config_is_parsed_once_per_blob_and_a_refused_one_stays_refused() -> None:
    from bot.core.config import blob_sha

    text = config()
    assert load_config(text) is load_config(text)  # the same blob: the same frozen value, parsed once
    assert load_config(text + "# edited\n") is not load_config(text)
    # git's id for the blob, as GitHub's contents API reports it (`git hash-object` of the same bytes)
    assert blob_sha("hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"
    for _ in range(2):
        started = time.perf_counter()
        with pytest.raises(ConfigError, match="aliases expand"):
            load_config(billion_laughs())
        assert time.perf_counter() - started < 1.0
