"""The workflow templates as `mlops-bot init` writes them into a repository: its runners, job timeout,
default branch, promotion environment and the ref of the mlops-bot actions.

Pure text edits on lines the templates mark (`# from mlops-bot init --runner`, ...), so every comment of a
template survives and a reader of the written workflow sees where each value came from.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

DEFAULT_RUNNER = ("ubuntu-latest",)
MAX_TIMEOUT_MINUTES = 7200  # GitHub's ceiling for a self-hosted runner's job (5 days)

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA = re.compile(r"^[0-9a-f]{40}$")
# A tag or branch git accepts and YAML needs no quotes for (no `..`, no `@{`, no spaces).
_REF = re.compile(r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._/-]*$")
_REPO = re.compile(r"^[\w.-]+/[\w.-]+$")
_SIMPLE = re.compile(r"^[A-Za-z0-9][\w./-]*$")

_RUNS_ON = re.compile(r"(?m)^(?P<lead>\s*runs-on: ).*?(?P<mark> # from mlops-bot init --runner)$")
_TIMEOUT = re.compile(r"(?m)^(?P<lead>\s*timeout-minutes: )\d+(?P<mark> # from mlops-bot init --timeout)$")
_BRANCH = re.compile(r"(?m)^(?P<lead>\s*- ).*?(?P<mark> # your default branch)$")
_ENVIRONMENT = re.compile(
    r"(?m)^(?P<lead>\s*environment: ).*?(?P<mark> # promotion\.environments of the config)$"
)
# `uses: <owner>/<repo>/actions/<name>@<ref>[ # comment]`: the mlops-bot actions (others are pinned by sha).
_ACTION_USES = re.compile(
    r"(?m)^(?P<lead>\s*(?:-\s*)?uses:\s*)(?P<repo>[\w.-]+/[\w.-]+)(?P<path>/actions/[\w-]+)@\S+.*$"
)


class WorkflowOptionError(ValueError):
    """An `init` option that cannot go into a workflow; the message says what would."""


@dataclass(frozen=True)
class WorkflowOptions:
    actions_ref: str  # a release tag (`v0.4.0`) or a full commit sha
    actions_repo: str = ""  # empty keeps the templates' repository
    runner: tuple[str, ...] = DEFAULT_RUNNER
    timeout_minutes: int | None = None  # None keeps each template's own
    default_branch: str = "main"
    environment: str = "production"


def parse_runner(text: str) -> tuple[str, ...]:
    """`self-hosted,gpu` -> ("self-hosted", "gpu"): the labels a job's runner must all have."""
    labels = tuple(label.strip() for label in text.split(","))
    bad = [label for label in labels if not _LABEL.match(label)]
    if not labels or bad:
        raise WorkflowOptionError(
            f"--runner takes comma-separated runner labels such as self-hosted,gpu; not a label: "
            f"{', '.join(repr(b) for b in bad) or repr(text)}"
        )
    return labels


def check_timeout(minutes: int) -> int:
    if not 1 <= minutes <= MAX_TIMEOUT_MINUTES:
        raise WorkflowOptionError(f"--timeout is in minutes, 1 to {MAX_TIMEOUT_MINUTES}; got {minutes}")
    return minutes


def check_actions_ref(ref: str) -> str:
    if not (_SHA.match(ref) or _REF.match(ref)):
        raise WorkflowOptionError(
            f"--actions-ref must be a full 40-character commit sha or a tag such as v0.1.0, got {ref!r}"
        )
    return ref


def check_actions_repo(repo: str) -> str:
    if not _REPO.match(repo):
        raise WorkflowOptionError(f"--actions-repo must look like OWNER/REPO, got {repo!r}")
    return repo


def release_tag(version: str) -> str:
    return f"v{version}"


def render_workflow(text: str, options: WorkflowOptions) -> str:
    """A template with the repository's values on its marked lines and the actions pinned to the ref."""
    labels = options.runner
    runs_on = labels[0] if len(labels) == 1 else "[" + ", ".join(labels) + "]"
    text = _RUNS_ON.sub(lambda m: f"{m['lead']}{runs_on}{m['mark']}", text)
    if options.timeout_minutes is not None:
        text = _TIMEOUT.sub(lambda m: f"{m['lead']}{options.timeout_minutes}{m['mark']}", text)
    text = _BRANCH.sub(lambda m: f"{m['lead']}{_scalar(options.default_branch)}{m['mark']}", text)
    text = _ENVIRONMENT.sub(lambda m: f"{m['lead']}{_environment(options.environment)}{m['mark']}", text)
    return pin_actions(text, repo=options.actions_repo, ref=options.actions_ref)


def pin_actions(text: str, *, repo: str, ref: str) -> str:
    """The mlops-bot `uses:` lines pointed at `repo` (empty: unchanged) and `ref`. A sha gets a comment
    saying where it came from (what reviewers and Dependabot expect beside a hash pin)."""
    comment = " # mlops-bot init --actions-ref" if _SHA.match(ref) else ""

    def repin(match: re.Match[str]) -> str:
        return f"{match['lead']}{repo or match['repo']}{match['path']}@{ref}{comment}"

    return _ACTION_USES.sub(repin, text)


def _environment(first: str) -> str:
    """The promote job's `environment:`: the one a dispatch names (`/promote --to production`), else `first`,
    where a merge promotes. GitHub holds the job until that environment's protection rules are met."""
    if _PLAIN_ENVIRONMENT.match(first):  # safe inside a quoted expression literal
        return "${{ inputs.environment || '" + first + "' }}"
    return _scalar(first)


_PLAIN_ENVIRONMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def _scalar(value: str) -> str:
    """A YAML scalar for a branch or environment name: bare when plain, else JSON-quoted (valid YAML)."""
    return (
        value
        if _SIMPLE.match(value) and value not in {"true", "false", "null", "yes", "no"}
        else json.dumps(value)
    )
