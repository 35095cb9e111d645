"""`mlops-bot train`: reproduce a model's DVC stage in a checkout of the PR head and log it to MLflow.

The training code never needs to know about MLflow: params, metrics and plots are read through DVC and
logged here. They may come from the model's stage or from later ones (the common `train` -> `evaluate`
layout, dvc.yaml's top-level `metrics:`/`plots:`); training reproduces every stage that produces them. A run is identified by the DVC hash of the model output, so a push that changes nothing
(the bot's own dvc.lock commit, a README edit) finds the run it already has instead of training again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from bot.adapters.mlflow import ModelLogError
from bot.core.config import ModelSpec, RepoConfig
from bot.core.dvc import (
    LOCK_FILE,
    DvcError,
    DvcMetricsError,
    DvcMissingDataError,
    DvcRemoteError,
    DvcStageError,
    StageFiles,
)
from bot.core.models import RunRecord, TrainResult, train_result_from_dict
from bot.core.tags import RunTags
from bot.jobs.common import open_dvc_project
from bot.jobs.train_evaluation import compare_on_production, compare_with_champion
from bot.jobs.train_sources import read_facts, resolve_sources, run_artifacts
from bot.ports import OpenProject, TrainingProject

if TYPE_CHECKING:
    from bot.adapters.mlflow import MlflowRegistry


@dataclass(frozen=True)
class TrainContext:
    """Where the training happens: the repository, the PR and its commits, the CI run that does it."""

    repo: str
    pr: int | None
    head_sha: str
    base_sha: str
    base_ref: str
    ci_url: str = ""


class TrainSetupError(Exception):
    """Training cannot start (unknown model, not a DVC repo); the message says what to fix."""


def train(
    workdir: Path,
    config: RepoConfig,
    *,
    model: str | None,
    context: TrainContext,
    registry: MlflowRegistry,
    push: bool = True,
    echo: IO[str] | None = None,
    phase: Callable[[str, str], None] | None = None,
    open_project: OpenProject = open_dvc_project,
) -> list[TrainResult]:
    """Train `model` (every configured model when None) in `workdir`, a full clone at the PR head.

    One result per model; a failing stage gives `ok=False` with the error and the end of its log, never
    an exception. `echo` receives DVC's output as it runs (the CLI passes stderr); `phase(model, name)` is
    called as each phase starts (pull, repro, log, push), for the log groups of an Actions run.
    `open_project` opens the checkout (DVC; a test passes a fake).
    """
    specs = _models(config, model)
    workdir = Path(workdir)
    try:
        project = open_project(workdir)
    except DvcError as exc:
        raise TrainSetupError(str(exc)) from exc
    base_rev = context.base_sha if context.base_sha and project.has_commit(context.base_sha) else ""
    if context.base_sha and not base_rev:
        _say(
            echo,
            f"base commit {context.base_sha[:12]} is not in this clone (clone with full history, e.g. "
            "actions/checkout fetch-depth: 0); the card will have no base comparison",
        )
    with contextlib.closing(project):
        return [
            _train_one(
                project,
                spec,
                config,
                context,
                registry,
                base_rev=base_rev,
                push=push,
                echo=echo,
                phase=functools.partial(phase, spec.name) if phase else _no_phase,
            )
            for spec in specs
        ]


def _train_one(  # noqa: C901  (the phases in order, each with its failure: pull, repro, log, push)
    project: TrainingProject,
    spec: ModelSpec,
    config: RepoConfig,
    context: TrainContext,
    registry: MlflowRegistry,
    *,
    base_rev: str,
    push: bool,
    echo: IO[str] | None,
    phase: Callable[[str], None],
) -> TrainResult:
    started = time.perf_counter()

    def failed(error: str, log_tail: str = "", *, before_stage: bool = False) -> TrainResult:
        return TrainResult(
            model=spec.name,
            run=None,
            reused=False,
            ok=False,
            error=error,
            log_tail=log_tail,
            duration_s=round(time.perf_counter() - started, 3),
            failed_before_stage=before_stage,
        )

    pull_warning: list[str] = []  # the remote could not be used: the last (widest) pull's line only

    def remote_unusable(line: str) -> None:
        pull_warning[:] = [line]

    try:
        stage = project.stage(spec.stage)
        if spec.output not in stage.outs:
            return failed(_not_an_output(project, spec, stage))
        sources = resolve_sources(project, spec, stage)
        remote = project.default_remote()
        # Only what the cache lacks is fetched; the checkout also replaces what a failed run left behind.
        # Without a remote the workspace is left as it is: the stages rebuild what is stale.
        if remote is not None and project.lock_text():  # no lock: nothing was ever pushed
            phase("pull")
            for target in sources.stages:
                rebuildable = project.stage(target).pipeline_outs
                rebuilt = project.pull(target, rebuildable=rebuildable, warn=remote_unusable)
                if rebuilt:
                    _say(echo, f"not on the DVC remote yet, the stage will rebuild: {', '.join(rebuilt)}")
        dirty = any(project.status(target) for target in sources.stages)
        # mlflow and scikit-learn take seconds to import: do it while `dvc repro` runs in its child process.
        warm = _background(registry.warm_up) if dirty else None
        ran: tuple[str, ...] = ()
        if dirty:
            phase("repro")
            ran = project.repro(
                spec.stage,
                targets=sources.stages,
                echo=echo,
                pass_env=config.training.pass_env,
                extra_env=config.training.env,
                timeout_s=config.training.timeout_seconds(),
                requirements=project.root / config.training.python if config.training.python else None,
            ).ran
        else:
            _say(echo, f"{_stages_text(sources.stages)} and their inputs are unchanged; nothing to reproduce")
        if warm is not None:
            warm.join()
        output_hash = project.output_md5(spec.stage, spec.output)
        if not output_hash:
            return failed(
                f"dvc.lock has no output {spec.output} for stage '{spec.stage}': check `output` of model "
                f"{spec.name} in the config against the stage's `outs` in dvc.yaml"
            )
        facts = read_facts(project, spec, stage, sources, base_rev)
        phase("log")
        reused = _reusable_run(registry, spec.name, output_hash) if not ran else None
        if reused is not None:
            run = _mark_reused(registry, reused, context)
        else:
            run = registry.log_training_run(
                experiment=config.mlflow_experiment,
                model=spec.name,
                run_name=_run_name(spec.name, context),
                params=facts.params,
                metrics=facts.metrics,
                tags={
                    **_run_tags(spec.name, context, output_hash, project.lock_hash()),
                    RunTags.TRAINED_SECONDS: f"{time.perf_counter() - started:.3f}",
                },
                artifacts=run_artifacts(project.root, stage, sources, facts.plots),
                model_file=project.root / spec.output,
                example_data=_example_data(project.root, spec),
            )
    except DvcStageError as exc:
        return failed(str(exc), exc.log_tail)
    except DvcMetricsError as exc:
        return failed(str(exc))
    except (DvcRemoteError, DvcMissingDataError) as exc:  # the pull, before any stage ran
        return failed(str(exc), before_stage=True)
    except DvcError as exc:
        return failed(str(exc))
    except ModelLogError as exc:
        return failed(str(exc))
    same_data = compare_with_champion(project.root, spec, config, registry, run, echo=echo)
    production = compare_on_production(
        project.root, spec, config, registry, run, base_rev=base_rev, echo=echo
    )
    # After the run is logged: a remote that cannot take the data is a warning, never a failed training.
    if push and remote is not None:
        phase("push")
    warnings = pull_warning + (_push(project, sources.stages, echo) if push and remote is not None else [])
    return TrainResult(
        model=spec.name,
        run=run,
        reused=reused is not None,
        ok=True,
        output_hash=output_hash,
        dvc_lock_hash=project.lock_hash(),
        metrics=facts.metrics,
        params=facts.params,
        params_diff=facts.params_diff,
        base_metrics=facts.base_metrics,
        plots=facts.plots,
        lineage=facts.lineage,
        duration_s=round(time.perf_counter() - started, 3),
        warnings=warnings,
        reproduced=bool(ran),
        stages=list(sources.stages),
        trained_duration_s=_trained_seconds(run) if reused is not None else 0.0,
        same_data=same_data,
        production=production,
    )


def _push(project: TrainingProject, stages: Sequence[str], echo: IO[str] | None) -> list[str]:
    for target in stages:
        try:
            project.push(target)
        except DvcError as exc:
            warning = f"the model is logged, but its data is not on the DVC remote: {exc}"
            _say(echo, warning)
            return [warning]  # the remote is the same for every stage: one warning says it
    return []


def _trained_seconds(run: RunRecord) -> float:
    try:
        return float(run.tags.get(RunTags.TRAINED_SECONDS, "0"))
    except ValueError:
        return 0.0


def _not_an_output(project: TrainingProject, spec: ModelSpec, stage: StageFiles) -> str:
    producer = project.producer(spec.output)
    where = f"it is an output of stage '{producer}'" if producer else "no stage in dvc.yaml outputs it"
    fix = (
        f"set `stage: {producer}` and, for metrics written by '{stage.name}', `metrics_from: [{stage.name}]`"
        if producer
        else f"check `output` of model {spec.name} against the `outs` in dvc.yaml"
    )
    return f"{spec.output} is not an output of stage '{stage.name}' ({where}): {fix}"


def _stages_text(stages: Sequence[str]) -> str:
    names = ", ".join(f"'{s}'" for s in stages)
    return f"stage {names}" if len(stages) == 1 else f"stages {names}"


def _reusable_run(registry: MlflowRegistry, model: str, output_hash: str) -> RunRecord | None:
    from bot.core.tags import RunTags

    runs = registry.find_runs(model, {RunTags.OUTPUT_HASH: output_hash})
    return runs[0] if runs else None


def _mark_reused(registry: MlflowRegistry, run: RunRecord, context: TrainContext) -> RunRecord:
    """Point the run's head sha at this commit, so a lookup by the PR's newest head finds it."""
    from bot.core.tags import RunTags

    if not context.head_sha or run.tags.get(RunTags.HEAD_SHA) == context.head_sha:
        return run
    registry.tag_run(run.run_id, {RunTags.HEAD_SHA: context.head_sha})
    return dataclasses.replace(run, tags={**run.tags, RunTags.HEAD_SHA: context.head_sha})


def _run_tags(model: str, context: TrainContext, output_hash: str, lock_hash: str) -> dict[str, str]:
    from bot.core.tags import RunTags

    tags = {
        RunTags.MODEL: model,
        RunTags.REPO: context.repo,
        RunTags.PR: str(context.pr) if context.pr is not None else "",
        RunTags.HEAD_SHA: context.head_sha,
        RunTags.TRAINED_SHA: context.head_sha,
        RunTags.BASE_SHA: context.base_sha,
        RunTags.DVC_LOCK_HASH: lock_hash,
        RunTags.OUTPUT_HASH: output_hash,
        RunTags.CI_URL: context.ci_url,
        "mlflow.source.git.commit": context.head_sha,  # shown by the MLflow UI next to the run
    }
    return {k: v for k, v in tags.items() if v}


def _run_name(model: str, context: TrainContext) -> str:
    where = f"pr-{context.pr}" if context.pr is not None else (context.base_ref or "train")
    return f"{model} {where} {context.head_sha[:7]}".strip()


def _example_data(root: Path, spec: ModelSpec) -> Path | None:
    for rel in spec.training_data:
        if (root / rel).is_file() and rel.endswith((".csv", ".parquet")):
            return root / rel
    return None


def _models(config: RepoConfig, name: str | None) -> list[ModelSpec]:
    if not config.models:
        raise TrainSetupError("the config lists no models; add one under `models:` in .github/mlops-bot.yml")
    if name is None:
        return list(config.models)
    spec = config.model(name)
    if spec is None:
        known = ", ".join(m.name for m in config.models)
        raise TrainSetupError(f"unknown model {name!r}; configured models: {known}")
    return [spec]


def _background(target: Any) -> threading.Thread:
    """Run `target` in a daemon thread, ignoring its errors: the same call made later raises them properly."""

    def quietly() -> None:
        with contextlib.suppress(Exception):  # the real call after join() reports the problem
            target()

    thread = threading.Thread(target=quietly, name="mlops-bot-warm-up", daemon=True)
    thread.start()
    return thread


def _no_phase(name: str) -> None:
    pass


def _say(echo: IO[str] | None, message: str) -> None:
    if echo is not None:
        echo.write(f"mlops-bot train: {message}\n")
        echo.flush()


# -- what merges is what was trained ---------------------------------------------------------------


def commit_lock_if_changed(workdir: Path, branch: str, message: str) -> str | None:
    """Commit dvc.lock as mlops-bot and push it to `origin/<branch>`; the new sha, or None when unchanged.

    The merged dvc.lock then names the model that was trained, whatever the merge method.
    """
    from bot.adapters.dvc import run_git  # git itself, at the CLI's request after the training

    workdir = Path(workdir)
    if not (workdir / LOCK_FILE).is_file():
        return None
    run_git(workdir, "add", "--", LOCK_FILE)
    staged = run_git(workdir, "diff", "--cached", "--name-only", "--", LOCK_FILE).strip()
    if not staged:
        return None
    run_git(workdir, "commit", "-q", "-m", message, "--", LOCK_FILE, as_bot=True)
    sha = run_git(workdir, "rev-parse", "HEAD").strip()
    run_git(workdir, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
    return sha


def on_lock_commit(registry: MlflowRegistry, results: Sequence[TrainResult], sha: str) -> list[TrainResult]:
    """The trained runs now stand for the lock commit `sha` too: it is the PR's head, where the card goes and
    where `/card` looks for them. The push of it is not trained again (bot/core/pushes.py)."""
    for result in results:
        if result.run is not None:
            registry.tag_run(result.run.run_id, {RunTags.HEAD_SHA: sha})
    return [dataclasses.replace(r, lock_commit=sha) for r in results]


# -- the JSON `mlops-bot train --json` writes and `mlops-bot card --results` reads -----------------


def results_to_json(results: Sequence[TrainResult]) -> str:
    return json.dumps([dataclasses.asdict(r) for r in results], indent=2, default=str) + "\n"


def results_from_json(text: str) -> list[TrainResult]:
    raw = json.loads(text)
    items: Iterable[dict[str, Any]] = raw if isinstance(raw, list) else [raw]
    return [train_result_from_dict(item) for item in items]
