"""`mlops-bot init`: write the config file and the three workflows into a repository.

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
    for item in plan:
        if item.outcome != "skip":
            _write(item, dest, actions_repo=args.actions_repo, actions_ref=args.actions_ref)
    print(describe(plan))
    return 0


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
    if item.target.parent == WORKFLOWS_TARGET:
        text = item.source.read_text(encoding="utf-8")
        target.write_text(pin_actions(text, repo=actions_repo, ref=actions_ref), encoding="utf-8")
    else:
        shutil.copyfile(item.source, target)
        shutil.copymode(item.source, target)
