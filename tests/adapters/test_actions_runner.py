"""The runner's files get exactly what GitHub parses; outside Actions nothing is written at all."""

from __future__ import annotations

import io
from pathlib import Path

from bot.adapters.actions_runner import ActionsRunner
from bot.core.actions_output import Annotation


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "GITHUB_OUTPUT": str(tmp_path / "out"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        **extra,
    }


def test_on_a_runner_outputs_summary_groups_and_annotations(tmp_path: Path) -> None:
    log = io.StringIO()
    runner = ActionsRunner(_env(tmp_path, GITHUB_ACTIONS="true"), log=log)
    runner.set_output("run-id", "r1")
    runner.set_output("notes", "two\nlines")
    runner.append_summary("## one")
    runner.append_summary("   ")  # nothing to say: no blank section
    runner.append_summary("## two\n")
    with runner.group("dvc pull"):
        runner.annotate(Annotation("warning", "slow", file="dvc.yaml", line=2))
    runner.start_group("a")
    runner.start_group("b")  # groups do not nest: a closes first
    runner.end_group()
    runner.end_group()  # closing twice prints nothing more

    out = (tmp_path / "out").read_text()
    assert out.startswith("run-id=r1\nnotes<<ghadelimiter_")
    delimiter = out.splitlines()[1].split("<<", 1)[1]
    assert out.endswith(f"\ntwo\nlines\n{delimiter}\n")
    assert (tmp_path / "summary.md").read_text() == "## one\n\n## two\n\n"
    assert log.getvalue().splitlines() == [
        "::group::dvc pull",
        "::warning file=dvc.yaml,line=2::slow",
        "::endgroup::",
        "::group::a",
        "::endgroup::",
        "::group::b",
        "::endgroup::",
    ]


def test_outside_actions_nothing_is_written(tmp_path: Path) -> None:
    log = io.StringIO()
    runner = ActionsRunner(_env(tmp_path), log=log)
    runner.set_output("run-id", "r1")
    runner.append_summary("## one")
    with runner.group("x"):
        runner.annotate(Annotation("error", "e"))
    assert log.getvalue() == ""
    assert not (tmp_path / "out").exists() and not (tmp_path / "summary.md").exists()
