"""`mlops-bot init`: write the config file and the three workflows into a repository.

In a DVC project (a `dvc.yaml` at the root) the config is proposed from the pipeline
(bot/core/project_scan.py): its models, where their metrics come from, the metrics to gate on; the command
prints what it inferred and what it could not. Elsewhere it is the commented template.
Existing files are never overwritten without `--force`; the command lists what it wrote and what it
left alone, so running it twice is safe.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from bot import __version__
from bot.core.workflows import (
    WorkflowOptionError,
    WorkflowOptions,
    check_actions_ref,
    check_actions_repo,
    check_timeout,
    parse_runner,
    release_tag,
    render_workflow,
)
from bot.resources import template_path

CONFIG_TARGET = PurePosixPath(".github/mlops-bot.yml")
WORKFLOWS_TARGET = PurePosixPath(".github/workflows")
# Build and cache leftovers are never part of a template, whatever a checkout holds.
_JUNK_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
_JUNK_SUFFIXES = frozenset({".pyc", ".pyo"})

Outcome = Literal["write", "overwrite", "skip"]


@dataclass(frozen=True)
class PlannedFile:
    """One file `init` would write: where it comes from, where it goes (relative), what happens to it."""

    source: Path
    target: PurePosixPath
    outcome: Outcome
    text: str | None = None  # written instead of `source` (the config proposed from dvc.yaml)


# A project's own environment, in the order a newcomer would look (the stages run in a venv built from it).
REQUIREMENTS_FILES = ("requirements.txt", "requirements/train.txt")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "init",
        help="Write .github/mlops-bot.yml and the train/promote/drift workflows into a repository.",
        description=(
            "Write .github/mlops-bot.yml and the mlops-bot workflows (train on PRs, promote on merge, "
            "daily drift check) into a repository. Existing files are kept unless --force is given."
        ),
    )
    p.add_argument("--dir", default=".", type=Path, help="Repository root to write into (default: .).")
    p.add_argument("--force", action="store_true", help="Overwrite files that already exist.")
    p.add_argument(
        "--template",
        action="store_true",
        help="Write the commented generic config even in a DVC project (default: proposed from dvc.yaml).",
    )
    p.add_argument(
        "--sample",
        action="store_true",
        help="Also write a small sample DVC project (breast-cancer classifier).",
    )
    p.add_argument(
        "--actions-repo",
        metavar="OWNER/REPO",
        help="Repository the workflows take the mlops-bot actions from (default: the templates' one).",
    )
    p.add_argument(
        "--actions-ref",
        metavar="REF",
        help="Commit sha (or tag) of the mlops-bot actions the workflows pin (default: the release tag of "
        f"this mlops-bot, {release_tag(__version__)}).",
    )
    p.add_argument(
        "--runner",
        metavar="LABELS",
        help="Comma-separated runner labels every job runs on, e.g. self-hosted,gpu (default: ubuntu-latest).",
    )
    p.add_argument(
        "--timeout",
        type=int,
        metavar="MINUTES",
        help="timeout-minutes of the training, promotion and drift jobs (default: the templates' 60/30/60).",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.cli import UserError

    dest: Path = args.dir
    if dest.exists() and not dest.is_dir():
        raise UserError(f"--dir {dest} is a file; pass the root folder of your repository")
    try:
        options = WorkflowOptions(
            actions_ref=check_actions_ref(args.actions_ref or release_tag(__version__)),
            actions_repo=check_actions_repo(args.actions_repo) if args.actions_repo else "",
            runner=parse_runner(args.runner) if args.runner is not None else ("ubuntu-latest",),
            timeout_minutes=check_timeout(args.timeout) if args.timeout is not None else None,
        )
    except WorkflowOptionError as exc:
        raise UserError(str(exc)) from exc
    try:
        sources = template_sources(sample=args.sample)
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from exc

    plan = plan_files(sources, dest, force=args.force)
    report = ""
    if not args.sample and not args.template and (dest / "dvc.yaml").is_file():
        text, report = proposed_config(dest)
        plan = [
            PlannedFile(item.source, item.target, item.outcome, text)
            if item.target == CONFIG_TARGET
            else item
            for item in plan
        ]
    options = dataclasses.replace(
        options, default_branch=default_branch(dest), environment=_promotion_environment(plan, dest)
    )
    for item in plan:
        if item.outcome != "skip":
            _write(item, dest, options)
    if report:
        print(report)
    print(describe(plan))
    if any(i.target.parent == WORKFLOWS_TARGET and i.outcome != "skip" for i in plan):
        print(
            f"Workflows: jobs run on {','.join(options.runner)}; merges to {options.default_branch} promote "
            f"(environment {options.environment}); mlops-bot actions at {options.actions_ref}."
        )
    return 0


def proposed_config(root: Path) -> tuple[str, str]:
    """The config proposed from `root`'s dvc.yaml, and the report of what was inferred and what was not.
    The proposal is validated as the bot will read it; a proposal that does not load is a bug, said so."""
    from bot.cli import UserError
    from bot.cli.config import read_dvc_yaml, read_metrics_files
    from bot.core.config import ConfigError, load_config
    from bot.core.project_scan import ScanError, propose, read_pipeline, render_config

    dvc_yaml = read_dvc_yaml(root)
    try:
        files = read_pipeline(dvc_yaml).all_metric_files()
        proposal = propose(
            dvc_yaml,
            project_name=root.resolve().name,
            lock=_committed_lock(root),
            metrics=read_metrics_files(root, files),
            requirements=next((f for f in REQUIREMENTS_FILES if (root / f).is_file()), ""),
        )
    except ScanError as exc:
        raise UserError(f"{exc}; pass --template to write the generic config instead") from exc
    text = render_config(proposal)
    try:
        load_config(text, str(CONFIG_TARGET))
    except ConfigError as exc:  # pragma: no cover - a defect of project_scan, not of the user's project
        raise UserError(f"the config proposed from dvc.yaml does not load: {exc}; pass --template") from exc
    lines = ["From dvc.yaml:"]
    lines += [f"  found     {line}" for line in proposal.inferred]
    lines += [f"  not found {line}" for line in proposal.missing]
    return text, "\n".join(lines)


def _committed_lock(root: Path) -> dict[str, object] | None:
    """dvc.lock as last committed (the outputs it pins are what the workspace's metrics files describe)."""
    import subprocess

    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        done = subprocess.run(
            ["git", "show", "HEAD:dvc.lock"], cwd=root, capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    if done.returncode != 0:
        return None
    try:
        data = YAML(typ="safe").load(done.stdout)
    except YAMLError:
        return None
    return data if isinstance(data, dict) else None


def template_sources(*, sample: bool) -> dict[PurePosixPath, Path]:
    """Target path (relative to the repository root) -> template file. The sample project's own config
    replaces the generic one, because it names the sample's model."""
    config = template_path("config", "mlops-bot.yml")
    workflows = template_path("workflows")
    if not config.is_file() or not workflows.is_dir():
        raise FileNotFoundError(
            "mlops-bot's config and workflow templates are missing; reinstall the package"
        )
    sources: dict[PurePosixPath, Path] = {CONFIG_TARGET: config}
    for workflow in sorted(workflows.glob("*.yml")):
        sources[WORKFLOWS_TARGET / workflow.name] = workflow
    if sample:
        project = template_path("project")
        files = _tree(project) if project.is_dir() else {}
        if not files:
            raise FileNotFoundError(
                "this installation of mlops-bot ships no sample project (templates/project)"
            )
        sources.update(files)
    return dict(sorted(sources.items()))


def plan_files(sources: dict[PurePosixPath, Path], dest: Path, *, force: bool) -> list[PlannedFile]:
    """What happens to each file: written when new, overwritten only with --force, skipped otherwise."""
    plan = []
    for target, source in sources.items():
        exists = (dest / target).exists()
        outcome: Outcome = "write" if not exists else ("overwrite" if force else "skip")
        plan.append(PlannedFile(source=source, target=target, outcome=outcome))
    return plan


def default_branch(root: Path) -> str:
    """The branch the promote workflow watches: origin's default branch (`origin/HEAD`), else the branch
    checked out, else `main`."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
        except OSError:
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    if not root.is_dir():
        return "main"
    remote = git("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD")
    if remote.startswith("refs/remotes/origin/"):
        return remote.removeprefix("refs/remotes/origin/")
    return git("symbolic-ref", "--quiet", "--short", "HEAD") or "main"


def _promotion_environment(plan: list[PlannedFile], dest: Path) -> str:
    """The first of `promotion.environments` of the config the repository will have (written now, or kept):
    where a merge promotes."""
    from bot.core.config import ConfigError, load_config

    item = next((i for i in plan if i.target == CONFIG_TARGET), None)
    if item is None:
        return "production"
    if item.outcome == "skip":
        text = (dest / CONFIG_TARGET).read_text(encoding="utf-8")
    else:
        text = item.text if item.text is not None else item.source.read_text(encoding="utf-8")
    try:
        return load_config(text, str(CONFIG_TARGET)).promotion.environments[0]
    except ConfigError:  # a kept config that does not load: `mlops-bot config check` says why
        return "production"


def describe(plan: list[PlannedFile]) -> str:
    verbs = {"write": "wrote     ", "overwrite": "overwrote ", "skip": "skipped   "}
    lines = [f"{verbs[item.outcome]}{item.target}" for item in plan]
    skipped = sum(item.outcome == "skip" for item in plan)
    if skipped:
        lines.append(
            f"{skipped} file(s) already existed and were kept; run again with --force to overwrite them."
        )
    lines.append(
        f"Next: edit {CONFIG_TARGET} for your models, set the MLFLOW_TRACKING_URI variable in the "
        "repository's Actions settings, and commit the new files."
    )
    return "\n".join(lines)


def _tree(root: Path) -> dict[PurePosixPath, Path]:
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not (_JUNK_PARTS & set(rel.parts)) and path.suffix not in _JUNK_SUFFIXES:
            files[PurePosixPath(rel.as_posix())] = path
    return files


def _write(item: PlannedFile, dest: Path, options: WorkflowOptions) -> None:
    target = dest / item.target
    target.parent.mkdir(parents=True, exist_ok=True)
    if item.text is not None:
        target.write_text(item.text, encoding="utf-8")
    elif item.target.parent == WORKFLOWS_TARGET:
        text = item.source.read_text(encoding="utf-8")
        target.write_text(render_workflow(text, options), encoding="utf-8")
    else:
        shutil.copyfile(item.source, target)
        shutil.copymode(item.source, target)
