"""`mlops-bot config check [PATH]` and `mlops-bot config schema`.

`check` validates a repository config the way the bot will read it (exit 0 with a one-line summary, or exit 1
with each problem and its line), then, in a DVC project (the config's repository, or `--repo-dir`), against the
project itself (bot/core/project_scan): stages, outputs, gated metrics, drift paths; a mismatch exits 2,
one line each. `schema` prints the JSON Schema, for editors and CI.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.core.config import (
    CONFIG_PATH,
    ConfigError,
    RepoConfig,
    config_schema,
    line_of,  # the loader's own key -> line lookup, so messages read the same
    load_config,
)


def register(sub: Any) -> None:
    p = sub.add_parser("config", help="check a repository config, or print its JSON Schema")
    actions = p.add_subparsers(dest="config_command", metavar="ACTION")
    check = actions.add_parser("check", help=f"validate a config file (default {CONFIG_PATH})")
    check.add_argument("path", nargs="?", default=CONFIG_PATH, help=f"config file (default: {CONFIG_PATH})")
    check.add_argument(
        "--repo-dir",
        type=Path,
        help="DVC project to check the config against (default: the config's repository, when it has a dvc.yaml)",
    )
    check.set_defaults(func=run_check)
    schema = actions.add_parser("schema", help="print the config's JSON Schema")
    schema.set_defaults(func=run_schema)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_check(args: argparse.Namespace) -> int:
    path = Path(args.path)
    shown = str(args.path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        print(f"{shown}: no such file (the bot reads {CONFIG_PATH} on the default branch)", file=sys.stderr)
        return 1
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{shown}: cannot read it: {exc}", file=sys.stderr)
        return 1
    try:
        config = load_config(text, shown)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{shown}: {problem}", file=sys.stderr)
        count = len(exc.problems)
        print(
            f"{shown}: {count} problem{'s' if count != 1 else ''}; the bot will not act on this config",
            file=sys.stderr,
        )
        return 1
    problems = _template_problems(config, path)
    if problems:
        for problem in problems:
            print(f"{shown}: {problem}", file=sys.stderr)
        return 1
    root = _project_root(path, getattr(args, "repo_dir", None))
    checked = ""
    if root is not None:
        errors, warnings = _project_problems(config, text, root)
        for line in warnings:
            print(f"{shown}: warning: {line}", file=sys.stderr)
        if errors:
            for line in errors:
                print(f"{shown}: {line}", file=sys.stderr)
            count = len(errors)
            print(
                f"{shown}: {count} mismatch{'es' if count != 1 else ''} with the DVC project in {root}",
                file=sys.stderr,
            )
            return 2
        checked = "; matches dvc.yaml"
    print(f"{shown}: ok — {summary(config)}{checked}")
    return 0


def _project_root(config_path: Path, repo_dir: Path | None) -> Path | None:
    """The DVC project to check against: `--repo-dir` (which must be one), else the config's repository
    when it has a dvc.yaml, else none (the check is of the file alone)."""
    from bot.cli import UserError

    if repo_dir is not None:
        if not (repo_dir / "dvc.yaml").is_file():
            raise UserError(f"--repo-dir {repo_dir}: no dvc.yaml there")
        return repo_dir
    root = config_path.resolve().parent
    if root.name == ".github":
        root = root.parent
    return root if (root / "dvc.yaml").is_file() else None


def _project_problems(config: RepoConfig, text: str, root: Path) -> tuple[list[str], list[str]]:
    """Mismatches between the config and the project (errors, warnings), in the loader's style."""
    from bot.cli import UserError
    from bot.core.project_scan import (
        ProjectFacts,
        ScanError,
        check_against_project,
        metric_files_to_read,
    )

    dvc_yaml = read_dvc_yaml(root)
    resolved = root.resolve()

    def exists(rel: str) -> bool:
        target = (root / rel).resolve()
        return target.is_relative_to(resolved) and target.exists()

    try:
        files = metric_files_to_read(dvc_yaml, config)
        problems = check_against_project(
            config, ProjectFacts(dvc_yaml=dvc_yaml, metrics=read_metrics_files(root, files), exists=exists)
        )
    except ScanError as exc:
        raise UserError(str(exc)) from exc
    tree = _config_tree(text)
    errors: list[str] = []
    warnings: list[str] = []
    for problem in problems:
        line = line_of(tree, problem.loc) if tree is not None else None
        where = f"line {line}: " if line else ""
        (errors if problem.error else warnings).append(f"{where}{problem.key}: {problem.message}")
    return errors, warnings


def _config_tree(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="rt").load(text)  # already loaded once by load_config: it parses


def read_dvc_yaml(root: Path) -> dict[str, Any]:
    """`root`/dvc.yaml parsed; UserError (one line) when it is missing or not YAML."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from bot.cli import UserError

    path = root / "dvc.yaml"
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UserError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read it: {exc}") from exc
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise UserError(f"{path}: {where}not valid YAML") from exc
    if not isinstance(data, dict):
        raise UserError(f"{path}: the top level must be a mapping (stages:, metrics:, plots:)")
    return data


def read_metrics_files(root: Path, paths: list[str]) -> dict[str, Any]:
    """The metrics files of `paths` that exist under `root`, parsed (JSON or YAML); others are left out."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    found: dict[str, Any] = {}
    resolved = root.resolve()
    for rel in paths:
        path = (root / rel).resolve()
        if not path.is_relative_to(resolved) or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".json":
                found[rel] = json.loads(text)
            elif path.suffix in (".yaml", ".yml"):
                found[rel] = YAML(typ="safe").load(text)
        except (OSError, UnicodeDecodeError, ValueError, YAMLError):
            continue  # unreadable: treated as absent, and the check says it could not be checked
    return found


def summary(config: RepoConfig) -> str:
    """One line saying what the bot will do with this config."""
    names = ", ".join(m.name for m in config.models)
    models = f"{len(config.models)} model{'s' if len(config.models) != 1 else ''}" + (
        f" ({names})" if names else ""
    )
    gated = sum(len(m.metrics) for m in config.models)
    drift = sum(1 for m in config.models if m.drift is not None)
    promotion = "promotes on merge" if config.promotion.on_merge else "promotes on /promote only"
    if len(config.promotion.environments) > 1:
        path = " -> ".join(config.promotion.environments)
        promotion += f" to {config.promotion.environments[0]} ({path}" + (
            f", soak {config.promotion.soak})" if config.promotion.soak else ")"
        )
    drift_part = f"drift checks for {drift} model(s)" if drift else "no drift checks"
    return f"{models}, {gated} gated metric(s), {drift_part}, {promotion}"


def _template_problems(config: RepoConfig, config_path: Path) -> list[str]:
    """A repository card template must exist and compile, or every card would fall back or fail."""
    if not config.card_template:
        return []
    from jinja2 import TemplateSyntaxError
    from jinja2.sandbox import SandboxedEnvironment

    root = config_path.resolve().parent
    if root.name == ".github":
        root = root.parent  # the config sits in .github/; template paths are from the repository root
    template = root / config.card_template
    if not template.is_file():
        return [f"card_template: {config.card_template} does not exist in the repository"]
    try:
        SandboxedEnvironment().parse(template.read_text(encoding="utf-8"))
    except TemplateSyntaxError as exc:
        return [f"card_template: {config.card_template} line {exc.lineno}: {exc.message}"]
    return []


def run_schema(args: argparse.Namespace) -> int:
    print(json.dumps(config_schema(), indent=2, sort_keys=True))
    return 0
