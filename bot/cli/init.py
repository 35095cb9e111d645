"""`mlops-bot init`: write the config file and the three workflows into a repository.

In a DVC project (a `dvc.yaml` at the root) the config is proposed from the pipeline
(bot/core/project_scan.py): its models, where their metrics come from, the metrics to gate on; the command
prints what it inferred and what it could not. Elsewhere it is the commented template.
Existing files are never overwritten without `--force`; the command lists what it wrote and what it
left alone, so running it twice is safe.
"""

from __future__ import annotations

import argparse
import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from bot.resources import template_path

CONFIG_TARGET = PurePosixPath(".github/mlops-bot.yml")
WORKFLOWS_TARGET = PurePosixPath(".github/workflows")
# Build and cache leftovers are never part of a template, whatever a checkout holds.
_JUNK_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
_JUNK_SUFFIXES = frozenset({".pyc", ".pyo"})
# `uses: <repo>/actions/<name>@<ref> # <comment>` in the shipped workflow templates.
_ACTION_USES = re.compile(
    r"(?m)^(?P<lead>\s*(?:-\s*)?uses:\s*)(?P<repo>[\w.-]+/[\w.-]+)(?P<path>/actions/[\w-]+)@\S+.*$"
)
_SHA = re.compile(r"^[0-9a-f]{40}$")
_REPO = re.compile(r"^[\w.-]+/[\w.-]+$")

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
        metavar="SHA",
        help="Full commit sha of the mlops-bot actions the workflows pin (default: the templates' one).",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.cli import UserError

    dest: Path = args.dir
    if dest.exists() and not dest.is_dir():
        raise UserError(f"--dir {dest} is a file; pass the root folder of your repository")
    if args.actions_repo and not _REPO.match(args.actions_repo):
        raise UserError(f"--actions-repo must look like OWNER/REPO, got {args.actions_repo!r}")
    if args.actions_ref and not _SHA.match(args.actions_ref):
        raise UserError(
            f"--actions-ref must be a full 40-character commit sha (a tag or branch can be moved), "
            f"got {args.actions_ref!r}"
        )
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
    for item in plan:
        if item.outcome != "skip":
            _write(item, dest, actions_repo=args.actions_repo, actions_ref=args.actions_ref)
    if report:
        print(report)
    print(describe(plan))
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


def pin_actions(text: str, *, repo: str | None, ref: str | None) -> str:
    """The workflow text with its mlops-bot `uses:` lines pointed at another repository and/or commit."""
    if not repo and not ref:
        return text

    def repin(match: re.Match[str]) -> str:
        line = match.group(0)
        current_ref = line.split("@", 1)[1].split()[0]
        new_ref = ref or current_ref
        comment = "" if ref else line[line.index(current_ref) + len(current_ref) :]
        return f"{match['lead']}{repo or match['repo']}{match['path']}@{new_ref}{comment}"

    return _ACTION_USES.sub(repin, text)


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


def _write(item: PlannedFile, dest: Path, *, actions_repo: str | None, actions_ref: str | None) -> None:
    target = dest / item.target
    target.parent.mkdir(parents=True, exist_ok=True)
    if item.text is not None:
        target.write_text(item.text, encoding="utf-8")
    elif item.target.parent == WORKFLOWS_TARGET:
        text = item.source.read_text(encoding="utf-8")
        target.write_text(pin_actions(text, repo=actions_repo, ref=actions_ref), encoding="utf-8")
    else:
        shutil.copyfile(item.source, target)
        shutil.copymode(item.source, target)
