"""What the handlers need from the outside world. Adapters implement these; unit tests use fakes.

Every effect is idempotent and keyed (a comment by marker, an issue by marker, a pull by head branch,
a model version by run id), so running a job twice leaves one result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

from bot.core.config import DriftSpec, PerformanceSpec
from bot.core.dvc import Remote, ReproResult, StageFiles
from bot.core.environments import Protection
from bot.core.jobs import Step
from bot.core.models import (
    CommentRef,
    CommitFacts,
    DriftSummary,
    IssueRef,
    ModelVersion,
    Plot,
    PullFacts,
    PullRef,
    RunRecord,
)
from bot.core.monitoring import PerformanceFacts, QualityFacts
from bot.core.monitoring.served import ServedFacts
from bot.core.permissions import Permission


class RepoGitHub(Protocol):
    """One repository on GitHub, as seen through the bot's installation token."""

    full_name: str

    def beside(self) -> RepoGitHub:
        """The same repository on a connection of its own, sharing what this adapter remembers: for calls made
        while this adapter's run in another thread (one PyGithub client must not serve two at once)."""

    def default_branch(self) -> str: ...
    def clone_url(self) -> str:
        """What `git clone` takes for this repository (credentials are supplied separately, never in the URL)."""

    def read_file(self, path: str, ref: str | None = None) -> str | None:
        """Text of a file at `ref` (default branch when None); None when it does not exist."""

    def pull(self, number: int, *, approvals: bool = False) -> PullFacts:
        """The pull request; its approving reviews are counted only with `approvals` (a review listing more),
        else `approvals` is 0: ask for them wherever a gate judges approvals."""

    def commit(self, sha: str) -> CommitFacts:
        """One commit: parents, author and committer emails, message and the files it changed."""

    def permission(self, login: str) -> Permission: ...
    def react(self, comment_id: int, content: str) -> None: ...

    # No unkeyed `comment()`: every write is found by its marker first, so a retried job leaves one comment.
    def find_bot_comment(
        self, issue_number: int, marker: str, *, since: str | None = None
    ) -> CommentRef | None:
        """The bot's own comment carrying `marker`, if any. `since` (ISO 8601): no such comment can be older
        (it answers a comment made then), so only the comments since are looked through."""

    def upsert_comment(
        self, issue_number: int, marker: str, body: str, *, since: str | None = None
    ) -> CommentRef:
        """Edit the bot's comment carrying `marker`, or create it. Never two comments per marker. `since`: as
        for `find_bot_comment`."""

    def upsert_check_run(
        self,
        head_sha: str,
        name: str,
        *,
        status: str,
        conclusion: str | None = None,
        title: str = "",
        summary: str = "",
        text: str = "",
        details_url: str | None = None,
    ) -> int:
        """Create or update the check run `name` on `head_sha`; returns its id."""

    def check_conclusions(self, sha: str) -> dict[str, str]:
        """Check Run name -> conclusion (or status while running) on `sha`: what `required_checks` gates on."""

    def create_deployment(
        self, ref: str, environment: str, payload: Mapping[str, Any], description: str, *, key: str
    ) -> int:
        """A Deployment to `environment` carrying `key` in its payload; the one that already carries it, if any
        (found before creating, so a retried job makes no second one)."""

    def set_deployment_status(
        self, deployment_id: int, state: str, *, description: str = "", log_url: str = ""
    ) -> None: ...

    def environment_protection(self, name: str) -> Protection:
        """The protection rules of environment `name` (`GET /repos/{o}/{r}/environments/{name}`): required
        reviewers and wait timer; an environment GitHub does not have is unprotected (`exists` False)."""

    def upsert_issue(
        self, marker: str, title: str, body: str, labels: list[str], *, reopen: bool = True
    ) -> IssueRef:
        """Find the bot's issue carrying `marker` in its body (open first, then closed), update or create it."""

    def find_issue(self, marker: str) -> IssueRef | None: ...
    def close_issue(self, number: int) -> None: ...

    def commit_files(self, branch: str, base_ref: str, files: Mapping[str, str], message: str) -> str:
        """Put `files` on `branch` (created from `base_ref` if missing) as one commit; returns its sha."""

    def upsert_pull(self, head: str, base: str, title: str, body: str) -> PullRef:
        """The open pull request from `head`, updated; or a new one."""

    def dispatch_workflow(self, workflow: str, ref: str, inputs: Mapping[str, str]) -> None: ...


class GitHubFactory(Protocol):
    def for_repo(
        self,
        full_name: str,
        installation_id: int | None = None,
        *,
        repository: Mapping[str, Any] | None = None,
    ) -> RepoGitHub:
        """The adapter for one repository. `repository`: the webhook payload's `repository` object, whose
        `default_branch` and `clone_url` are then not read from GitHub again."""

    def forget(self, installation_id: int, repositories: Collection[str] | None = None) -> None:
        """The installation was deleted (`repositories` None) or lost those repositories: drop cached tokens."""

    def token(
        self,
        installation_id: int | None = None,
        full_name: str | None = None,
        *,
        permissions: Mapping[str, str] | None = None,
    ) -> str:
        """A token for jobs that talk to GitHub themselves (installation token, or the configured token);
        with `permissions`, an App token narrowed to `full_name` and those permissions."""


class ModelRegistry(Protocol):
    """The MLflow tracking server and model registry."""

    def run(self, run_id: str) -> RunRecord | None: ...
    def find_runs(self, model: str, tags: Mapping[str, str]) -> list[RunRecord]:
        """Finished runs of `model` whose tags include all of `tags`, newest first."""

    def version_by_alias(self, model: str, alias: str) -> ModelVersion | None: ...
    def version(self, model: str, version: str) -> ModelVersion | None: ...
    def versions(self, model: str) -> list[ModelVersion]: ...
    def register(self, model: str, run: RunRecord, tags: Mapping[str, str]) -> ModelVersion:
        """Register `run` as a version of `model`; the version already made from this run if there is one."""

    def set_alias(self, model: str, alias: str, version: str) -> None: ...
    def delete_alias(self, model: str, alias: str) -> None: ...
    def set_version_tag(self, model: str, version: str, key: str, value: str) -> None: ...
    def set_model_tag(self, model: str, key: str, value: str) -> None: ...


class ModelOwners(Protocol):
    """Which repository owns a registered model (its `mlops_bot.repo` tag), asked of the tracking server's REST
    API so the web process never imports the MLflow SDK; None when no repository claimed it."""

    def __call__(self, model: str, /) -> str | None: ...


class ModelLocks(Protocol):
    """Named locks across the bot's processes (the store's lock table): one promotion or rollback of a model at a
    time, whichever worker runs it."""

    def __call__(self, name: str, /) -> AbstractContextManager[None]: ...


class ServiceBuilder(Protocol):
    """Builds the model service (BentoML) for a registered version at a commit: (bento tag, a note for the
    reply, e.g. that no Docker daemon could containerize it)."""

    def __call__(self, version: ModelVersion, git_sha: str, /) -> tuple[str, str]: ...


class JobRunner(Protocol):
    """Where a job's steps run: the local executor (a fresh clone, each step its own process) in the embedded
    default; GitHub Actions dispatches workflows instead and needs none."""

    def run(
        self,
        job_id: str,
        *,
        clone_url: str,
        token: str,
        repo: str,
        checkout: str,
        branch: str | None,
        steps: Sequence[Step],
        files: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> list[int]:
        """Each step's exit code; raises when a checked step fails (the delivery is retried)."""

    def close(self) -> None:
        """Stop what the runner keeps between jobs (a warm, pre-imported step server)."""


class TrainingProject(Protocol):
    """What `mlops-bot train` needs of a DVC repository checked out at `root` (bot/adapters/dvc `DvcProject`):
    its pipeline, `dvc repro`, the remote, and what a run produced. Failures are the exceptions of
    bot/core/dvc.py (DvcStageError with the log tail, DvcMissingDataError, DvcRemoteError, ...), each saying
    what to do."""

    root: Path

    def stage(self, name: str) -> StageFiles:
        """What dvc.yaml declares for stage `name` and its pipeline; DvcError naming the known stages."""

    def producer(self, path: str) -> str | None:
        """The stage whose outputs hold `path`."""

    def top_level_metrics(self) -> tuple[str, ...]: ...
    def default_remote(self) -> Remote | None: ...
    def lock_text(self) -> str:
        """dvc.lock as committed or as the last repro left it; "" when there is none."""

    def has_commit(self, sha: str) -> bool:
        """Whether the clone holds commit `sha` (a shallow clone may lack the PR's base)."""

    def status(self, stage: str | None = None) -> dict[str, Any]:
        """`dvc status` of `stage` and its upstream stages; {} when up to date."""

    def pull(
        self,
        stage: str | None = None,
        *,
        rebuildable: Iterable[str] = (),
        warn: Callable[[str], None] | None = None,
    ) -> list[str]:
        """Check out `stage`'s data, fetching what the cache lacks; the `rebuildable` files still missing."""

    def repro(
        self,
        stage: str,
        *,
        targets: Iterable[str] = (),
        echo: IO[str] | None = None,
        pass_env: Iterable[str] = (),
        extra_env: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
        requirements: Path | None = None,
    ) -> ReproResult:
        """`dvc repro` of `targets` (upstream included), the repository's code run apart from the bot."""

    def push(self, stage: str | None = None) -> int: ...
    def params(self, stages: Iterable[str] | None = None, rev: str | None = None) -> dict[str, Any]: ...
    def params_diff(self, rev: str, stages: Iterable[str] | None = None) -> dict[str, dict[str, Any]]: ...
    def metrics(self, paths: Iterable[str], rev: str | None = None) -> dict[str, float]: ...
    def plots(self, stages: Iterable[str], *, top_level: bool, named: Iterable[str] = ()) -> list[Plot]: ...
    def lock_hash(self) -> str: ...
    def output_md5(self, stage: str, path: str) -> str:
        """The md5 dvc.lock records for output `path` of `stage` (the model's identity); "" when absent."""

    def input_md5s(self, stages: str | Sequence[str], extra: Iterable[str] = ()) -> dict[str, str]: ...
    def close(self) -> None: ...


class OpenProject(Protocol):
    """Opens the DVC repository checked out at a folder; DvcError when it is not one."""

    def __call__(self, root: Path, /) -> TrainingProject: ...


Table = TypeVar("Table")
Predict = Callable[[Any], Any]  # the champion: a table of inputs -> its predictions


class DriftChecks(Protocol[Table]):
    """What the scheduled drift check needs of its data and of Evidently (bot/adapters/evidently
    `EvidentlyChecks`, whose tables are pandas DataFrames: the job only hands them back). A user's mistake is a
    DriftDataError or DriftConfigError (bot/core/drift_values.py) naming the file, the column and the fix."""

    def reference(self, root: Path, path: str, rev: str) -> Table:
        """The training data at `path` as git revision `rev` had it (through DVC when it tracks it)."""

    def current(
        self, drift: DriftSpec, *, root: Path, model: str, now: dt.datetime, label: str | None
    ) -> tuple[Table, ServedFacts | None]:
        """The check's current data (`drift.current`, or what the service served), and what was served."""

    def rows(self, table: Table) -> int: ...
    def quality(
        self, reference: Table, current: Table, drift: DriftSpec, *, label: str | None
    ) -> QualityFacts: ...
    def drift(
        self,
        reference: Table,
        current: Table,
        drift: DriftSpec,
        *,
        model: str,
        out_dir: Path,
        leave_out: Sequence[str] = (),
    ) -> DriftSummary:
        """Evidently's drift report of the columns both tables share but `leave_out`; writes its HTML and JSON
        to `out_dir`."""

    def performance(
        self, current: Table, spec: PerformanceSpec, predict: Predict | None, *, unavailable: str
    ) -> PerformanceFacts:
        """`predict` (the champion; None: say `unavailable`) scored on the labelled rows of `current`."""

    def record_check(self, drift: DriftSpec, served: ServedFacts, *, root: Path, model: str) -> None:
        """Remember a finished check of served traffic: `since-last-check` starts there next time."""
