"""GitHub Actions' workflow commands, as text: annotations, log groups, step outputs.

Pure formatting; bot/adapters/actions_runner.py writes the text where the runner reads it. The escaping
follows the runner's rules (actions/toolkit `command.ts`): a message escapes `%`, `\\r` and `\\n`; a property
(`file=`, `title=`) also `:` and `,`, which would otherwise end it.
https://docs.github.com/actions/reference/workflow-commands-for-github-actions
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Level = Literal["error", "warning", "notice"]

_CONFIG_LINE = re.compile(r"^line (?P<line>\d+): (?P<message>.*)$", re.S)
_FAILED_STAGE = re.compile(r"stage '(?P<stage>[^']+)' failed")


def escape_data(text: str) -> str:
    """A command's message: `%` first, so the escapes themselves are not escaped again."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A command's property value (`file=`, `title=`)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass(frozen=True)
class Annotation:
    """One `::error` / `::warning` / `::notice` line; with `file` and `line` it is shown on that line of the
    file in the pull request's diff and the run's summary."""

    level: Level
    message: str
    file: str = ""
    line: int | None = None
    title: str = ""

    def command(self) -> str:
        props = []
        if self.file:
            props.append(f"file={escape_property(self.file)}")
            if self.line is not None:
                props.append(f"line={self.line}")
        if self.title:
            props.append(f"title={escape_property(self.title)}")
        head = f"::{self.level} {','.join(props)}" if props else f"::{self.level}"
        return f"{head}::{escape_data(self.message)}"


def group_start(title: str) -> str:
    return f"::group::{escape_data(title)}"


GROUP_END = "::endgroup::"


def output_entry(name: str, value: str, *, delimiter: str) -> str:
    """One `$GITHUB_OUTPUT` entry. A value with a line break takes the heredoc form, whose `delimiter`
    (random, from the caller) must not occur in the value, or the value could set other outputs."""
    if not re.fullmatch(r"[A-Za-z_][\w-]*", name):
        raise ValueError(f"not an output name: {name!r}")
    if "\n" not in value and "\r" not in value:
        return f"{name}={value}\n"
    if delimiter in value:
        raise ValueError("the output delimiter occurs in the value")
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def config_error_annotations(path: str, problems: list[str]) -> list[Annotation]:
    """The annotations of a config that does not load (bot/core/config.py's ConfigError: each problem
    starts with `line N: ` when the loader knows the line)."""
    notes = []
    for problem in problems:
        match = _CONFIG_LINE.match(problem)
        if match:
            notes.append(
                Annotation(
                    "error", match["message"], file=path, line=int(match["line"]), title="mlops-bot config"
                )
            )
        else:
            notes.append(Annotation("error", problem, file=path, title="mlops-bot config"))
    return notes


def failed_stage(error: str, default: str) -> str:
    """The stage a training error names (`stage 'prepare' failed ...`), else the model's own stage."""
    match = _FAILED_STAGE.search(error)
    return match["stage"] if match else default


def stage_line(dvc_yaml: str, stage: str) -> int | None:
    """1-based line of `stage` under `stages:` in a dvc.yaml text; None when it is not there."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        data = YAML().load(dvc_yaml)
    except YAMLError:
        return None
    stages = data.get("stages") if hasattr(data, "get") else None
    if stages is None or not hasattr(stages, "lc") or stage not in stages:
        return None
    line: int = stages.lc.key(stage)[0] + 1
    return line


def key_line(yaml_text: str, path: tuple[str | int, ...]) -> int | None:
    """1-based line of the deepest key of `path` found in a YAML text (a gate's metric in the config)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        node = YAML().load(yaml_text)
    except YAMLError:
        return None
    line = None
    for part in path:
        lc = getattr(node, "lc", None)
        try:
            if lc is None:
                return line
            line = (lc.item(part) if isinstance(part, int) else lc.key(part))[0] + 1
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return line
    return line


def gate_annotation(
    config_text: str,
    config_path: str,
    models: list[tuple[str, list[str]]],
    model: str,
    metric: str,
    reason: str,
) -> Annotation:
    """A failed gate as a warning on the config line of its metric (`models` is the config's (model, metric
    names) in file order); the model's line when the gate is not a metric's (approvals, checks)."""
    path: tuple[str | int, ...] = ()
    for i, (name, metrics) in enumerate(models):
        if name == model:
            path = ("models", i, "metrics", metrics.index(metric)) if metric in metrics else ("models", i)
    line = key_line(config_text, path) if path else None
    return Annotation(
        "warning", f"{model}: {reason}", file=config_path, line=line, title=f"mlops-bot gate: {model}"
    )
